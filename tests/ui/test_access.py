"""Who may do what: sign-in, CSRF on every POST, roles checked on the server, tenants kept apart."""

import csv
import io

from emailplatform.ui.deps import COOKIE
from tests.conftest import new_tenant
from tests.helpers import create_template
from tests.ui.conftest import PASSWORD, csrf_of, make_user, sign_in

CHANGES = [
    ("/ui/templates/new", {"name": "T", "subject": "Hi", "html": "<p>Hi</p>"}),
    ("/ui/api-keys", {"name": "k"}),
    ("/ui/campaigns/upload-url", {"filename": "r.csv"}),
]


def test_pages_need_sign_in(ui_client):
    for path in ("/ui/", "/ui/templates", "/ui/campaigns/new", "/ui/outbox"):
        response = ui_client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/ui/sign-in?next=")
    assert ui_client.get("/", follow_redirects=False).headers["location"] == "/ui/sign-in"


def test_wrong_password_is_refused_in_words(ui_client, runtime, tenant):
    user = make_user(runtime, tenant, "editor")
    page = ui_client.get("/ui/sign-in")
    response = ui_client.post(
        "/ui/sign-in",
        data={
            "csrf_token": csrf_of(page.text),
            "tenant": tenant.name,
            "email": user.email,
            "password": "wrong-password",
        },
    )
    assert response.status_code == 401
    assert "the workspace, email or password is not right" in response.text
    assert ui_client.get("/ui/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(ui_client, runtime, tenant):
    user = make_user(runtime, tenant, "viewer")
    token = sign_in(ui_client, user)
    copied = ui_client.cookies.get(COOKIE)
    response = ui_client.post("/ui/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/ui/sign-in"
    assert ui_client.get("/ui/", follow_redirects=False).status_code == 303
    ui_client.cookies.set(COOKIE, copied)  # a copy of the cookie, kept from before
    assert ui_client.get("/ui/", follow_redirects=False).status_code == 303
    ui_client.cookies.clear()
    sign_in(ui_client, user)
    assert ui_client.get("/ui/", follow_redirects=False).status_code == 200


def test_every_post_needs_the_csrf_token(ui_client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "owner"))
    for path, data in CHANGES:
        assert ui_client.post(path, data=data).status_code == 403
        assert ui_client.post(path, data=data | {"csrf_token": "forged"}).status_code == 403
    refused = ui_client.post("/ui/templates/new", data=CHANGES[0][1])
    assert "reload the page" in refused.text and "Traceback" not in refused.text
    assert (
        ui_client.post(
            "/ui/templates/new", data=CHANGES[0][1] | {"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )


def test_sign_in_itself_needs_the_csrf_token(ui_client, runtime, tenant):
    user = make_user(runtime, tenant, "owner")
    ui_client.get("/ui/sign-in")
    response = ui_client.post("/ui/sign-in", data={"tenant": tenant.name, "email": user.email, "password": PASSWORD})
    assert response.status_code == 403


def test_a_viewer_reads_but_cannot_change_anything(ui_client, client, runtime, tenant):
    version = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
    token = sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    assert ui_client.get(f"/ui/templates/{version['template_id']}").status_code == 200
    posts = CHANGES + [
        (f"/ui/templates/{version['template_id']}", {"subject": "Changed", "html": "<p>changed</p>"}),
        (
            "/ui/campaigns",
            {
                "template_id": version["template_id"],
                "file_url": "x",
                "from_email": "a@example.com",
                "idempotency_key": "k",
            },
        ),
        ("/ui/jobs/1/retry", {}),
    ]
    for path, data in posts:
        response = ui_client.post(path, data=data | {"csrf_token": token})
        assert response.status_code == 403, path
        assert "your role (viewer) cannot" in response.text
    assert ui_client.get("/ui/campaigns/new").status_code == 403
    detail = client.get(f"/api/v1/templates/{version['template_id']}").json()
    assert detail["latest_version"] == 1


def test_an_editor_cannot_manage_api_keys(ui_client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    assert ui_client.get("/ui/api-keys").status_code == 403
    assert ui_client.post("/ui/api-keys", data={"name": "k", "csrf_token": token}).status_code == 403


def test_an_api_key_is_shown_once_and_can_be_revoked(ui_client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "admin"))
    created = ui_client.post("/ui/api-keys", data={"name": "CRM export", "csrf_token": token})
    assert created.status_code == 200
    assert "shown this once" in created.text
    assert "shown this once" not in ui_client.get("/ui/api-keys").text
    with runtime.db.session() as session:
        from emailplatform.tenants import service as tenant_service

        key = next(k for k in tenant_service.list_api_keys(session, tenant.tenant_id) if k.name == "CRM export")
    ui_client.post(f"/ui/api-keys/{key.id}/revoke", data={"csrf_token": token})
    assert "revoked" in ui_client.get("/ui/api-keys").text


def test_another_tenants_objects_are_not_found(ui_client, client, runtime, tenant):
    version = create_template(client, "Hi", "<p>Hi</p>")
    other = new_tenant(runtime)
    sign_in(ui_client, make_user(runtime, other, "owner"))
    response = ui_client.get(f"/ui/templates/{version['template_id']}")
    assert response.status_code == 404
    assert "no such template" in response.text


def test_a_bad_template_is_refused_in_the_form(ui_client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    data = {"name": "Broken", "subject": "Hi", "html": "<p>{{ unclosed </p>", "csrf_token": token}
    response = ui_client.post("/ui/templates/new", data=data)
    assert response.status_code == 422
    assert "html" in response.text and "line 1" in response.text
    assert "Broken" in response.text  # the form keeps what was typed
    assert "No templates yet" in ui_client.get("/ui/templates").text  # nothing half-made was kept


def test_campaigns_export_is_safe_in_a_spreadsheet(ui_client, client, runtime, tenant):
    from tests.helpers import create_campaign, csv_bytes, upload_file

    version = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [["a@example.com", "A"]]))
    create_campaign(client, version["template_id"], file["file_url"], name='=HYPERLINK("http://evil")')
    sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    response = ui_client.get("/ui/analytics/campaigns.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["recipients"] == "0"


def test_an_admin_gives_a_new_key_its_scopes_and_a_client_certificate(ui_client, client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "admin"))
    form = {
        "name": "reports",
        "scopes": ["campaigns:read", "analytics:read"],
        "client_certificate": "CN=reports,O=Acme",
    }
    created = ui_client.post("/ui/api-keys", data=form | {"csrf_token": token})
    assert created.status_code == 200 and "<code>analytics:read</code>, <code>campaigns:read</code>" in created.text
    assert "CN=reports,O=Acme" in created.text
    plain = new_key_of(created.text)
    reads = client.get("/api/v1/email/campaigns", headers={"X-API-Key": plain})
    writes = client.post("/api/v1/templates", headers={"X-API-Key": plain}, json={"name": "T", "subject": "S"})
    assert reads.status_code == 200 and writes.status_code == 403
    refused = ui_client.post("/ui/api-keys", data={"name": "x", "scopes": ["campaigns:own"], "csrf_token": token})
    assert refused.status_code == 422 and "no such scope: campaigns:own" in refused.text
    with runtime.db.session() as session:
        from emailplatform.tenants import service as tenant_service

        assert [k.name for k in tenant_service.list_api_keys(session, tenant.tenant_id) if k.name == "x"] == []


def new_key_of(html: str) -> str:
    """The new key the page shows once."""
    return html.split('id="new-key" class="key" value="', 1)[1].split('"', 1)[0]
