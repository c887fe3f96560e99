"""The deliverability report, built by real servers: spamd's score, DNS records of the sending domain (DKIM verified
against the key DNS publishes), and links asked of an HTTP server."""

import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import free_port, run_jobs
from tests.domains.helpers import verified_domain
from tests.helpers import create_campaign, create_template, csv_bytes, upload_file

SENDER = {"email": "news@example.com", "name": "Example News"}
WORDS = " ".join(["Our autumn letter tells you what changed in the product this month and what comes next."] * 6)

pytestmark = pytest.mark.xdist_group("spamd")  # the deliverability tests share one spamd (it starts in seconds)


def findings(report: dict) -> dict[str, dict]:
    return {finding["check"]: finding for finding in report["findings"]}


def check_template(client, template_id: str, **body) -> dict:
    response = client.post(f"/api/v1/templates/{template_id}/check", json={"from": SENDER} | body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_well_made_message_from_a_verified_domain_passes_and_broken_links_are_named(client, dns_server, pages):
    verified_domain(client, dns_server, "example.com")
    dns_server.publish("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@example.com")
    html = (
        f"<p>Hello {{{{ first_name }}}},</p><p>{WORDS}</p>"
        f'<p><a href="{pages}/ok">read on</a>, <a href="{pages}/moved">the archive</a>, '
        f'<a href="{pages}/no-head">the shop</a>, <a href="{pages}/gone">an old page</a></p>'
    )
    template = create_template(client, "News for {{ first_name }}", html)

    report = check_template(client, template["template_id"], data={"first_name": "Ada", "email": "ada@example.org"})

    assert (report["subject"], report["from"], report["to"]) == ("News for Ada", "news@example.com", "ada@example.org")
    found = findings(report)
    assert found["dkim"]["severity"] == "pass" and "verifies" in found["dkim"]["message"]
    assert found["spf"]["severity"] == "info"  # allowed, but bounces go to the platform's bounce domain
    assert found["dmarc"]["severity"] == "pass" and "p=reject" in found["dmarc"]["message"]
    assert found["list_unsubscribe"]["severity"] == "pass"
    assert found["plain_text"]["severity"] == "pass"
    assert found["size"]["severity"] == "pass"
    assert found["images"]["severity"] == "pass"
    assert found["links"]["severity"] == "error"
    assert f"{pages}/gone: the server answers 404" in found["links"]["message"]
    assert "1 of 4 links" in found["links"]["message"]
    assert found["links"]["fix"]
    assert found["https_links"]["severity"] == "warning"  # the pages are served over plain http
    spam = report["spam"]
    assert spam["available"] is True and spam["threshold"] == 5.0, spam["error"]
    assert spam["score"] < 5.0 and found["spamassassin"]["severity"] in ("pass", "warning")
    assert all(rule["name"].isupper() and rule["description"] for rule in spam["rules"])
    assert report["verdict"] == "error"
    assert report["findings"][0]["severity"] == "error"  # the worst first


def test_an_unsigned_sender_without_records_is_told_what_to_publish(client, dns_server):
    template = create_template(client, "Hello", f"<p>{WORDS}</p>")
    found = findings(check_template(client, template["template_id"]))
    assert found["dkim"]["severity"] == "error" and "not DKIM-signed" in found["dkim"]["message"]
    assert "POST /api/v1/domains" in found["dkim"]["fix"]
    assert found["spf"]["severity"] == "warning" and "v=spf1 include:spf.platform.test ~all" in found["spf"]["fix"]
    assert found["dmarc"]["severity"] == "warning" and "_dmarc.example.com" in found["dmarc"]["fix"]


def test_dmarc_fails_when_the_dkim_key_is_not_the_published_one(client, dns_server):
    domain = verified_domain(client, dns_server, "example.com")
    dkim = next(record for record in domain["records"] if record["kind"] == "dkim")
    dns_server.publish(dkim["name"], "TXT", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong")
    dns_server.publish("_dmarc.example.com", "TXT", "v=DMARC1; p=none")
    template = create_template(client, "Hello", f"<p>{WORDS}</p>")
    found = findings(check_template(client, template["template_id"]))
    assert found["dkim"]["severity"] == "error"
    assert found["dmarc"]["severity"] == "error" and "DMARC will fail" in found["dmarc"]["message"]


def test_an_image_only_message_is_flagged_by_the_check_and_by_spamassassin(client, dns_server, pages):
    html = f'<a href="http://example.com/sale"><img src="{pages}/logo.png"></a><img src="{pages}/missing.png">'
    template = create_template(client, "SALE", html, text="SALE")
    report = check_template(client, template["template_id"])
    found = findings(report)
    assert found["images"]["severity"] == "error" and "next to no text" in found["images"]["message"]
    assert "2 images have no alt text" in found["images"]["message"]
    assert found["links"]["severity"] == "error" and f"{pages}/missing.png" in found["links"]["message"]
    assert found["https_links"]["severity"] == "warning"
    assert "http://example.com/sale" in found["https_links"]["message"]
    assert found["plain_text"]["severity"] == "pass"
    rules = {rule["name"] for rule in report["spam"]["rules"]}
    assert any(name.startswith(("HTML_IMAGE_ONLY", "HTML_SHORT_LINK_IMG")) for name in rules), rules


def test_html_past_102_kb_is_flagged_as_clipped_by_gmail(client, dns_server):
    template = create_template(client, "Hello", f"<p>{WORDS}</p><!-- {'x' * 110_000} -->")
    report = check_template(client, template["template_id"])
    size = findings(report)["size"]
    assert size["severity"] == "error" and "Gmail clips" in size["message"] and size["fix"]
    assert report["size_bytes"] > 102 * 1024


def test_links_to_internal_addresses_are_not_asked_and_are_reported(client, runtime, dns_server, pages):
    runtime.settings.webhook_allowed_hosts = []
    template = create_template(client, "Hello", f'<p>{WORDS}</p><p><a href="{pages}/ok">read on</a></p>')
    found = findings(check_template(client, template["template_id"]))
    assert found["links"]["severity"] == "error"
    assert "loopback address, which recipients cannot reach" in found["links"]["message"]


def test_each_redirect_is_checked_as_the_link_itself_is(client, dns_server, pages):
    template = create_template(client, "Hello", f'<p>{WORDS}</p><p><a href="{pages}/inward">read on</a></p>')
    found = findings(check_template(client, template["template_id"]))
    assert found["links"]["severity"] == "error"
    assert f"{pages}/inward: localhost resolves to a loopback address" in found["links"]["message"]


def test_without_spamd_the_report_says_so_plainly_and_checks_the_rest(client, runtime, dns_server):
    runtime.settings.spamd_address = f"127.0.0.1:{free_port()}"
    template = create_template(client, "Hello", f"<p>{WORDS}</p>")
    report = check_template(client, template["template_id"])
    found = findings(report)
    assert report["spam"]["available"] is False and "cannot be reached" in report["spam"]["error"]
    assert found["spamassassin"]["severity"] == "skipped"
    assert "SpamAssassin is not available" in found["spamassassin"]["message"]
    assert "apt-get install spamd" in found["spamassassin"]["fix"]
    assert found["size"]["severity"] == "pass"


def test_a_campaign_is_checked_as_its_first_good_row_gets_it(client, runtime, dns_server):
    template = create_template(client, "News for {{ first_name }}", f"<p>Hello {{{{ first_name }}}}, {WORDS}</p>")
    file = upload_file(client, csv_bytes(["email", "first_name"], [["bad", "Bob"], ["ada@example.org", "Ada"]]))
    send_at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    transaction_id = create_campaign(client, template["template_id"], file["file_url"], schedule={"send_at": send_at})[
        "transaction_id"
    ]
    run_jobs(runtime)

    response = client.post(f"/api/v1/email/campaigns/{transaction_id}/check")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["subject"], report["to"], report["row_number"]) == ("News for Ada", "ada@example.org", 3)

    draft = client.post(
        "/api/v1/email/campaigns/deliverability-check",
        json={
            "template_id": template["template_id"],
            "csv_file_url": file["file_url"],
            "from": SENDER,
        },
    )
    assert draft.status_code == 200, draft.text
    assert (draft.json()["subject"], draft.json()["from"]) == ("News for Ada", "news@example.com")


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/v1/templates/0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40/check", {}, 404, "template_id"),
        ("/api/v1/email/campaigns/0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40/check", None, 404, "transaction_id"),
        (
            "/api/v1/email/campaigns/deliverability-check",
            {"template_id": "0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40", "csv_file_url": "files/x/y.csv"},
            404,
            "template_id",
        ),
    ],
)
def test_checks_of_what_does_not_exist_name_the_field(client, path, body, status, field):
    response = client.post(path, json=body) if body is not None else client.post(path)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


def test_a_template_check_with_no_sender_anywhere_names_from(client):
    template = create_template(client, "Hello", "<p>Hello</p>")
    response = client.post(f"/api/v1/templates/{template['template_id']}/check", json={})
    assert response.status_code == 422 and response.json()["error"]["field"] == "from"


def test_a_silent_spamd_and_a_silent_link_are_waited_for_only_so_long(client, runtime, dns_server):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    port = silent.getsockname()[1]
    runtime.settings.spamd_address = f"127.0.0.1:{port}"
    runtime.settings.spamd_timeout_seconds = 1
    runtime.settings.link_check_timeout_seconds = 1
    template = create_template(client, "Hello", f'<p>{WORDS}</p><p><a href="http://127.0.0.1:{port}/">wait</a></p>')
    started = time.monotonic()
    try:
        report = check_template(client, template["template_id"])
    finally:
        silent.close()
    assert time.monotonic() - started < 10
    assert "did not answer within 1 seconds" in report["spam"]["error"]
    assert "did not answer within 1 s" in findings(report)["links"]["message"]
