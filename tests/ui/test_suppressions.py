"""The suppression list page: search, filter, add by hand and remove, as the API sees it."""

from tests.ui.conftest import make_user, sign_in


def suppressed(client) -> dict[str, str]:
    return {s["email"]: s["reason"] for s in client.get("/api/v1/suppressions").json()["items"]}


def test_the_empty_list_says_what_it_is_for(ui_client, runtime, tenant):
    sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    page = ui_client.get("/ui/suppressions")
    assert page.status_code == 200
    assert "The list is empty" in page.text
    assert "Suppress this address" not in page.text  # a viewer gets no form


def test_an_address_added_by_hand_is_suppressed_and_removed_again(ui_client, client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    added = ui_client.post(
        "/ui/suppressions", data={"email": "Stop@Example.com", "details": "asked by phone", "csrf_token": token}
    )
    assert added.status_code == 200
    assert "stop@example.com is suppressed" in added.text
    assert suppressed(client) == {"stop@example.com": "manual"}
    again = ui_client.post("/ui/suppressions", data={"email": "stop@example.com", "csrf_token": token})
    assert "was on the list already" in again.text

    removed = ui_client.post("/ui/suppressions/remove", data={"email": "stop@example.com", "csrf_token": token})
    assert "is off the list" in removed.text
    assert suppressed(client) == {}


def test_a_bad_address_is_refused_in_the_form(ui_client, client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    response = ui_client.post("/ui/suppressions", data={"email": "not an address", "csrf_token": token})
    assert response.status_code == 422
    assert "email:" in response.text and 'value="not an address"' in response.text
    assert suppressed(client) == {}


def test_search_filter_and_pages(ui_client, client, runtime, tenant):
    for n in range(55):
        client.post("/api/v1/suppressions", json={"email": f"user{n:02d}@example.com"})
    client.post("/api/v1/suppressions", json={"email": "angry@other.example", "reason": "complaint"})
    sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    first = ui_client.get("/ui/suppressions")
    assert first.text.count("<tr><td>") == 50 and "Older entries" in first.text
    older = ui_client.get("/ui/suppressions", params={"cursor": first.text.split("cursor=")[1].split('"')[0]})
    assert older.text.count("<tr><td>") == 6 and "Older entries" not in older.text
    found = ui_client.get("/ui/suppressions", params={"q": "user07"})
    assert "user07@example.com" in found.text and "user08@example.com" not in found.text
    complaints = ui_client.get("/ui/suppressions", params={"reason": "complaint"})
    assert "angry@other.example" in complaints.text and "user00@example.com" not in complaints.text
    assert "No suppressed address matches" in ui_client.get("/ui/suppressions", params={"q": "nobody"}).text


def test_a_viewer_cannot_change_the_list_and_every_post_needs_the_token(ui_client, client, runtime, tenant):
    client.post("/api/v1/suppressions", json={"email": "kept@example.com"})
    token = sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    for path, data in [
        ("/ui/suppressions", {"email": "new@example.com"}),
        ("/ui/suppressions/remove", {"email": "kept@example.com"}),
    ]:
        assert ui_client.post(path, data=data | {"csrf_token": token}).status_code == 403
    editor = make_user(runtime, tenant, "editor")
    ui_client.cookies.clear()
    sign_in(ui_client, editor)
    for path, data in [
        ("/ui/suppressions", {"email": "new@example.com"}),
        ("/ui/suppressions/remove", {"email": "kept@example.com"}),
    ]:
        assert ui_client.post(path, data=data).status_code == 403
        assert ui_client.post(path, data=data | {"csrf_token": "forged"}).status_code == 403
    assert suppressed(client) == {"kept@example.com": "manual"}
