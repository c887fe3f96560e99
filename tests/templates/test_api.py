"""Templates through the API: presigned upload and confirm, one-call creation, versions, preview, bad input."""

import uuid

import pytest

from tests.conftest import new_tenant
from tests.helpers import all_pages, create_template

HTML = "<h1>Hello {{ first_name }}</h1><p>Your code: {{ code }}</p>"


def assert_error(response, status: int, field: str, reason_part: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert reason_part in error["message"]


def start_upload(client, name="welcome") -> dict:
    response = client.post("/api/v1/templates/upload-url", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def test_presigned_upload_then_confirm_makes_version_1(client):
    upload = start_upload(client)
    assert upload["upload_url"].startswith("http://testserver/uploads/")
    assert client.put(upload["upload_url"], content=HTML.encode()).status_code == 200

    confirmed = client.post(
        f"/api/v1/templates/{upload['template_id']}/confirm", json={"subject": "Hi {{ first_name }}"}
    )

    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json() == {
        "template_id": upload["template_id"],
        "version": 1,
        "placeholders": ["code", "first_name"],
    }
    template = client.get(f"/api/v1/templates/{upload['template_id']}").json()
    assert template["name"] == "welcome"
    assert template["latest_version"] == 1
    [version] = template["versions"]
    assert version["html"] == HTML
    assert version["text_is_generated"] is True
    assert version["text"] == "Hello {{ first_name }}\n\nYour code: {{ code }}\n"


def test_reconfirming_a_new_upload_adds_a_version(client):
    upload = start_upload(client)
    template_url = f"/api/v1/templates/{upload['template_id']}"
    client.put(upload["upload_url"], content=b"<p>one</p>")
    client.post(f"{template_url}/confirm", json={"subject": "S"})
    client.put(upload["upload_url"], content=b"<p>two {{ x }}</p>")

    second = client.post(f"{template_url}/confirm", json={"subject": "S", "text": "two {{ x }}"}).json()

    assert second["version"] == 2
    versions = client.get(template_url).json()["versions"]
    assert [(v["version"], v["html"], v["text_is_generated"]) for v in versions] == [
        (1, "<p>one</p>", True),
        (2, "<p>two {{ x }}</p>", False),
    ]


def test_a_template_starts_with_no_version(client):
    upload = start_upload(client, "draft")
    template = client.get(f"/api/v1/templates/{upload['template_id']}").json()
    assert (template["latest_version"], template["versions"]) == (0, [])
    preview = client.post(f"/api/v1/templates/{upload['template_id']}/preview", json={})
    assert_error(preview, 422, "template_id", "no version yet")


def test_create_in_one_call_then_update_keeps_old_versions(client):
    created = create_template(client, "Hi {{ first_name }}", HTML, text="Hi {{ first_name }}")
    assert (created["version"], created["placeholders"]) == (1, ["code", "first_name"])
    url = f"/api/v1/templates/{created['template_id']}"

    updated = client.put(url, json={"subject": "New {{ email }}", "html": "<p>{{ email }}</p>"})

    assert updated.status_code == 200, updated.text
    assert updated.json() == {"template_id": created["template_id"], "version": 2, "placeholders": ["email"]}
    versions = client.get(url).json()["versions"]
    assert [v["subject"] for v in versions] == ["Hi {{ first_name }}", "New {{ email }}"]
    assert versions[0]["text"] == "Hi {{ first_name }}"
    assert versions[1]["text"] == "{{ email }}\n"
    old = client.post(f"{url}/preview", json={"version": 1, "data": {"first_name": "Ada", "code": "7"}}).json()
    assert old["subject"] == "Hi Ada"


def test_list_is_paginated_newest_first(client):
    ids = [create_template(client, f"S{i}", "<p>x</p>")["template_id"] for i in range(3)]
    first = client.get("/api/v1/templates", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    listed = all_pages(client, "/api/v1/templates", limit=2)
    assert [t["id"] for t in listed] == ids[::-1]


def test_another_tenant_sees_none_of_it(client, runtime):
    template_id = create_template(client, "S", HTML)["template_id"]
    other = new_tenant(runtime)
    client.headers["X-API-Key"] = other.api_key

    assert all_pages(client, "/api/v1/templates") == []
    for response in (
        client.get(f"/api/v1/templates/{template_id}"),
        client.put(f"/api/v1/templates/{template_id}", json={"subject": "S", "html": "<p>mine</p>"}),
        client.post(f"/api/v1/templates/{template_id}/preview", json={"data": {}}),
        client.post(f"/api/v1/templates/{template_id}/confirm", json={"subject": "S"}),
    ):
        assert_error(response, 404, "template_id", "no such template")


def test_preview_renders_subject_html_and_text(client):
    template_id = create_template(client, "Hi {{ first_name }}\r\n  and welcome", HTML + '<a href="{{ url }}">go</a>')[
        "template_id"
    ]
    data = {"first_name": "<script>alert(1)</script>", "code": "A&B", "url": "https://x.example/?a=1&b=2"}

    preview = client.post(f"/api/v1/templates/{template_id}/preview", json={"data": data})

    assert preview.status_code == 200, preview.text
    rendered = preview.json()
    assert rendered["subject"] == "Hi <script>alert(1)</script> and welcome"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered["html"]
    assert "<script>" not in rendered["html"]
    assert "A&amp;B" in rendered["html"]
    assert 'href="https://x.example/?a=1&amp;b=2"' in rendered["html"]
    assert rendered["text"] == (
        "Hello <script>alert(1)</script>\n\nYour code: A&B\n\ngo (https://x.example/?a=1&b=2)\n"
    )


def test_preview_without_data(client):
    static = create_template(client, "Static", "<p>No placeholders</p>")["template_id"]
    assert client.post(f"/api/v1/templates/{static}/preview", json={}).json()["html"] == "<p>No placeholders</p>"
    with_placeholders = create_template(client, "Hi {{ first_name }}", HTML)["template_id"]
    response = client.post(f"/api/v1/templates/{with_placeholders}/preview", json={})
    assert_error(response, 422, "data.first_name", "'first_name' has no value")


def test_preview_names_the_missing_placeholder_and_its_line(client):
    template_id = create_template(client, "S", "<p>\n{{ first_name }}\n{{ last_name }}</p>")["template_id"]
    response = client.post(f"/api/v1/templates/{template_id}/preview", json={"data": {"first_name": "A"}})
    assert_error(response, 422, "data.last_name", "html, line 3: the placeholder 'last_name' has no value")


def test_preview_of_an_unknown_version(client):
    template_id = create_template(client, "S", "<p>x</p>")["template_id"]
    response = client.post(f"/api/v1/templates/{template_id}/preview", json={"version": 5})
    assert_error(response, 404, "version", "no version 5")


def test_sandbox_refuses_unsafe_attribute_access(client):
    template_id = create_template(client, "S", "<p>{{ ''.__class__.__mro__ }}</p>")["template_id"]
    response = client.post(f"/api/v1/templates/{template_id}/preview", json={})
    assert_error(response, 422, "data", "unsafe")


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<p>{{ 'x' * 3000000 }}</p>", "larger than the 2097152 characters allowed"),
        ("{% for i in range(3) %}<p>{{ 'x' * 1000000 }}</p>{% endfor %}", "larger than the 2097152 characters allowed"),
        ("{% for i in range(10**8) %}{% endfor %}", "loop iterations allowed"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recurses too deeply"),
        # one filter call reads no clock: its input is bounded instead
        (
            "{{ range(999999)|list|groupby('real')|list|length }}",
            "a filter was given 999999 items; at most 10000 are allowed",
        ),
        (
            '{% set s="a"*2000000 %}{{ (s|list|sort)|length }}',
            "a filter was given 2000000 items; at most 10000 are allowed",
        ),
        ("{{ ('a ' * 1000000)|urlize }}", "a filter was given 2000000 characters; at most 65536 are allowed"),
        (
            "{% set s = 'x' * 1000000 %}{% for i in range(100000) %}{% set t = s.upper() %}{% endfor %}",
            "took longer than the 200 ms allowed",
        ),
    ],
)
def test_a_render_past_its_limits_is_refused(client, runtime, html, reason):
    if "took longer" not in reason:  # each case meets its own limit: a slow machine must not meet the clock first
        runtime.settings.render_timeout_ms = 60_000
    template_id = create_template(client, "S", html, text="t")["template_id"]
    response = client.post(f"/api/v1/templates/{template_id}/preview", json={})
    assert_error(response, 422, "data", reason)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"subject": "S", "html": "<p>{{ name </p>"}, "html", "line 1: unexpected '/'"),
        ({"subject": "S", "html": "<p>\n{% if x %}\n</p>"}, "html", "line 2: Unexpected end of template"),
        ({"subject": "Hi {{ }}", "html": "<p>x</p>"}, "subject", "line 1: "),
        (
            {"subject": "S", "html": "<p>x</p>", "text": "a\n{% endfor %}"},
            "text",
            "line 2: Encountered unknown tag 'endfor'",
        ),
        ({"subject": "S", "html": "<p>{{ x|nosuchfilter }}</p>"}, "html", "No filter named 'nosuchfilter'"),
        ({"subject": "S", "html": "{% include 'other.html' %}"}, "html", "cannot include"),
        ({"subject": "S", "html": "   "}, "html", "empty"),
        ({"subject": "S"}, "html", "Field required"),
        ({"html": "<p>x</p>"}, "subject", "Field required"),
        ({"subject": "", "html": "<p>x</p>"}, "subject", "at least 1 character"),
        ({"subject": "S", "html": "<p>x</p>", "name": ""}, "name", "at least 1 character"),
    ],
)
def test_bad_template_input_is_refused_naming_the_field(client, body, field, reason):
    response = client.post("/api/v1/templates", json={"name": "t"} | body)
    assert_error(response, 422, field, reason)
    assert all_pages(client, "/api/v1/templates") == []


