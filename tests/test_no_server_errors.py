"""Nothing a user sends makes the server answer 500: every route, fed malformed input, answers a 4xx (or 2xx)."""

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

BAD_PATH_VALUES = ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00", "9" * 40, "../../etc/passwd"]
BAD_BODIES = [
    b"",
    b"{",
    b"[]",
    b'"text"',
    b"null",
    b'{"name": 1e999}',
    b'{"email": {"$ne": 1}}',
    '{"x": "\ud800"}'.encode("utf-8", "surrogatepass"),
]
HUGE = "9" * 40
BIG_CURSOR = "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDBd"  # [1000000000000000000000000000000], past any column
BAD_QUERIES = [
    {"limit": "-1"},
    {"limit": "abc"},
    {"limit": HUGE},
    {"cursor": "!!!"},
    {"cursor": "W10"},
    {"cursor": BIG_CURSOR},
    {"status": "NOPE"},
    {"state": "x"},
    {"version": HUGE},
    {"version": "-1"},
    {"days": HUGE},
    {"days": "-5"},
]


def routes(app):
    """(method, path, route) of every route, those of included routers too."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.methods - {"HEAD", "OPTIONS"}):
                yield method, context.path, context.original_route


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_malformed_input_never_gets_a_500(client, runtime):
    # some 3,400 requests with one key: past the default 1,000 a minute most would be answered 429 untried
    runtime.settings.rate_limit_api_key = runtime.settings.rate_limit_tenant = "100000/minute"
    failures = []
    for method, path, _ in routes(client.app):
        for value in BAD_PATH_VALUES:
            for body in BAD_BODIES if method in ("POST", "PUT", "PATCH") else [None]:
                response = client.request(
                    method, fill(path, value), content=body, headers={"Content-Type": "application/json"}
                )
                if response.status_code >= 500:
                    failures.append((method, fill(path, value), body, response.status_code))
        for query in BAD_QUERIES:
            response = client.request(method, fill(path, BAD_PATH_VALUES[1]), params=query)
            if response.status_code >= 500:
                failures.append((method, path, query, response.status_code))
    assert failures == [], failures
    assert len({path for _, path, _ in routes(client.app)}) > 50  # every router's routes were tried


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_body_that_is_not_utf8_is_a_400_naming_the_body(client):
    response = client.post("/api/v1/templates", content=b"\xff\x19", headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] | {"message": ""} == {
        "code": "bad_request",
        "field": "body",
        "message": "",
        "details": None,
    }
    assert "UTF-8" in response.json()["error"]["message"]
