"""The audit log page: changes made in the UI are recorded with the signed-in user; admins read and filter it."""

import re

from sqlalchemy import select

from emailplatform.models import ApiKey
from tests.conftest import new_tenant
from tests.ui.conftest import make_user, sign_in


def test_changes_in_the_ui_are_recorded_with_the_user_and_listed_and_filtered_for_admins(ui_client, runtime, tenant):
    admin = make_user(runtime, tenant, "admin")
    token = sign_in(ui_client, admin)
    created = ui_client.post("/ui/api-keys", data={"name": "from the ui", "csrf_token": token})
    assert created.status_code == 200
    with runtime.db.session(write=False) as session:
        mine = select(ApiKey.id).where(ApiKey.name == "from the ui", ApiKey.tenant_id == tenant.tenant_id)
        key_id = str(session.scalar(mine))
    revoked = ui_client.post(f"/ui/api-keys/{key_id}/revoke", data={"csrf_token": token}, follow_redirects=False)
    assert revoked.status_code == 303
    assert ui_client.post(f"/ui/api-keys/{key_id}/revoke", data={"csrf_token": "forged"}).status_code == 403
    refused = ui_client.post("/ui/suppressions", data={"email": "not an address", "csrf_token": token})
    assert refused.status_code == 422  # the form shown again with its error: nothing changed, nothing recorded

    page = ui_client.get("/ui/audit")
    assert page.status_code == 200 and 'href="/ui/audit"' in page.text
    rows = re.findall(r"<tr><td>.*?</tr>", page.text, re.S)
    assert len(rows) == 2 and all(admin.email in row and "(user)" in row for row in rows)
    assert "revoke_api_key" in rows[0] and key_id in rows[0] and "create_api_key" in rows[1] and key_id in rows[1]
    assert "POST /ui/api-keys/{key_id}/revoke" in rows[0]

    filtered = ui_client.get("/ui/audit", params={"action": "create_api_key"})
    assert len(re.findall(r"<tr><td>", filtered.text)) == 1 and 'value="create_api_key"' in filtered.text
    assert "No entries match" in ui_client.get("/ui/audit", params={"since": "2999-01-01"}).text
    bad = ui_client.get("/ui/audit", params={"until": "next tuesday"})
    assert bad.status_code == 422 and "until is not a date" in bad.text


def test_only_admins_read_the_log_and_only_their_tenants(ui_client, runtime, tenant):
    other = new_tenant(runtime)
    sign_in(ui_client, make_user(runtime, other, "admin"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', ui_client.get("/ui/api-keys").text)[1]
    ui_client.post("/ui/api-keys", data={"name": "theirs", "csrf_token": token})
    ui_client.cookies.clear()
    sign_in(ui_client, make_user(runtime, tenant, "admin"))
    assert "No entries." in ui_client.get("/ui/audit").text
    ui_client.cookies.clear()
    sign_in(ui_client, make_user(runtime, tenant, "editor"))
    denied = ui_client.get("/ui/audit")
    assert denied.status_code == 403 and 'href="/ui/audit"' not in ui_client.get("/ui/").text
