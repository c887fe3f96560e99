"""One error base class; every error a user can cause names the field and the reason.

AppError
├── BadRequest (400)      the request cannot be understood
├── Unauthorized (401)    no API key, or a revoked or unknown one
├── Forbidden (403)       a signed URL that is tampered or expired
├── NotFound (404)        no such object for this tenant
├── Conflict (409)        the object is not in a state that allows this
├── Invalid (422)         a field's value is not acceptable
├── TooLarge (413)        an upload over the size cap
├── RateLimited (429)     past a rate limit: try again (Retry-After, RateLimit-*)
└── Unavailable (503)     the database cannot be reached for now: try again (Retry-After)

Every error answers the same JSON, ErrorResponse: {"error": {"code", "message", "field", "details"}}.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        field: str | None = None,
        details: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        self.headers = headers or {}  # sent with the answer: Retry-After, RateLimit-*

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field, "details": self.details}}


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Invalid(AppError):
    status_code = 422
    code = "invalid"


class TooLarge(AppError):
    status_code = 413
    code = "too_large"


class Unavailable(AppError):
    status_code = 503
    code = "unavailable"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"


class ErrorBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"code": "not_found", "message": "no such template", "field": "template_id", "details": None}],
        }
    )

    code: str = Field(
        description="What kind of error, for programs: bad_request, unauthorized, forbidden, not_found, "
        "method_not_allowed, conflict, invalid, too_large, rate_limited, unavailable, internal."
    )
    message: str = Field(description="What is wrong and what to do, for people.")
    field: str | None = Field(None, description="The field, parameter or header at fault (dotted for nested fields).")
    details: list[dict[str, Any]] | None = Field(
        None, description="More about it: for an invalid request, each field's problem as {field, reason}."
    )


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "invalid",
                        "message": "from.email: value is not a valid email address",
                        "field": "from.email",
                        "details": [{"field": "from.email", "reason": "value is not a valid email address"}],
                    }
                }
            ]
        }
    )

    error: ErrorBody
