"""The sending domains page: add one, the records to publish, and a check through (the test's own) DNS that says
what each record lacks."""

from tests.domains.conftest import dns_server, runtime  # noqa: F401 (the domains tests' DNS server and runtime)
from tests.domains.helpers import by_kind, publish
from tests.helpers import create_template
from tests.ui.conftest import make_user, sign_in

NOTICE = "Unverified domains are allowed on this deployment"


def test_a_domain_is_added_its_records_shown_and_verified_once_published(
    ui_client, client, runtime, tenant, dns_server
):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    empty = ui_client.get("/ui/domains")
    assert "No sending domains yet" in empty.text and NOTICE in empty.text

    page = ui_client.post("/ui/domains", data={"name": "Example.COM", "csrf_token": token})
    assert page.status_code == 200 and "<h1>example.com</h1>" in page.text
    [domain] = client.get("/api/v1/domains").json()
    records = by_kind(domain)
    for record in records.values():
        assert record["name"] in page.text
    assert "v=spf1 include:spf.platform.test ~all" in page.text and "not checked yet" in page.text

    checked = ui_client.post(f"/ui/domains/{domain['id']}/verify", data={"csrf_token": token})
    assert "not verified yet" in checked.text
    assert "no TXT record at" in checked.text and "publish" in checked.text  # what to do, in words
    assert client.get(f"/api/v1/domains/{domain['id']}").json()["verified"] is False

    publish(dns_server, records["dkim"])
    publish(dns_server, records["spf"])
    verified = ui_client.post(f"/ui/domains/{domain['id']}/verify", data={"csrf_token": token})
    assert "the domain is verified" in verified.text
    assert client.get(f"/api/v1/domains/{domain['id']}").json()["verified"] is True
    assert "verified" in ui_client.get("/ui/domains").text

    ui_client.post(f"/ui/domains/{domain['id']}/delete", data={"csrf_token": token})
    assert client.get("/api/v1/domains").json() == []


def test_a_bad_or_repeated_domain_is_refused_in_the_form(ui_client, client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    bad = ui_client.post("/ui/domains", data={"name": "10.0.0.1", "csrf_token": token})
    assert bad.status_code == 422 and "is an IP address" in bad.text and 'value="10.0.0.1"' in bad.text
    ui_client.post("/ui/domains", data={"name": "example.com", "csrf_token": token})
    again = ui_client.post("/ui/domains", data={"name": "example.com", "csrf_token": token})
    assert again.status_code == 409 and "registered already" in again.text
    assert len(client.get("/api/v1/domains").json()) == 1


def test_the_new_campaign_page_says_unverified_domains_are_allowed(ui_client, client, runtime, tenant):
    create_template(client, "Hi", "<p>Hi</p>")
    sign_in(ui_client, make_user(runtime, tenant, "editor"))
    assert NOTICE in ui_client.get("/ui/campaigns/new").text
    runtime.settings.allow_unverified_domains = False
    assert NOTICE not in ui_client.get("/ui/campaigns/new").text
    assert NOTICE not in ui_client.get("/ui/domains").text


def test_a_viewer_reads_but_cannot_change_domains_and_every_post_needs_the_token(ui_client, client, runtime, tenant):
    domain = client.post("/api/v1/domains", json={"name": "example.com"}).json()
    posts = [
        ("/ui/domains", {"name": "other.example"}),
        (f"/ui/domains/{domain['id']}/verify", {}),
        (f"/ui/domains/{domain['id']}/delete", {}),
    ]
    token = sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    page = ui_client.get(f"/ui/domains/{domain['id']}")
    assert page.status_code == 200 and "Check the DNS records now" not in page.text
    for path, data in posts:
        assert ui_client.post(path, data=data | {"csrf_token": token}).status_code == 403, path
    ui_client.cookies.clear()
    sign_in(ui_client, make_user(runtime, tenant, "editor"))
    for path, data in posts:
        assert ui_client.post(path, data=data).status_code == 403, path
        assert ui_client.post(path, data=data | {"csrf_token": "forged"}).status_code == 403, path
    [kept] = client.get("/api/v1/domains").json()
    assert kept["last_checked_at"] is None
