"""Backups as an operator takes them: `emailplatform backup` of a running embedded server and `restore` into a new
data dir; and the README's pg_dump / pg_restore recipe for PostgreSQL. Either way the campaign, its messages and
their files are there afterwards."""

import subprocess
import tarfile
import threading
import uuid
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from tests.conftest import POSTGRES_URL, PUBLIC_URL, free_port, make_settings, run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.test_cli import EMAILPLATFORM, cli_env, run_cli
from tests.test_install import wait_for

PEOPLE = [["ada@example.com", "Ada"], ["grace@example.com", "Grace"], ["alan@example.com", "Alan"]]
SENT = {"SENT", "COMPLETED"}


@contextmanager
def serving(tmp_path, env):
    port = free_port()
    env = env | {"EMAILPLATFORM_INBOUND_PORT": str(free_port())}
    log = (tmp_path / f"serve-{port}.log").open("w")
    server = subprocess.Popen(
        EMAILPLATFORM + ["serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        yield server, base
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def send_a_campaign(client) -> str:
    template = create_template(
        client, "Hello {{ name }}", "<p>Dear {{ name }}, <a href='https://example.com/'>news</a></p>"
    )
    uploaded = upload_file(client, csv_bytes(["email", "name"], PEOPLE))
    return create_campaign(client, template["template_id"], uploaded["file_url"])["transaction_id"]


def what_the_operator_checks(client, transaction_id: str) -> dict:
    """The campaign, its messages, and each message's captured file (read back from storage)."""
    messages = sorted(all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages"), key=lambda m: m["email"])
    files = {}
    for message in messages:
        raw = client.get(f"/api/v1/outbox/{message['message_id']}.eml")
        assert raw.status_code == 200, raw.text
        files[message["email"]] = raw.content
    found = campaign(client, transaction_id)
    # statuses may still move on (a later outcome, completion), so what a backup must keep is what was made
    return {
        "campaign": {
            k: found[k] for k in ("transaction_id", "template_id", "csv_file_url", "total_messages", "created_at")
        },
        "status": found["status"],
        "messages": [(m["message_id"], m["email"], m["row_number"]) for m in messages],
        "files": files,
    }


def wait_until_sent(client, transaction_id: str) -> None:
    for _ in range(600):
        if campaign(client, transaction_id)["status"] in SENT:
            return
        threading.Event().wait(0.1)
    pytest.fail(f"the campaign did not send: {campaign(client, transaction_id)}")


def test_backup_of_a_running_server_restores_into_a_new_data_dir(tmp_path):
    old_env = cli_env(tmp_path / "old", "")
    archive = tmp_path / "backup.tar.gz"
    with serving(tmp_path, old_env) as (server, base):
        api_key = server.stdout.readline().strip()
        with httpx.Client(base_url=base, headers={"X-API-Key": api_key}) as client:
            transaction_id = send_a_campaign(client)
            wait_until_sent(client, transaction_id)
            before = what_the_operator_checks(client, transaction_id)

            writes, stop = [], threading.Event()

            def keep_writing():  # the server goes on taking writes while it is backed up
                with httpx.Client(base_url=base, headers={"X-API-Key": api_key}) as writer:
                    while not stop.is_set():
                        writes.append(
                            writer.post(
                                "/api/v1/templates", json={"name": "during", "subject": "s", "html": "<p>x</p>"}
                            ).status_code
                        )

            writer = threading.Thread(target=keep_writing)
            writer.start()
            try:
                result = run_cli(["backup", str(archive)], old_env)
            finally:
                stop.set()
                writer.join(30)
        assert result.returncode == 0, result.stderr
        assert "Backed up to" in result.stderr and " files (" in result.stderr
        assert set(writes) <= {201}, "a backup never makes the running server fail a write"
    assert [m[1] for m in before["messages"]] == sorted(p[0] for p in PEOPLE)
    assert before["status"] in SENT and b"Dear Ada" in before["files"]["ada@example.com"]
    assert {"manifest.json", "emailplatform.db", "secret_key"} <= set(tarfile.open(archive).getnames())

    new_env = cli_env(tmp_path / "new", "")
    restored = run_cli(["restore", str(archive)], new_env)
    assert restored.returncode == 0, restored.stderr
    assert (tmp_path / "new/data/secret_key").read_text() == (tmp_path / "old/data/secret_key").read_text()
    with serving(tmp_path, new_env) as (_, base), httpx.Client(base_url=base, headers={"X-API-Key": api_key}) as client:
        after = what_the_operator_checks(client, transaction_id)
    assert after | {"status": None} == before | {"status": None} and after["status"] in SENT

    again = run_cli(["restore", str(archive)], new_env)
    assert again.returncode == 1 and "exists" in again.stderr, "a restore never overwrites a database"


def test_restore_refuses_what_is_not_a_backup(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as archive:
        archive.add(__file__, "../../etc/evil")
    result = run_cli(["restore", str(bogus)], cli_env(tmp_path, ""))
    said = " ".join(result.stderr.split())  # the console wraps the message at its width, around the long path
    assert result.returncode == 1 and "not an emailplatform backup" in said
    assert not (tmp_path / "data").exists()


def test_backup_of_postgresql_points_to_pg_dump(tmp_path):
    result = run_cli(["backup", str(tmp_path / "b.tar.gz")], cli_env(tmp_path, POSTGRES_URL))
    assert result.returncode == 1 and "pg_dump" in result.stderr


@pytest.fixture
def postgres_database():
    """A database of its own on the real server, dropped afterwards (a name for each, made by the test)."""
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    names = []

    def create() -> str:
        name = f"emailplatform_backup_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name

    yield create
    for name in names:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def test_pg_dump_and_pg_restore_of_a_deployment_keep_its_campaign(tmp_path, postgres_database):
    """The README's recipe: `pg_dump -Fc` of the live database, `pg_restore` into a new one."""
    from emailplatform.migrations import upgrade

    source_url, data_dir = postgres_database(), tmp_path / "data"
    upgrade(make_settings(source_url, data_dir).resolved_database_url)
    with app_client(source_url, data_dir) as (client, runtime):
        transaction_id = send_a_campaign(client)
        run_jobs(runtime)
        before = what_the_operator_checks(client, transaction_id)

        dump = tmp_path / "emailplatform.dump"
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", source_url], check=True, timeout=120)
    target_url = postgres_database()
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target_url}", str(dump)], check=True, timeout=120
    )

    with app_client(target_url, data_dir, api_key=client.headers["X-API-Key"]) as (restored, _):
        after = what_the_operator_checks(restored, transaction_id)
    assert before["status"] in SENT and len(before["messages"]) == 3
    assert after == before


@contextmanager
def app_client(database_url: str, data_dir, api_key: str | None = None):
    from emailplatform.tenants import service as tenant_service

    runtime = build_runtime(make_settings(database_url, data_dir))
    if api_key is None:
        with runtime.db.session() as session:
            tenant = tenant_service.create_tenant(session, "backed-up")
            _, api_key = tenant_service.create_api_key(session, tenant.id)
    try:
        with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
            client.headers["X-API-Key"] = api_key
            yield client, runtime
    finally:
        runtime.close()
