"""Encryption at rest, as an operator would check it: after a campaign, no stored file and no secret column holds
personal data or a key in the clear, yet everything reads; `emailplatform keys rotate` moves everything to a new
master key (and encrypts what was stored before encryption was on), after which the old key can go."""

import io
import json
import re
import shutil
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Text, select, type_coerce

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.crypto import envelope
from emailplatform.crypto.master_keys import decode_key, key_id, new_key_text
from emailplatform.models import CallbackSecret, SendingDomain
from emailplatform.runtime import Runtime
from tests.conftest import POSTGRES_URL, PUBLIC_URL, TenantKey, make_settings, new_tenant, run_jobs
from tests.helpers import campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.test_cli import cli_env, run_cli

PEOPLE = [["ada@example.com", "Ada Lovelace"], ["grace@example.com", "Grace Hopper"]]


def client_of(runtime: Runtime, tenant: TenantKey) -> TestClient:
    return TestClient(create_app(runtime), base_url=PUBLIC_URL, headers={"X-API-Key": tenant.api_key})


def send_campaign(runtime: Runtime) -> tuple[TestClient, TenantKey]:
    tenant = new_tenant(runtime)
    client = client_of(runtime, tenant)
    template = create_template(client, "Hi {{ name }}", "<p>Hello {{ name }}</p>")
    upload = upload_file(client, csv_bytes(["email", "name"], PEOPLE))
    transaction_id = create_campaign(client, template["template_id"], upload["file_url"])["transaction_id"]
    run_jobs(runtime)
    assert campaign(client, transaction_id)["status"] == "COMPLETED"
    assert client.post("/api/v1/webhooks/callback-secret/rotate").status_code == 200
    assert client.post("/api/v1/domains", json={"name": "example.com"}).status_code == 201
    return client, tenant


def stored_files(runtime: Runtime) -> dict[str, bytes]:
    root = runtime.settings.data_dir / "files"
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def secret_columns(runtime: Runtime, tenant: TenantKey) -> list[str]:
    """The secret columns as stored, not as the ORM opens them."""
    with runtime.db.session() as session:
        return [
            value
            for column, owner in [
                (SendingDomain.dkim_private_key, SendingDomain.tenant_id),
                (CallbackSecret.secret, CallbackSecret.tenant_id),
            ]
            for value in session.scalars(select(type_coerce(column, Text)).where(owner == tenant.tenant_id))
        ]


def outbox_messages(client: TestClient) -> list[str]:
    items = client.get("/api/v1/outbox").json()["items"]
    return [client.get(f"/api/v1/outbox/{item['message_id']}.eml").text for item in items]


def test_no_file_or_secret_is_stored_in_the_clear_and_everything_reads(database_url, tmp_path):
    runtime = build_runtime(make_settings(database_url, tmp_path / "data"))
    client, tenant = send_campaign(runtime)

    files = stored_files(runtime)
    assert any("/batches/" in name for name in files) and any(name.endswith(".eml") for name in files)
    for name, data in files.items():
        assert data.startswith(envelope.MAGIC), f"{name} is stored in the clear"
        assert b"Lovelace" not in data and b"ada@example.com" not in data

    secrets = secret_columns(runtime, tenant)
    assert len(secrets) == 2 and all(value.startswith("enc1:") for value in secrets)
    assert not any("PRIVATE KEY" in value or "whsec_" in value for value in secrets)

    messages = outbox_messages(client)
    assert len(messages) == 2 and any("Ada Lovelace" in message for message in messages)
    domain = client.get("/api/v1/domains").json()[0]
    assert domain["records"], "the DKIM key reads back to publish its record"
    runtime.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(request, tmp_path):
    """A database of this test alone: a rotation reads every tenant's secrets, and other tests' are under their
    own keys."""
    if request.param == "sqlite":
        path = tmp_path / "own.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin, template = request.getfixturevalue("postgres_admin"), request.getfixturevalue("postgres_template")
    name = f"emailplatform_rotation_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_rotation_moves_everything_to_the_new_key_and_encrypts_what_was_in_the_clear(own_database_url, tmp_path):
    database_url = own_database_url
    old, new = new_key_text(), new_key_text()
    data_dir = tmp_path / "data"
    clear = build_runtime(make_settings(database_url, data_dir, encrypt_at_rest=False))
    _, clear_tenant = send_campaign(clear)
    clear.close()
    assert not any(value.startswith("enc1:") for value in secret_columns(clear, clear_tenant))
    before = build_runtime(make_settings(database_url, data_dir, master_keys=[old]))
    _, sealed_tenant = send_campaign(before)
    before.close()

    env = cli_env(tmp_path, database_url, EMAILPLATFORM_MASTER_KEYS=json.dumps([new, old]))
    result = run_cli(["keys", "rotate"], env)
    assert result.returncode == 0, result.stderr
    files, secrets = re.findall(
        r"(\w+): (\d+) rewrapped, (\d+) encrypted, (\d+) already current, (\d+) under", result.stderr
    )
    assert files[0] == "Files" and int(files[1]) > 0 and int(files[2]) > 0 and files[4] == "0"
    # each tenant: a DKIM key, and a callback secret with the one it replaced
    assert secrets[0] == "Secrets" and secrets[1:] == ("3", "3", "0", "0")

    after = build_runtime(make_settings(database_url, data_dir, master_keys=[new]))  # the old key is gone
    new_id = key_id(decode_key(new, "the new key"))
    for name, data in stored_files(after).items():
        assert envelope.sealed_with(io.BytesIO(data)) == new_id, f"{name} is not under the new key"
    for tenant in (clear_tenant, sealed_tenant):
        assert all(value.startswith("enc1:") for value in secret_columns(after, tenant))
        client = client_of(after, tenant)
        assert any("Ada Lovelace" in message for message in outbox_messages(client))
        assert client.get("/api/v1/domains").json()[0]["records"]
    after.close()
