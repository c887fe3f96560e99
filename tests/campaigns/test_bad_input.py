"""Every bad input gets a 4xx naming the field and the reason, and changes nothing."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from tests.conftest import PUBLIC_URL, new_tenant, run_jobs
from tests.helpers import all_pages, create_campaign, create_template, csv_bytes, upload_file

HTML = "<p>Hello {{ first_name }}</p>"
# UTF-8 for longer than the sample the encoding is told from, then a Windows-1252 byte on line 2502
UNCLOSED_QUOTE = b'email,first_name\nada@example.com,"Ada\n' + b"x" * 200_000 + b"\n"  # a quote never closed
LATE_UNCLOSED_QUOTE = (
    b"email,first_name\n"
    + b"".join(b"user%05d@example.com,Name\n" % i for i in range(1500))
    + UNCLOSED_QUOTE.split(b"\n", 1)[1]
)
LATE_BAD_BYTE = (
    "email,first_name\n"
    + "".join(f"user{i:05d}@example.com,Name{i:05d}\n" for i in range(2500))
    + "zoe@example.com,Zoë\n"
).encode("cp1252")


@pytest.fixture
def template_id(client):
    return create_template(client, "Hi", HTML)["template_id"]


def campaign_body(template_id, file_url, **extra):
    return {"template_id": template_id, "csv_file_url": file_url, "from": {"email": "x@example.com"}} | extra


def assert_refused(client, body, status, field, reason_part):
    response = client.post("/api/v1/email/campaigns", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert reason_part in error["message"]
    assert all_pages(client, "/api/v1/email/campaigns") == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"name,first_name\nAda,Ada\n", "no 'email' column"),
        (b"email\nada@example.com\n", "needs columns the file does not have: first_name"),
        (b"email,first_name\n", "no recipient rows"),
        (b"\n\n", "empty"),
        (
            LATE_BAD_BYTE,
            "line 2502 cannot be read (byte 80035 of the file, b'\\xeb'); save it from your spreadsheet as \"CSV "
            'UTF-8"',
        ),
        (UNCLOSED_QUOTE, "cannot be read as CSV from line 2: field larger than field limit"),
        (LATE_UNCLOSED_QUOTE, "cannot be read as CSV from line 1502: field larger than field limit"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Excel 97-2003 workbook (.xls)"),
        (b"PK\x03\x04" + bytes(100), "not a readable .xlsx workbook"),
        (b"Email,E-Mail,first_name\nada@example.com,ada@example.org,Ada\n", "both look like the address column"),
        (b"email,first_name,email\na@example.com,A,b@example.com\n", "names a column twice"),
    ],
)
def test_a_file_that_is_not_a_recipients_csv_is_refused(client, template_id, content, reason):
    file = upload_file(client, content)
    assert_refused(client, campaign_body(template_id, file["file_url"]), 422, "csv_file_url", reason)


def test_a_file_not_uploaded_yet_or_unknown_is_refused(client, template_id):
    pending = client.post("/api/v1/files/upload-url", json={"filename": "r.csv"}).json()
    assert_refused(
        client, campaign_body(template_id, pending["file_url"]), 422, "csv_file_url", "nothing has been uploaded"
    )
    assert_refused(client, campaign_body(template_id, "local://files/elsewhere.csv"), 404, "csv_file_url", "no file")


def test_unknown_template_and_bad_fields(client, template_id):
    file = upload_file(client, csv_bytes(["email", "first_name"], [["a@example.com", "A"]]))
    url = file["file_url"]
    assert_refused(client, campaign_body(str(uuid.uuid4()), url), 404, "template_id", "no such template")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert_refused(client, campaign_body(template_id, url, schedule={"send_at": past}), 422, "schedule.send_at", "past")
    assert_refused(
        client,
        campaign_body(template_id, url, schedule={"send_at": "2030-01-01T10:00:00"}),
        422,
        "schedule.send_at",
        "timezone",
    )
    assert_refused(client, campaign_body(template_id, url, batch_size=5001), 422, "batch_size", "5000")
    assert_refused(client, campaign_body(template_id, url) | {"from": {"email": "nope"}}, 422, "from.email", "email")
    assert_refused(client, {"csv_file_url": url, "from": {"email": "a@example.com"}}, 422, "template_id", "required")
    response = client.post(
        "/api/v1/email/campaigns", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


def test_upload_urls_are_signed_expiring_and_capped(client, runtime):
    upload = client.post("/api/v1/files/upload-url", json={"filename": "r.csv"}).json()
    tampered = upload["upload_url"][:-3] + ("abc" if not upload["upload_url"].endswith("abc") else "xyz")
    response = client.put(tampered, content=b"email\na@example.com\n")
    assert response.status_code == 403 and response.json()["error"]["field"] == "upload_url"

    runtime.settings.upload_url_ttl_seconds = -1  # an URL that expired the moment it was made
    expired = client.post("/api/v1/files/upload-url", json={"filename": "r.csv"}).json()
    response = client.put(expired["upload_url"], content=b"email\na@example.com\n")
    assert response.status_code == 403 and "expired" in response.json()["error"]["message"]

    runtime.settings.upload_url_ttl_seconds = 60
    runtime.settings.upload_max_bytes = 100
    capped = client.post("/api/v1/files/upload-url", json={"filename": "r.csv"}).json()
    response = client.put(capped["upload_url"], content=b"email\n" + b"a@example.com\n" * 20)
    assert response.status_code == 413 and response.json()["error"]["field"] == "file"
    assert runtime.storage.size(capped["file_url"].removeprefix("local://files/")) is None


def test_api_key_is_required_and_revocable(client, runtime):
    anonymous = TestClient(create_app(runtime), base_url=PUBLIC_URL)
    response = anonymous.get("/api/v1/email/campaigns")
    assert response.status_code == 401 and response.json()["error"]["field"] == "X-API-Key"
    response = anonymous.get("/api/v1/email/campaigns", headers={"X-API-Key": "ep_made_up"})
    assert response.status_code == 401

    created = client.post("/api/v1/api-keys", json={"name": "ci"}).json()
    assert anonymous.get("/api/v1/email/campaigns", headers={"X-API-Key": created["key"]}).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{created['id']}").json()["revoked_at"]
    assert anonymous.get("/api/v1/email/campaigns", headers={"X-API-Key": created["key"]}).status_code == 401


def test_another_tenant_sees_nothing(client, runtime, template_id):
    file = upload_file(client, csv_bytes(["email", "first_name"], [["a@example.com", "A"]]))
    transaction_id = create_campaign(client, template_id, file["file_url"])["transaction_id"]
    other = TestClient(create_app(runtime), base_url=PUBLIC_URL, headers={"X-API-Key": new_tenant(runtime).api_key})
    for path in ("", "/batches", "/messages", "/errors"):
        response = other.get(f"/api/v1/email/campaigns/{transaction_id}{path}")
        assert response.status_code == 404 and response.json()["error"]["field"] == "transaction_id"
    assert other.post(f"/api/v1/email/campaigns/{transaction_id}/cancel").status_code == 404
    assert other.get("/api/v1/email/campaigns").json()["items"] == []
    stolen = other.post("/api/v1/email/campaigns", json=campaign_body(template_id, file["file_url"]))
    assert stolen.status_code == 404
    own_template = create_template(other, "Hi", HTML)["template_id"]
    stolen = other.post("/api/v1/email/campaigns", json=campaign_body(own_template, file["file_url"]))
    assert stolen.status_code == 404 and stolen.json()["error"]["field"] == "csv_file_url"


def test_an_unverified_sender_domain_is_refused_unless_the_deployment_allows_it(client, runtime, template_id):
    file = upload_file(client, csv_bytes(["email", "first_name"], [["a@example.com", "A"]]))
    runtime.settings.allow_unverified_domains = False
    assert_refused(client, campaign_body(template_id, file["file_url"]), 422, "from.email", "POST /api/v1/domains")

    runtime.settings.allow_unverified_domains = None  # the default: allowed on the embedded SQLite deployment only
    response = client.post("/api/v1/email/campaigns", json=campaign_body(template_id, file["file_url"]))
    if runtime.settings.is_sqlite:
        assert response.status_code == 202
        assert "example.com" in response.json()["warnings"][0]
    else:
        assert response.status_code == 422 and response.json()["error"]["field"] == "from.email"


def test_a_file_past_the_column_limit_is_refused_naming_it(client, template_id):
    header = ["email", "first_name", *(f"col{i:05d}" for i in range(40_000))]
    file_url = upload_file(client, csv_bytes(header, [["ada@example.com", "Ada", *[""] * 40_000]]))["file_url"]
    for path in ("/api/v1/email/campaigns/check", "/api/v1/email/campaigns"):
        body = campaign_body(template_id, file_url)
        if path.endswith("check"):
            body.pop("from")
        response = client.post(path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "csv_file_url"
        assert "the file has 40002 columns; at most 1000 are allowed" in response.json()["error"]["message"]
    assert all_pages(client, "/api/v1/email/campaigns") == []


LONG_FIELD_LATE = (
    "email,first_name\n"
    + "".join(f"user{i:05d}@example.com,Name{i}\n" for i in range(1200))
    + "long@example.com,"
    + "x" * 200_000
    + "\nlast@example.com,Last\n"
).encode()


def test_a_value_past_the_field_limit_is_a_bad_row_and_the_campaign_still_sends(client, runtime, template_id):
    file_url = upload_file(client, LONG_FIELD_LATE)["file_url"]
    check = client.post("/api/v1/email/campaigns/check", json={"template_id": template_id, "csv_file_url": file_url})
    assert check.status_code == 200, check.text
    assert (check.json()["total_messages"], check.json()["invalid_rows"]) == (1201, 1)

    transaction_id = create_campaign(client, template_id, file_url)["transaction_id"]
    run_jobs(runtime)
    found = client.get(f"/api/v1/email/campaigns/{transaction_id}").json()
    assert found["status"] in ("SENT", "COMPLETED")
    assert (found["total_messages"], found["invalid_rows"]) == (1201, 1)
    errors = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/errors")
    assert [(e["row_number"], e["email"]) for e in errors] == [(1202, "long@example.com")]
    assert errors[0]["reason"] == "the 'first_name' value has 200000 characters; at most 131072 are allowed"


@pytest.mark.parametrize("version", [2**31, 2**63, 10**30])
def test_a_template_version_past_any_stored_one_is_refused_naming_it(client, template_id, version):
    file_url = upload_file(client, csv_bytes(["email", "first_name"], [["ada@example.com", "Ada"]]))["file_url"]
    for path, body in (
        ("/api/v1/email/campaigns", campaign_body(template_id, file_url, template_version=version)),
        (
            "/api/v1/email/campaigns/check",
            {"template_id": template_id, "csv_file_url": file_url, "template_version": version},
        ),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "template_version"
        assert "less than or equal to 2147483647" in response.json()["error"]["message"]
    assert all_pages(client, "/api/v1/email/campaigns") == []
