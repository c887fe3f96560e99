"""The API as a contract: the error answers each router documents, and the docs pages, served from the package.

A router declares the 4xx answers its routes can give: `APIRouter(..., responses=error_responses(401, 404, 422))`,
a route adds its own (`responses=error_responses(409)`). Each is the one error shape of errors.ErrorResponse, with
an example; a 422 so declared replaces FastAPI's default validation schema, which this API never answers.
"""

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from emailplatform import scopes
from emailplatform.errors import ErrorResponse

DESCRIPTION = """\
Upload a template and a CSV of recipients, create a campaign, and follow every message it sends.

**Authentication.** Every `/api/v1` route needs an API key of your tenant, in the `X-API-Key` header or as
`Authorization: Bearer <key>`, or, where the deployment names an OAuth 2.0 / OpenID Connect issuer, one of its
access tokens (a JWT) as `Authorization: Bearer <token>`. `emailplatform serve` prints the first key on an empty
database, `emailplatform api-keys create --tenant NAME` makes one, and so does `POST /api/v1/api-keys`.

**Scopes.** A key or token may do what its scopes allow: `full` (everything), `read` (every GET), `send` (create
and follow campaigns, read templates, upload files), or per area `<area>:read` and `<area>:write` (write includes
read) for the areas templates, campaigns, files, webhooks, domains, suppressions, analytics, events and tenant
(the tenant's settings, API keys and users). Each operation names the scope it needs in its security
requirements; without it the answer is 403 with `field` `scope`, and the message names the scope.

**Errors.** Every 4xx and 5xx answers `{"error": {"code", "message", "field", "details"}}`: `field` names the
field, parameter or header at fault, `message` says why. A refused request changes nothing.

**Lists** page with `limit` and the `next_cursor` of the page before, passed as `cursor`; the last page has none.
"""

ERRORS = {
    400: ("The request cannot be understood.", "bad_request", "the body is not JSON", "body"),
    401: (
        "No API key or token, or an unknown, revoked, expired or otherwise refused one; the message says why.",
        "unauthorized",
        "the API key is unknown or revoked",
        "X-API-Key",
    ),
    403: (
        "The credential lacks the scope the route needs (named in the message), or a signature that does not "
        "match or has expired.",
        "forbidden",
        "this route needs the scope 'templates:write', which the credential does not have (it has: read)",
        "scope",
    ),
    404: ("No such object in this tenant.", "not_found", "no campaign with that id in this tenant", "transaction_id"),
    409: (
        "The object is not in a state that allows this.",
        "conflict",
        "a campaign that is SENT cannot be cancelled",
        "transaction_id",
    ),
    413: (
        "The request body (or the upload) is larger than allowed.",
        "too_large",
        "the request body is larger than the 8388608 bytes allowed",
        "body",
    ),
    422: (
        "A field's value is not acceptable; `details` lists each field's problem.",
        "invalid",
        "limit must be between 1 and 500",
        "limit",
    ),
    429: (
        "Past a rate limit; `Retry-After` says when to try again, the `RateLimit-*` headers how much is left.",
        "rate_limited",
        "too many requests with this API key: 1000 a minute at most; try again in 12 seconds",
        "X-API-Key",
    ),
    503: (
        "A service this route needs cannot be reached now; try again later.",
        "unavailable",
        "the signing certificate could not be fetched",
        "SigningCertURL",
    ),
}


Responses = dict[int | str, dict[str, Any]]  # the `responses=` of a route or router


def error_responses(*statuses: int, descriptions: dict[int, str] | None = None) -> Responses:
    """The `responses=` of a router or route: the error shape, with an example, on each of these statuses; a
    route may say in `descriptions` when it answers one."""
    responses: Responses = {}
    for status in statuses:
        description, code, message, field = ERRORS[status]
        description = (descriptions or {}).get(status, description)
        example: dict[str, dict[str, Any]] = {
            "error": {"code": code, "message": message, "field": field, "details": None}
        }
        if status == 422:
            example["error"]["details"] = [{"field": field, "reason": message}]
        responses[status] = {
            "model": ErrorResponse,
            "description": description,
            "content": {"application/json": {"example": example}},
        }
    return responses


def new_app(**kwargs) -> FastAPI:
    """A FastAPI app whose /docs (Swagger UI) loads its scripts from this package, never a CDN, and whose spec has
    the API's error shape wherever FastAPI would put its own validation error. No /redoc: Redoc's sidebar always
    loads its maker's logo from the internet."""
    app = FastAPIOffline(
        description=DESCRIPTION,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True, "displayRequestDuration": True},
        **kwargs,
    )

    def openapi() -> dict[str, Any]:
        spec = app.openapi_schema
        if spec is None:
            spec = FastAPI.openapi(app)  # which keeps it in app.openapi_schema
            _document_scopes(spec, app)
            _document_unreadable_bodies(spec)
            _use_error_shape(spec)
            _keep_nulls_in_examples(spec)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its spec
    return app


def operation_id(route) -> str:
    """An operation's id is its route function's name (create_campaign): what generated clients call it."""
    return route.name


def _use_error_shape(spec: dict) -> None:
    """Every error answer as JSON in the error shape: FastAPI's own 422 schema replaced, and an HTML route's errors
    (which FastAPI would list under text/html) under application/json, as they are sent."""
    schemas = spec.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for operations in spec["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45" and int(status) in ERRORS:
                    ours = error_responses(int(status))[int(status)]
                    if response.get("description") == "Validation Error":
                        response["description"] = ours["description"]
                    response["content"] = {
                        "application/json": {  # the example with its nulls, left out by FastAPI
                            "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                            "example": ours["content"]["application/json"]["example"],
                        }
                    }


def _document_unreadable_bodies(spec: dict) -> None:
    """A 400 on each operation that reads a body: one that is not JSON in UTF-8 cannot be read (its content:
    _use_error_shape)."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("400", {"description": ERRORS[400][0]})


def _document_scopes(spec: dict, app: FastAPI) -> None:
    """Each operation's scope in its security requirements (as OpenAPI 3.1 lets any scheme list roles), in its
    description, and its 403 (in the error shape once _use_error_shape has run)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        needs = scopes.declared(route.dependencies)
        if needs is None:
            continue
        methods = route.methods or set()
        scope = needs.scope_for(methods)
        for method in methods - {"HEAD"}:
            operation = spec["paths"][context.path_format][method.lower()]
            operation["security"] = [{name: [scope] for name in requirement} for requirement in operation["security"]]
            operation["description"] = f"{operation.get('description', '')}\n\n**Scope:** `{scope}`.".lstrip()
            operation["responses"].setdefault("403", {"description": ERRORS[403][0]})  # its content: _use_error_shape


def _keep_nulls_in_examples(spec: dict) -> None:
    """FastAPI leaves every null out of the spec, those of examples too: a model's example gets them back, so an
    example shows each field its answer has (a null included) and stays valid for its schema."""
    schemas = spec.get("components", {}).get("schemas", {})
    for model in _models(BaseModel):
        schema = schemas.get(re.sub(r"[^a-zA-Z0-9.\-_]", "_", model.__name__))
        if not schema or "examples" not in schema or not model.model_config.get("json_schema_extra"):
            continue
        examples = model.model_json_schema(mode="serialization").get("examples")
        if examples and _without_nulls(examples) == schema["examples"]:
            schema["examples"] = examples


def _models(base: type[BaseModel]):
    for model in base.__subclasses__():
        yield model
        yield from _models(model)


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
