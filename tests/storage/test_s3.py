"""The S3 backend against a real S3-speaking server on loopback (moto in server mode): a whole campaign
whose files (recipients CSV, batch chunks, captured messages) live in the bucket."""

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import free_port, run_jobs
from tests.helpers import campaign, create_campaign, create_template, csv_bytes

BUCKET = "emailplatform-test"


@pytest.fixture
def s3_runtime(runtime, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    runtime.settings.storage_backend = "s3"
    runtime.settings.s3_bucket = BUCKET
    runtime.settings.s3_endpoint_url = endpoint
    yield runtime
    server.stop()


def test_a_campaign_runs_with_its_files_in_s3(client, s3_runtime):
    template = create_template(client, "Hi {{ name }}", "<p>Hello {{ name }}</p>")
    upload = client.post("/api/v1/files/upload-url", json={"filename": "people.csv"}).json()
    assert upload["file_url"].startswith(f"s3://{BUCKET}/")
    content = csv_bytes(["email", "name"], [["ada@example.com", "Ada"], ["bob@example.com", "Bob"]])
    assert httpx.put(upload["upload_url"], content=content).status_code == 200  # straight to S3, presigned

    transaction_id = create_campaign(client, template["template_id"], upload["file_url"])["transaction_id"]
    run_jobs(s3_runtime)

    assert campaign(client, transaction_id)["status"] == "COMPLETED"  # captured: delivered at once
    s3 = s3_runtime.storage.backend.client
    stored = s3.list_objects_v2(Bucket=BUCKET, Prefix="tenants/")["Contents"]
    batch_keys = [item["Key"] for item in stored if item["Key"].endswith("/batches/000000.csv")]
    assert batch_keys
    for key in batch_keys:
        batch_file = s3.get_object(Bucket=BUCKET, Key=key)
        assert batch_file["ServerSideEncryption"] == "AES256"
        assert b"Ada" not in batch_file["Body"].read()  # the placeholder data is encrypted by the platform too
    outbox = client.get("/api/v1/outbox").json()["items"]
    assert sorted(item["to"] for item in outbox) == ["ada@example.com", "bob@example.com"]


def test_a_missing_or_oversized_s3_file_is_refused(client, s3_runtime):
    template = create_template(client, "Hi", "<p>Hello {{ name }}</p>")
    pending = client.post("/api/v1/files/upload-url", json={"filename": "later.csv"}).json()
    body = {
        "template_id": template["template_id"],
        "csv_file_url": pending["file_url"],
        "from": {"email": "a@example.com"},
    }
    response = client.post("/api/v1/email/campaigns", json=body)
    assert response.status_code == 422 and "nothing has been uploaded" in response.json()["error"]["message"]

    s3_runtime.settings.upload_max_bytes = 50
    httpx.put(pending["upload_url"], content=csv_bytes(["email", "name"], [["ada@example.com", "A" * 100]]))
    response = client.post("/api/v1/email/campaigns", json=body)
    assert response.status_code == 422 and "larger than" in response.json()["error"]["message"]
