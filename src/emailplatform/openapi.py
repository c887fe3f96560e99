"""The API as a contract: the error answers each router documents, and the docs pages, served from the package.

A router declares the 4xx answers its routes can give: `APIRouter(..., responses=error_responses(401, 404, 422))`,
a route adds its own (`responses=error_responses(409)`). Each is the one error shape of errors.ErrorResponse, with
an example; a 422 so declared replaces FastAPI's default validation schema, which this API never answers.
"""

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from emailplatform.errors import ErrorResponse

DESCRIPTION = """\
Upload a template and a CSV of recipients, create a campaign, and follow every message it sends.

**Authentication.** Every `/api/v1` route needs an API key of your tenant, in the `X-API-Key` header or as
`Authorization: Bearer <key>`. `emailplatform serve` prints the first one on an empty database,
`emailplatform api-keys create --tenant NAME` makes one, and so does `POST /api/v1/api-keys`.

**Errors.** Every 4xx and 5xx answers `{"error": {"code", "message", "field", "details"}}`: `field` names the
field, parameter or header at fault, `message` says why. A refused request changes nothing.

**Lists** page with `limit` and the `next_cursor` of the page before, passed as `cursor`; the last page has none.
"""

ERRORS = {
    400: ("The request cannot be understood.", "bad_request", "the body is not JSON", "body"),
    401: ("No API key, or an unknown or revoked one.", "unauthorized", "the API key is unknown or revoked", "X-API-Key"),
    403: ("A signature that does not match or has expired.", "forbidden",
          "the upload URL has expired; ask for a new one", "upload_url"),
    404: ("No such object in this tenant.", "not_found", "no campaign with that id in this tenant", "transaction_id"),
    409: ("The object is not in a state that allows this.", "conflict",
          "a campaign that is SENT cannot be cancelled", "transaction_id"),
    413: ("The upload is larger than allowed.", "too_large", "the file is larger than the 104857600 bytes allowed",
          "file"),
    422: ("A field's value is not acceptable; `details` lists each field's problem.", "invalid",
          "limit must be between 1 and 500", "limit"),
    429: ("Too many requests; try again after Retry-After seconds.", "rate_limited", "too many requests", None),
    503: ("A service this route needs cannot be reached now; try again later.", "unavailable",
          "the signing certificate could not be fetched", "SigningCertURL"),
}


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """The `responses=` of a router or route: the error shape, with an example, on each of these statuses."""
    responses: dict[int | str, dict] = {}
    for status in statuses:
        description, code, message, field = ERRORS[status]
        example = {"error": {"code": code, "message": message, "field": field, "details": None}}
        if status == 422:
            example["error"]["details"] = [{"field": field, "reason": message}]
        responses[status] = {
            "model": ErrorResponse,
            "description": description,
            "content": {"application/json": {"example": example}},
        }
    return responses


def new_app(**kwargs) -> FastAPI:
    """A FastAPI app whose /docs (Swagger UI) and /redoc load their scripts from this package, never a CDN, and
    whose spec has the API's error shape wherever FastAPI would put its own validation error."""
    app = FastAPIOffline(
        description=DESCRIPTION,
        generate_unique_id_function=operation_id,
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True, "displayRequestDuration": True},
        **kwargs,
    )

    def openapi() -> dict:
        if app.openapi_schema is None:
            _replace_default_validation_error(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi
    return app


def operation_id(route) -> str:
    """An operation's id is its route function's name (create_campaign): what generated clients call it."""
    return route.name


def _replace_default_validation_error(spec: dict) -> None:
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas.pop("HTTPValidationError", None) is None:
        return
    schemas.pop("ValidationError", None)
    default = "#/components/schemas/HTTPValidationError"
    ours = error_responses(422)[422]
    for operations in spec["paths"].values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422")
            if response and response["content"]["application/json"]["schema"].get("$ref") == default:
                response["description"] = ours["description"]
                response["content"]["application/json"] = {
                    "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                    "example": ours["content"]["application/json"]["example"],
                }