def test_an_update_that_does_not_parse_leaves_the_template_as_it_was(client):
    template_id = create_template(client, "S", "<p>x</p>")["template_id"]
    response = client.put(f"/api/v1/templates/{template_id}", json={"subject": "S", "html": "{% for %}"})
    assert_error(response, 422, "html", "line 1:")
    assert client.get(f"/api/v1/templates/{template_id}").json()["latest_version"] == 1


def test_unknown_template_ids(client):
    unknown = uuid.uuid4()
    assert_error(client.get(f"/api/v1/templates/{unknown}"), 404, "template_id", "no such template")
    assert_error(
        client.post(f"/api/v1/templates/{unknown}/confirm", json={"subject": "S"}), 404, "template_id", "no such"
    )
    assert_error(client.get("/api/v1/templates/not-a-uuid"), 422, "template_id", "UUID")


def test_confirm_before_upload_is_refused(client):
    upload = start_upload(client)
    response = client.post(f"/api/v1/templates/{upload['template_id']}/confirm", json={"subject": "S"})
    assert_error(response, 422, "html", "nothing has been uploaded")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("<p>Zoë</p>".encode("latin-1"), "not UTF-8: byte 6"),
        (b"", "empty"),
        (b"<p>{% if %}</p>", "line 1:"),
    ],
)
def test_a_bad_upload_is_refused_on_confirm(client, content, reason):
    upload = start_upload(client)
    client.put(upload["upload_url"], content=content)
    response = client.post(f"/api/v1/templates/{upload['template_id']}/confirm", json={"subject": "S"})
    assert_error(response, 422, "html", reason)
    assert client.get(f"/api/v1/templates/{upload['template_id']}").json()["latest_version"] == 0


def test_confirm_needs_a_subject(client):
    upload = start_upload(client)
    response = client.post(f"/api/v1/templates/{upload['template_id']}/confirm", json={})
    assert_error(response, 422, "subject", "Field required")


def test_a_template_made_in_one_call_has_nothing_to_confirm(client):
    template_id = create_template(client, "S", "<p>x</p>")["template_id"]
    response = client.post(f"/api/v1/templates/{template_id}/confirm", json={"subject": "S"})
    assert_error(response, 422, "template_id", "not created by an upload")


@pytest.mark.parametrize("version", [2**31, 2**63, 2**64 + 1, 10**30])
def test_a_version_past_any_stored_one_is_refused_naming_it(client, version):
    template_id = create_template(client, "S", "<p>x</p>")["template_id"]
    response = client.post(f"/api/v1/templates/{template_id}/preview", json={"version": version})
    assert_error(response, 422, "version", "less than or equal to 2147483647")
