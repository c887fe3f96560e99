"""The users page, for owners and admins: the tenant's users, and inviting one with a password shown once."""

import re

from emailplatform.users import service as user_service
from tests.conftest import new_tenant
from tests.ui.conftest import make_user, sign_in


def test_an_admin_invites_a_user_who_can_sign_in_with_the_password_shown_once(ui_client, runtime, tenant):
    make_user(runtime, new_tenant(runtime), "editor")  # another tenant's user is never listed
    admin = make_user(runtime, tenant, "admin")
    token = sign_in(ui_client, admin)
    page = ui_client.get("/ui/users")
    assert page.status_code == 200 and "admin@" in page.text and "(you)" in page.text
    assert "You are the only user" in page.text and "editor@" not in page.text

    invited = ui_client.post("/ui/users", data={"email": "New.Person@Example.com", "role": "viewer", "csrf_token": token})
    assert invited.status_code == 200 and "shown this once" in invited.text
    password = re.search(r'id="new-password" value="([^"]+)"', invited.text)[1]
    with runtime.db.session() as session:
        user = user_service.authenticate(session, tenant.name, "new.person@example.com", password)
        assert user.role == "viewer"
        assert [u.email for u in user_service.list_users(session, tenant.tenant_id)] == [admin.email, user.email]
    assert password not in ui_client.get("/ui/users").text


def test_a_repeated_address_a_weak_role_claim_or_an_unknown_role_is_refused_in_words(ui_client, runtime, tenant):
    admin = make_user(runtime, tenant, "admin")
    token = sign_in(ui_client, admin)
    again = ui_client.post("/ui/users", data={"email": admin.email, "role": "editor", "csrf_token": token})
    assert again.status_code == 409 and "has an account in this tenant already" in again.text
    owner = ui_client.post("/ui/users", data={"email": "boss@example.com", "role": "owner", "csrf_token": token})
    assert owner.status_code == 403 and "only an owner can make another owner" in owner.text
    unknown = ui_client.post("/ui/users", data={"email": "x@example.com", "role": "god", "csrf_token": token})
    assert unknown.status_code == 422 and "the role must be one of" in unknown.text
    with runtime.db.session() as session:
        assert len(user_service.list_users(session, tenant.tenant_id)) == 1


def test_an_owner_may_make_an_owner(ui_client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "owner"))
    made = ui_client.post("/ui/users", data={"email": "co@example.com", "role": "owner", "csrf_token": token})
    assert made.status_code == 200 and "as owner" in made.text


def test_editors_and_viewers_cannot_see_or_change_users_and_the_post_needs_the_token(ui_client, runtime, tenant):
    data = {"email": "sneaky@example.com", "role": "owner"}
    for role in ("viewer", "editor"):
        ui_client.cookies.clear()
        token = sign_in(ui_client, make_user(runtime, tenant, role))
        assert ui_client.get("/ui/users").status_code == 403
        response = ui_client.post("/ui/users", data=data | {"csrf_token": token})
        assert response.status_code == 403 and f"your role ({role}) cannot manage API keys and users" in response.text
        assert "/ui/users" not in ui_client.get("/ui/").text  # no navigation entry either
    ui_client.cookies.clear()
    sign_in(ui_client, make_user(runtime, tenant, "owner"))
    assert ui_client.post("/ui/users", data=data).status_code == 403
    assert ui_client.post("/ui/users", data=data | {"csrf_token": "forged"}).status_code == 403
    with runtime.db.session() as session:
        assert "sneaky@example.com" not in [u.email for u in user_service.list_users(session, tenant.tenant_id)]
