"""The tenant's default sender in the UI (on the sending domains page): the same setting as PUT /api/v1/tenant,
and the sender a new campaign starts with."""

from tests.helpers import create_template
from tests.ui.conftest import make_user, sign_in

BRAND = {"email": "news@brand.example.com", "name": "Brand News"}


def test_an_editor_sets_the_default_sender_and_a_new_campaign_starts_with_it(ui_client, client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    saved = ui_client.post("/ui/domains/default-sender", data=BRAND | {"csrf_token": token})
    assert saved.status_code == 200 and "The default sender is saved." in saved.text
    assert "not a registered sending domain" in saved.text  # the warning a campaign from it would get
    assert client.get("/api/v1/tenant").json()["default_sender"] == BRAND
    create_template(client, "Hi", "<p>Hi</p>")
    new = ui_client.get("/ui/campaigns/new")
    assert 'value="news@brand.example.com"' in new.text and 'value="Brand News"' in new.text

    removed = ui_client.post("/ui/domains/default-sender", data={"email": "", "name": "", "csrf_token": token})
    assert "The default sender is removed." in removed.text
    assert client.get("/api/v1/tenant").json()["default_sender"] is None


def test_a_bad_address_is_refused_on_the_page_and_changes_nothing(ui_client, client, runtime, tenant):
    client.put("/api/v1/tenant", json={"default_sender": {"email": "news@brand.example.com"}})
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    refused = ui_client.post("/ui/domains/default-sender", data={"email": "not an address", "csrf_token": token})
    assert refused.status_code == 422 and "is not an email address" in refused.text
    assert 'value="not an address"' in refused.text  # what was typed stays, to be corrected
    assert client.get("/api/v1/tenant").json()["default_sender"]["email"] == "news@brand.example.com"


def test_a_viewer_sees_the_default_sender_and_cannot_change_it(ui_client, client, runtime, tenant):
    client.put("/api/v1/tenant", json={"default_sender": {"email": "news@brand.example.com", "name": "Brand"}})
    token = sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    page = ui_client.get("/ui/domains")
    assert "Default sender" in page.text and "news@brand.example.com" in page.text
    assert 'action="/ui/domains/default-sender"' not in page.text
    refused = ui_client.post("/ui/domains/default-sender", data={"email": "x@example.com", "csrf_token": token})
    assert refused.status_code == 403
    assert client.get("/api/v1/tenant").json()["default_sender"]["email"] == "news@brand.example.com"
