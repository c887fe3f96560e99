import base64
import re
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from tests.conftest import PUBLIC_URL, new_tenant
from tests.domains.conftest import BOUNCE_DOMAIN, SPF_INCLUDE
from tests.domains.helpers import by_kind, publish, register, verify


def test_registering_a_domain_answers_the_records_to_publish(client):
    domain = register(client, "Example.COM.")

    assert domain["name"] == "example.com"
    assert re.fullmatch(r"ep\d{6}", domain["dkim_selector"])
    assert domain["verified"] is False and domain["verified_at"] is None
    records = by_kind(domain)
    dkim = records["dkim"]
    assert (dkim["type"], dkim["name"]) == ("TXT", f"{domain['dkim_selector']}._domainkey.example.com")
    assert dkim["value"].startswith("v=DKIM1; k=rsa; p=")
    public_key = load_der_public_key(base64.b64decode(dkim["value"].split("p=")[1]))
    assert public_key.key_size == 2048
    assert (records["spf"]["name"], records["spf"]["value"]) == ("example.com", f"v=spf1 include:{SPF_INCLUDE} ~all")
    assert records["dmarc"]["name"] == "_dmarc.example.com"
    assert records["dmarc"]["value"] == "v=DMARC1; p=none; rua=mailto:dmarc@example.com"
    assert (records["return_path"]["type"], records["return_path"]["name"], records["return_path"]["value"]) == (
        "CNAME",
        "bounces.example.com",
        BOUNCE_DOMAIN,
    )
    assert [r["required"] for r in domain["records"]] == [True, True, False, False]
    assert {r["status"] for r in domain["records"]} == {"pending"}


def test_an_international_domain_is_kept_in_its_ascii_form(client):
    domain = register(client, "Bücher.example")

    assert domain["name"] == "xn--bcher-kva.example"
    assert domain["unicode_name"] == "bücher.example"
    assert by_kind(domain)["dkim"]["name"].endswith("._domainkey.xn--bcher-kva.example")


def test_verify_says_what_is_missing_until_the_records_are_published(client, dns_server):
    domain = register(client)
    records = by_kind(domain)

    checked = verify(client, domain)
    assert checked["verified"] is False
    assert {r["kind"]: r["status"] for r in checked["records"]} == {
        "dkim": "missing",
        "spf": "missing",
        "dmarc": "missing",
        "return_path": "missing",
    }
    assert records["dkim"]["name"] in checked["problems"][0]
    assert checked["last_checked_at"] is not None

    publish(dns_server, records["dkim"])
    dns_server.publish("example.com", "TXT", "v=spf1 include:other-provider.test ~all", "google-site-verification=x")
    checked = verify(client, domain)
    found = by_kind(checked)
    assert checked["verified"] is False
    assert found["dkim"]["status"] == "verified"
    assert found["spf"]["status"] == "mismatch"
    assert sorted(found["spf"]["found"]) == ["google-site-verification=x", "v=spf1 include:other-provider.test ~all"]
    assert f"include:{SPF_INCLUDE}" in found["spf"]["message"]

    dns_server.publish("example.com", "TXT", f"v=spf1 include:other-provider.test include:{SPF_INCLUDE} ~all")
    checked = verify(client, domain)
    assert checked["verified"] is True and checked["verified_at"] is not None
    assert by_kind(checked)["dmarc"]["status"] == "missing"  # recommended, not required
    assert client.get(f"/api/v1/domains/{domain['id']}").json()["verified"] is True

    publish(dns_server, records["dmarc"])
    publish(dns_server, records["return_path"])
    checked = verify(client, domain)
    assert {r["status"] for r in checked["records"]} == {"verified"}
    assert checked["problems"] == []


