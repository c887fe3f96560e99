"""Data keys wrapped by AWS KMS (a KMS-speaking server on loopback: moto in server mode): the files and secrets
of a campaign are under the KMS key and read back through it, and `emailplatform keys rotate` moves what the
settings' master keys wrapped under KMS, after which no master key is needed."""

import io
import json
import re
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from emailplatform.assembly import build_runtime
from emailplatform.crypto import envelope
from emailplatform.crypto.kms import KmsUnavailable, kms_key_tag
from emailplatform.crypto.master_keys import new_key_text
from tests.conftest import free_port, make_settings
from tests.encryption.test_at_rest import (  # noqa: F401 (own_database_url: a fixture)
    client_of,
    outbox_messages,
    own_database_url,
    secret_columns,
    send_campaign,
    stored_files,
)
from tests.test_cli import cli_env, run_cli

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture
def kms(monkeypatch):
    """(endpoint, the new KMS key's ARN, its alias); moto's keys outlive its servers, so each alias is new."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("kms", endpoint_url=endpoint, region_name="eu-west-1")
    arn = client.create_key(Description="emailplatform tests")["KeyMetadata"]["Arn"]
    alias = f"alias/emailplatform-{uuid.uuid4().hex[:8]}"
    client.create_alias(AliasName=alias, TargetKeyId=arn)
    yield endpoint, arn, alias
    server.stop()


def kms_settings(database_url, data_dir, kms, **extra):
    endpoint, _, alias = kms
    return make_settings(
        database_url,
        data_dir,
        kms_key_id=alias,
        kms_region="eu-west-1",
        kms_endpoint_url=endpoint,
        **extra,
    )


def test_a_campaign_under_a_kms_key_is_stored_under_it_and_reads_through_it(database_url, tmp_path, kms):
    arn = kms[1]
    runtime = build_runtime(kms_settings(database_url, tmp_path / "data", kms, master_keys=[]))
    client, tenant = send_campaign(runtime)

    files = stored_files(runtime)
    assert files and all(envelope.sealed_with(io.BytesIO(data)) == kms_key_tag(arn) for data in files.values())
    assert all(b"Lovelace" not in data for data in files.values())
    assert all(value.startswith("enc1:") for value in secret_columns(runtime, tenant))
    assert any("Ada Lovelace" in message for message in outbox_messages(client))
    assert client.get("/api/v1/domains").json()[0]["records"], "the DKIM key unwraps through KMS"
    assert not (tmp_path / "data" / "master_key").exists(), "no master key is made where KMS holds it"
    runtime.close()


def test_a_kms_key_that_does_not_exist_is_refused_at_start_with_its_name(database_url, tmp_path, kms):
    settings = kms_settings(database_url, tmp_path / "data", kms)
    settings.kms_key_id = "alias/nobody"
    with pytest.raises(KmsUnavailable, match="alias/nobody"):
        _ = build_runtime(settings).master_keys


def test_rotation_moves_what_the_master_key_wrapped_under_kms(own_database_url, tmp_path, kms):  # noqa: F811
    endpoint, arn, alias = kms
    old = new_key_text()
    data_dir = tmp_path / "data"
    before = build_runtime(make_settings(own_database_url, data_dir, master_keys=[old]))
    _, tenant = send_campaign(before)
    before.close()

    env = cli_env(
        tmp_path,
        own_database_url,
        EMAILPLATFORM_MASTER_KEYS=json.dumps([old]),
        EMAILPLATFORM_KMS_KEY_ID=alias,
        EMAILPLATFORM_KMS_REGION="eu-west-1",
        EMAILPLATFORM_KMS_ENDPOINT_URL=endpoint,
        **CREDENTIALS,
    )
    result = run_cli(["keys", "rotate"], env)
    assert result.returncode == 0, result.stderr
    files, secrets = re.findall(
        r"(\w+): (\d+) rewrapped, \d+ encrypted, \d+ already current, (\d+) under", result.stderr
    )
    assert files[0] == "Files" and int(files[1]) > 0 and files[2] == "0"
    # its DKIM key, and a callback secret with the one it replaced
    assert secrets[0] == "Secrets" and int(secrets[1]) == 3 and secrets[2] == "0"

    after = build_runtime(kms_settings(own_database_url, data_dir, kms, master_keys=[]))  # no master key
    for name, data in stored_files(after).items():
        assert envelope.sealed_with(io.BytesIO(data)) == kms_key_tag(arn), f"{name} is not under the KMS key"
    client = client_of(after, tenant)
    assert any("Ada Lovelace" in message for message in outbox_messages(client))
    assert client.get("/api/v1/domains").json()[0]["records"]
    after.close()


def test_the_embedded_defaults_own_master_key_still_reads_once_kms_is_set(database_url, tmp_path, kms):
    data_dir = tmp_path / "data"
    before = build_runtime(make_settings(database_url, data_dir, master_keys=[]))  # the key made in the data dir
    client, tenant = send_campaign(before)
    before.close()
    assert (data_dir / "master_key").exists()
    after = build_runtime(kms_settings(database_url, data_dir, kms, master_keys=[]))
    assert any("Ada Lovelace" in message for message in outbox_messages(client_of(after, tenant)))
    after.close()


def test_while_kms_cannot_be_reached_a_write_that_needs_it_answers_503(database_url, tmp_path, kms):
    runtime = build_runtime(kms_settings(database_url, tmp_path / "data", kms, master_keys=[]))
    client, _ = send_campaign(runtime)
    runtime.master_keys.client = boto3.client(
        "kms", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="eu-west-1"
    )
    answer = client.post("/api/v1/webhooks/callback-secret/rotate")
    assert answer.status_code == 503 and answer.json()["error"]["field"] == "kms", answer.text
    assert answer.headers["Retry-After"] == "5"
    runtime.close()
