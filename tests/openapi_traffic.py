"""The spec as a contract the tests hold the API to: every answer a test client receives is checked against
/openapi.json (its status is documented for that path and method, its body matches the schema) with openapi-core.

The `client` fixtures call `ApiTraffic.watch(client)`; the answers are kept as they come and checked when the test
ends, against a spec built once per run. Pages that are not in the spec (the web UI, static files) are not checked.
"""

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict


class SpecRequest:
    """An httpx request as openapi-core reads one."""

    def __init__(self, request: httpx.Request):
        url = urlsplit(str(request.url))
        self.host_url = f"{url.scheme}://{url.netloc}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = None  # a response is checked, not the request that asked for it
        self.content_type = request.headers.get("content-type", "application/json")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(url.query)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class SpecResponse:
    """An httpx response as openapi-core reads one."""

    def __init__(self, response: httpx.Response):
        self.status_code = response.status_code
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "")
        # a file (an .eml, a GIF) is a binary string to the spec: openapi-core checks a str against it, not bytes
        self.data = response.content if "json" in self.content_type else response.text


@dataclass
class ApiTraffic:
    exchanges: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)
    spec: dict | None = None

    def watch(self, client) -> None:
        """Keep every answer `client` (a TestClient) receives, to be checked at the end of the test."""
        if self.spec is None:
            self.spec = cached_spec(client.app)

        def keep(response: httpx.Response) -> None:
            response.read()
            self.exchanges.append((response.request, response))

        client.event_hooks = {"request": [], "response": [*client.event_hooks["response"], keep]}

    def mismatches(self) -> list[str]:
        if not self.exchanges:
            return []
        openapi = openapi_of(self.spec)
        found = []
        for request, response in self.exchanges:
            try:
                openapi.validate_response(SpecRequest(request), SpecResponse(response))
            except (PathNotFound, OperationNotFound):  # a UI page, a static file, a method no route has
                continue
            except OpenAPIError as exc:
                errors = getattr(exc.__cause__, "schema_errors", None) or []
                reasons = "".join(f"\n    {e.json_path}: {e.message[:200]}" for e in errors)
                found.append(
                    f"{request.method} {request.url.path} -> {response.status_code}: {str(exc)[:200]}{reasons}"
                    f"\n    body: {response.text[:300]}"
                )
        return found


_CACHE: dict = {}


def cached_spec(app) -> dict:
    """The spec of the first app of the run: every app the tests make has the same routes."""
    if "spec" not in _CACHE:
        _CACHE["spec"] = app.openapi()
    return _CACHE["spec"]


def openapi_of(spec: dict) -> OpenAPI:
    if "openapi" not in _CACHE:
        _CACHE["openapi"] = OpenAPI.from_dict(spec)
    return _CACHE["openapi"]
