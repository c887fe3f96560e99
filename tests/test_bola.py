"""No tenant reaches another's objects (BOLA, broken object-level authorisation): tenant A makes one object of each
kind, and every route that names an object in its path, called by tenant B with A's ids, answers 404, as for an id
that does not exist, whichever way B comes: its API key, its OAuth bearer token, or a signed-in UI user. A's
objects read the same afterwards.

The routes are taken from the app, so a new route with a path parameter is swept by itself, or the test fails
until it is: its parameter names an object of tests/tenant_objects.py, or the route is exempt below, with why."""

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from tests.conftest import PUBLIC_URL, free_port, make_settings, new_tenant
from tests.tenant_objects import RECIPIENT, make_tenant_objects
from tests.tenants.issuer import AUDIENCE, running_issuer
from tests.ui.conftest import make_user, sign_in

# Routes with a path parameter that names no object of a tenant: what authorises them instead.
EXEMPT = {
    # a signed upload URL: the token names its tenant and file and is signed with the secret key; no credential
    # is asked, a token not signed by us is a 403 (tests/storage)
    ("PUT", "/uploads/{token}"),
    # tracking and unsubscribe links: signed tokens naming one message, made only by the sender for its
    # recipient; the pixel answers its GIF whatever the token (tests/events/test_tracking.py)
    ("GET", "/t/o/{token}.gif"),
    ("GET", "/t/c/{token}"),
    ("GET", "/u/{token}"),
    ("POST", "/u/{token}"),
    # a report's name (bounce-reasons, links, domains), not an object: the CSV is of the user's own tenant
    ("GET", "/ui/analytics/{kind}.csv"),
}
# Routes that answer another tenant's id with something else than 404, what they answer, and why that is no leak.
NOT_404 = {
    # an erasure is of an address, in the caller's tenant only: it answers for any address (and A's data stays,
    # checked below by reading A's message)
    ("DELETE", "/api/v1/recipients/{email}"): (200, ""),
    # htmx fragments, answered 200 (htmx shows no 4xx) with the error in words, as for an id that does not exist
    ("POST", "/ui/templates/{template_id}/test"): (200, "no such template"),
    ("POST", "/ui/templates/{template_id}/deliverability"): (200, "no such template"),
}
# A valid form of each UI route that needs one, so B is refused for the object, not for the form.
UI_FORMS = {
    "/ui/templates/{template_id}": {"subject": "Hi", "html": "<p>Hi</p>"},
    "/ui/templates/{template_id}/test": {"test_to": "me@example.org"},
    "/ui/campaigns/{transaction_id}/reschedule": {"send_at_local": "2030-01-01T09:00", "time_zone": "UTC"},
    "/ui/webhooks/{endpoint_id}": {"url": "https://hooks.example.com/x", "event_types": "message.sent"},
    "/ui/webhooks/{endpoint_id}/enabled": {"enabled": "false"},
    "/ui/users/{user_id}/role": {"role": "admin"},
}
# What A reads of its own objects before and after B's sweep (with the GET routes of each object, filled in).
A_LISTS = [
    "/api/v1/templates",
    "/api/v1/templates?archived=true",
    "/api/v1/email/campaigns",
    "/api/v1/emails",
    "/api/v1/webhooks/endpoints",
    "/api/v1/webhooks/deliveries",
    "/api/v1/domains",
    "/api/v1/suppressions",
    "/api/v1/users",
    "/api/v1/api-keys",
    "/api/v1/jobs",
    "/api/v1/tenant",
    f"/api/v1/recipients/{RECIPIENT}/export",
]


def routes_with_ids(app):
    """(method, path) of every route with a path parameter, those of included routers and the UI's too."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and "{" in context.path:
            for method in sorted(context.methods - {"HEAD", "OPTIONS"}):
                yield method, context.path


def fill(path: str, objects: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: objects[m[1]], path)


def spec_bodies(spec: dict) -> dict[tuple[str, str], dict]:
    """A valid JSON body of each operation that takes one, its schema's example: B's request is refused for the
    object, not for its body."""
    schemas = spec["components"]["schemas"]
    bodies = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if schema and "$ref" in schema:
                bodies[(method.upper(), path)] = schemas[schema["$ref"].rsplit("/", 1)[-1]]["examples"][0]
    return bodies


@pytest.fixture
def deployment(sqlite_url, tmp_path):
    """One deployment that takes API keys, the tokens of a real issuer on loopback, and UI sign-ins."""
    with running_issuer(free_port()) as issuer:
        settings = make_settings(
            sqlite_url,
            tmp_path / "data",
            oidc_issuer=issuer.url,
            oidc_audience=AUDIENCE,
            rate_limit_api_key="1000000/minute",
            rate_limit_tenant="1000000/minute",
        )
        runtime = build_runtime(settings)
        yield runtime, issuer
        runtime.close()


def snapshot(client: TestClient, objects: dict[str, str], app) -> dict[str, object]:
    paths = A_LISTS + [fill(p, objects) for m, p in routes_with_ids(app) if m == "GET" and p.startswith("/api/")]
    answers = {}
    for path in paths:
        response = client.get(path)
        answers[path] = (response.status_code, response.text)
    return answers


def test_no_route_with_an_id_reaches_another_tenants_object(deployment):
    runtime, issuer = deployment
    app = create_app(runtime)
    a, b = new_tenant(runtime), new_tenant(runtime)
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = a.api_key
        objects = make_tenant_objects(client, runtime)
        before = snapshot(client, objects, app)
        assert all(status == 200 for status, _ in before.values()), before
        bodies = spec_bodies(app.openapi())
        token = issuer.token(tenant=str(b.tenant_id), scope="full")
        as_b = {"API key": {"X-API-Key": b.api_key}, "token": {"Authorization": f"Bearer {token}"}}
        with (
            TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as ui,
            TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as api,
        ):
            csrf = sign_in(ui, make_user(runtime, b, "owner"))
            leaks, swept = [], set()
            for method, path in routes_with_ids(app):
                if (method, path) in EXEMPT:
                    continue
                names = re.findall(r"\{([^}]+)\}", path)
                unknown = [name for name in names if name not in objects]
                assert not unknown, f"{method} {path}: make a {unknown} in tests/tenant_objects.py, or exempt it"
                status, says = NOT_404.get((method, path), (404, ""))
                url = fill(path, objects)
                if path.startswith("/ui/"):
                    form = UI_FORMS.get(path, {}) | {"csrf_token": csrf} if method == "POST" else None
                    answers = {"UI user": ui.request(method, url, data=form, follow_redirects=False)}
                else:
                    body = bodies.get((method, path))
                    answers = {way: api.request(method, url, json=body, headers=h) for way, h in as_b.items()}
                for way, response in answers.items():
                    if response.status_code != status or says not in response.text:
                        leaks.append(f"{method} {path} as B's {way}: {response.status_code} {response.text[:200]}")
                swept.add((method, path))
    assert leaks == [], "\n".join(leaks)
    assert len(swept) > 60, sorted(swept)  # the API's and the UI's routes with ids, less the exempt ones
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = a.api_key
        assert snapshot(client, objects, app) == before, "B's requests changed some of A's objects"


def test_every_exemption_is_a_route_that_exists(sqlite_url, tmp_path):
    runtime = build_runtime(make_settings(sqlite_url, tmp_path / "data"))
    routes = set(routes_with_ids(create_app(runtime)))
    runtime.close()
    assert EXEMPT - routes == set() and set(NOT_404) - routes == set()
    assert set(UI_FORMS) - {path for _, path in routes} == set()
