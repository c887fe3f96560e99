"""The favicon: at /favicon.ico, where browsers ask by themselves, and linked from every page."""


def test_the_favicon_is_served_and_linked_from_the_pages(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg") and b"viewBox" in icon.content
    page = client.get("/ui/sign-in")
    assert '<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml">' in page.text
    assert client.get("/ui/static/favicon.svg").content == icon.content
