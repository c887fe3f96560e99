"""The users page, for owners and admins: the tenant's users, and inviting one with a password shown once."""

import re

from emailplatform.users import service as user_service
from tests.conftest import new_tenant
from tests.ui.conftest import PASSWORD, csrf_of, make_user, sign_in


def test_an_admin_invites_a_user_who_can_sign_in_with_the_password_shown_once(ui_client, runtime, tenant):
    make_user(runtime, new_tenant(runtime), "editor")  # another tenant's user is never listed
    admin = make_user(runtime, tenant, "admin")
    token = sign_in(ui_client, admin)
    page = ui_client.get("/ui/users")
    assert page.status_code == 200 and "admin@" in page.text and "(you)" in page.text
    assert "You are the only user" in page.text and "editor@" not in page.text

    invited = ui_client.post(
        "/ui/users", data={"email": "New.Person@Example.com", "role": "viewer", "csrf_token": token}
    )
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


def user_id(runtime, tenant, email: str):
    with runtime.db.session() as session:
        return next(u.id for u in user_service.list_users(session, tenant.tenant_id) if u.email == email)


def roles(runtime, tenant) -> dict[str, str]:
    with runtime.db.session() as session:
        return {u.email: u.role for u in user_service.list_users(session, tenant.tenant_id)}


def test_an_admin_changes_a_role_and_removes_a_user_who_then_cannot_sign_in(ui_client, runtime, tenant):
    editor = make_user(runtime, tenant, "editor")
    viewer = make_user(runtime, tenant, "viewer")
    token = sign_in(ui_client, make_user(runtime, tenant, "admin"))
    page = ui_client.get("/ui/users")
    assert f"/ui/users/{user_id(runtime, tenant, editor.email)}/role" in page.text and "Remove" in page.text

    changed = ui_client.post(
        f"/ui/users/{user_id(runtime, tenant, editor.email)}/role", data={"role": "viewer", "csrf_token": token}
    )
    assert changed.status_code == 200 and "The role is changed" in changed.text
    assert roles(runtime, tenant)[editor.email] == "viewer"

    removed = ui_client.post(f"/ui/users/{user_id(runtime, tenant, viewer.email)}/remove", data={"csrf_token": token})
    assert removed.status_code == 200 and "The user is removed" in removed.text
    assert viewer.email not in roles(runtime, tenant) and viewer.email not in removed.text
    ui_client.cookies.clear()
    page = ui_client.get("/ui/sign-in")
    refused = ui_client.post(
        "/ui/sign-in",
        data={"csrf_token": csrf_of(page.text), "tenant": viewer.tenant, "email": viewer.email, "password": PASSWORD},
    )
    assert refused.status_code == 401


def test_an_admin_cannot_grant_take_away_or_remove_the_owner_role_nor_set_an_unknown_one(ui_client, runtime, tenant):
    owner = make_user(runtime, tenant, "owner")
    editor = make_user(runtime, tenant, "editor")
    admin = make_user(runtime, tenant, "admin")
    token = sign_in(ui_client, admin)
    assert f"/ui/users/{user_id(runtime, tenant, owner.email)}/remove" not in ui_client.get("/ui/users").text
    cases = [
        (editor, "role", "owner", 403, "only an owner can grant or take away the owner role"),
        (owner, "role", "viewer", 403, "only an owner can grant or take away the owner role"),
        (owner, "remove", None, 403, "only an owner can remove an owner"),
        (editor, "role", "god", 422, "the role must be one of"),
    ]
    for target, action, role, status, words in cases:
        data = {"csrf_token": token} | ({"role": role} if role else {})
        response = ui_client.post(f"/ui/users/{user_id(runtime, tenant, target.email)}/{action}", data=data)
        assert response.status_code == status and words in response.text
    assert roles(runtime, tenant) == {owner.email: "owner", editor.email: "editor", admin.email: "admin"}


def test_the_workspace_always_keeps_an_owner_and_no_one_removes_themselves(ui_client, runtime, tenant):
    owner = make_user(runtime, tenant, "owner")
    token = sign_in(ui_client, owner)
    me = user_id(runtime, tenant, owner.email)
    alone = ui_client.post(f"/ui/users/{me}/role", data={"role": "admin", "csrf_token": token})
    assert alone.status_code == 409 and "the workspace needs an owner" in alone.text
    yourself = ui_client.post(f"/ui/users/{me}/remove", data={"csrf_token": token})
    assert yourself.status_code == 409 and "you cannot remove yourself" in yourself.text
    assert roles(runtime, tenant) == {owner.email: "owner"}

    invited = ui_client.post("/ui/users", data={"email": "co@example.com", "role": "viewer", "csrf_token": token})
    assert invited.status_code == 200
    co = user_id(runtime, tenant, "co@example.com")
    assert ui_client.post(f"/ui/users/{co}/role", data={"role": "owner", "csrf_token": token}).status_code == 200
    stepped_down = ui_client.post(f"/ui/users/{me}/role", data={"role": "admin", "csrf_token": token})
    assert stepped_down.status_code == 200
    assert roles(runtime, tenant) == {owner.email: "admin", "co@example.com": "owner"}


def test_an_owner_removes_another_owner(ui_client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "owner"))
    ui_client.post("/ui/users", data={"email": "co@example.com", "role": "owner", "csrf_token": token})
    co = user_id(runtime, tenant, "co@example.com")
    removed = ui_client.post(f"/ui/users/{co}/remove", data={"csrf_token": token})
    assert removed.status_code == 200 and "co@example.com" not in roles(runtime, tenant)


def test_another_tenants_user_is_not_found_and_left_alone(ui_client, runtime, tenant):
    other_tenant = new_tenant(runtime)
    stranger = make_user(runtime, other_tenant, "editor")
    stranger_id = user_id(runtime, other_tenant, stranger.email)
    token = sign_in(ui_client, make_user(runtime, tenant, "owner"))
    for action, data in [("role", {"role": "viewer"}), ("remove", {})]:
        response = ui_client.post(f"/ui/users/{stranger_id}/{action}", data=data | {"csrf_token": token})
        assert response.status_code == 404 and "no such user" in response.text
    assert roles(runtime, other_tenant) == {stranger.email: "editor"}
    assert ui_client.post("/ui/users/not-an-id/remove", data={"csrf_token": token}).status_code == 422


def test_editors_and_viewers_cannot_change_or_remove_users_and_every_post_needs_the_token(ui_client, runtime, tenant):
    target = make_user(runtime, tenant, "admin")
    target_id = user_id(runtime, tenant, target.email)
    for role in ("viewer", "editor"):
        ui_client.cookies.clear()
        token = sign_in(ui_client, make_user(runtime, tenant, role))
        for action, data in [("role", {"role": "viewer"}), ("remove", {})]:
            response = ui_client.post(f"/ui/users/{target_id}/{action}", data=data | {"csrf_token": token})
            assert response.status_code == 403
            assert f"your role ({role}) cannot manage API keys and users" in response.text
    ui_client.cookies.clear()
    sign_in(ui_client, make_user(runtime, tenant, "owner"))
    for action, data in [("role", {"role": "viewer"}), ("remove", {})]:
        assert ui_client.post(f"/ui/users/{target_id}/{action}", data=data).status_code == 403
        forged = ui_client.post(f"/ui/users/{target_id}/{action}", data=data | {"csrf_token": "forged"})
        assert forged.status_code == 403
    assert roles(runtime, tenant)[target.email] == "admin"
