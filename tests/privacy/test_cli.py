"""`emailplatform recipients export|erase` as an operator runs them, in real processes on the test's database and
data dir; they and the other commands that change things are in the audit log as the system user."""

import getpass
import json
import uuid

from tests.helpers import all_pages
from tests.privacy.helpers import files_mentioning
from tests.privacy.test_erasure import NAME, PERSON, ROWS, send
from tests.test_cli import cli_env, run_cli


def test_export_then_erase_from_the_command_line_recorded_as_the_system_user(
    client, runtime, tenant, database_url, tmp_path
):
    env = cli_env(tmp_path, database_url)
    assert runtime.settings.data_dir == tmp_path / "data"  # the commands see the same stored files
    send(client, runtime, ROWS, "capture")

    exported = run_cli(["recipients", "export", PERSON, "--tenant", tenant.name], env)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["messages"][0]["data"]["first_name"] == NAME
    erased = run_cli(["recipients", "erase", PERSON.upper(), "--tenant", tenant.name], env)
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout) | {"events": 0, "webhook_deliveries": 0} == {
        "messages": 1,
        "events": 0,
        "webhook_deliveries": 0,
        "captured_messages": 1,
        "batch_rows": 1,
        "source_file_rows": 1,
        "row_errors": 0,
        "suppression_kept_as_hash": True,
    }
    assert files_mentioning(runtime.settings.data_dir, [PERSON, NAME]) == []

    (entry,) = all_pages(client, "/api/v1/audit", action="erase_recipient")
    assert entry["actor_type"] == "cli" and entry["actor_id"] == getpass.getuser() and entry["route"] is None
    assert entry["details"]["erased"]["messages"] == 1 and PERSON not in json.dumps(entry)

    for bad in (
        ["recipients", "erase", "not-an-address", "--tenant", tenant.name],
        ["recipients", "export", PERSON, "--tenant", "no-such-tenant"],
    ):
        refused = run_cli(bad, env)
        assert refused.returncode == 1 and refused.stdout == "", refused.stderr
    assert len(all_pages(client, "/api/v1/audit", action="erase_recipient")) == 1


def test_creating_a_tenant_its_key_and_its_user_on_the_command_line_is_in_its_audit_log(
    client, runtime, database_url, tmp_path
):
    env = cli_env(tmp_path, database_url)
    name = f"cli-{uuid.uuid4().hex[:8]}"
    tenant_id = run_cli(["tenants", "create", name], env).stdout.strip()
    key = run_cli(["api-keys", "create", "--tenant", name], env).stdout.strip().splitlines()[-1]
    user = ["--email", "op@example.com", "--password", "long enough pw"]
    made = run_cli(["users", "create", "--tenant", name, *user], env)
    assert made.returncode == 0, made.stderr

    log = client.get("/api/v1/audit", headers={"X-API-Key": key}).json()["items"]
    assert [(e["action"], e["object_type"]) for e in log] == [
        ("create_user", "users"),
        ("create_api_key", "api-keys"),
        ("create_tenant", "tenants"),
    ]
    assert log[-1]["object_id"] == tenant_id and {e["actor_type"] for e in log} == {"cli"}