def test_a_dkim_record_with_another_key_does_not_verify(client, dns_server):
    domain = register(client)
    records = by_kind(domain)
    publish(dns_server, records["spf"])
    dns_server.publish(records["dkim"]["name"], "TXT", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")

    checked = verify(client, domain)

    assert checked["verified"] is False
    assert by_kind(checked)["dkim"]["status"] == "mismatch"


def test_a_domain_whose_records_go_away_is_no_longer_verified_but_a_dns_failure_changes_nothing(client, dns_server):
    domain = register(client)
    records = by_kind(domain)
    publish(dns_server, records["dkim"])
    publish(dns_server, records["spf"])
    assert verify(client, domain)["verified"] is True

    dns_server.failing.add(records["dkim"]["name"])
    checked = verify(client, domain)
    assert checked["verified"] is True
    assert by_kind(checked)["dkim"]["status"] == "unreachable"

    dns_server.failing.clear()
    dns_server.remove(records["dkim"]["name"], "TXT")
    checked = verify(client, domain)
    assert checked["verified"] is False
    assert by_kind(checked)["dkim"]["status"] == "missing"


def test_other_changes_go_on_while_dns_is_asked(client, dns_server, runtime, tenant):
    runtime.settings.dns_timeout_seconds = 60  # the question waits for the test, however slow the machine
    domain = register(client)
    for record in domain["records"]:
        publish(dns_server, record)
    dns_server.answering.clear()
    dns_server.asked.clear()
    verifying = ThreadPoolExecutor(1).submit(verify, client, domain)
    assert dns_server.asked.wait(10)

    with TestClient(create_app(runtime), base_url=PUBLIC_URL, headers={"X-API-Key": tenant.api_key}) as other:
        template = {"name": "T", "subject": "Hi", "html": "<p>Hi</p>"}
        creating = ThreadPoolExecutor(1).submit(other.post, "/api/v1/templates", json=template)
        done, _ = wait([creating], timeout=30)
        assert not verifying.done(), "the DNS question was answered before the template was created"
        dns_server.answering.set()
        assert creating in done, "creating a template waited for the DNS answer"
        assert creating.result().status_code == 201
    assert verifying.result(10)["verified"] is True


def test_list_get_and_delete(client):
    first = register(client, "b.example")
    second = register(client, "a.example")

    assert [d["name"] for d in client.get("/api/v1/domains").json()] == ["a.example", "b.example"]
    assert client.get(f"/api/v1/domains/{first['id']}").json()["records"] == first["records"]
    assert client.delete(f"/api/v1/domains/{first['id']}").status_code == 204
    assert client.get(f"/api/v1/domains/{first['id']}").status_code == 404
    assert [d["id"] for d in client.get("/api/v1/domains").json()] == [second["id"]]


def test_another_tenant_neither_sees_nor_touches_a_domain(client, runtime):
    domain = register(client)
    other = new_tenant(runtime)
    headers = {"X-API-Key": other.api_key}

    assert client.get("/api/v1/domains", headers=headers).json() == []
    for method, path in [
        ("GET", f"/api/v1/domains/{domain['id']}"),
        ("POST", f"/api/v1/domains/{domain['id']}/verify"),
        ("DELETE", f"/api/v1/domains/{domain['id']}"),
    ]:
        response = client.request(method, path, headers=headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["field"] == "domain_id"
    own = client.post("/api/v1/domains", json={"name": "example.com"}, headers=headers)
    assert own.status_code == 201
    assert by_kind(own.json())["dkim"]["value"] != by_kind(domain)["dkim"]["value"]
    assert client.get(f"/api/v1/domains/{domain['id']}").status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "1.2.3.4",
        "[::1]",
        "::1",
        "localhost",
        "exa mple.com",
        "-bad.example",
        "bad-.example",
        "a_b.example",
        "x" * 64 + ".example",
        "example.123",
        "a..example",
        "ex@mple.com",
        "http://example.com",
        ".",
        ("a" * 60 + ".") * 4 + "example",
    ],
)
def test_a_name_that_is_not_a_domain_is_refused(client, name):
    response = client.post("/api/v1/domains", json={"name": name})

    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "name"


def test_bad_requests_name_the_field(client):
    register(client)
    duplicate = client.post("/api/v1/domains", json={"name": "EXAMPLE.com"})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "name"
    assert "example.com" in duplicate.json()["error"]["message"]

    assert client.post("/api/v1/domains", json={}).json()["error"]["field"] == "name"
    assert client.post("/api/v1/domains", json={"name": 5}).json()["error"]["field"] == "name"
    assert client.post("/api/v1/domains", json={"name": "a.example", "x": 1}).json()["error"]["field"] == "x"
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"/api/v1/domains/{unknown}/verify").status_code == 404
    assert client.delete(f"/api/v1/domains/{unknown}").status_code == 404
    bad_id = client.get("/api/v1/domains/not-a-uuid")
    assert bad_id.status_code == 422
    assert bad_id.json()["error"]["field"] == "domain_id"


def test_the_api_needs_a_key(client):
    response = client.get("/api/v1/domains", headers={"X-API-Key": ""})
    assert response.status_code == 401
