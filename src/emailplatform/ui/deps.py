"""What every page needs: the request's session, the signed-in user, and the CSRF check of every POST.

The sign-in lives in a cookie signed with the runtime's secret key (itsdangerous), holding the user's id, the
user's session generation (signing out counts it up, so a copy of the cookie is worth nothing after) and the
session's CSRF token; every form POST must send that token back, as a form field or an X-CSRF-Token header."""

import hmac
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from emailplatform import audit_trail as audit
from emailplatform.deps import READ_METHODS, get_runtime
from emailplatform.errors import Forbidden
from emailplatform.models import User
from emailplatform.runtime import Runtime
from emailplatform.users import service as user_service

COOKIE = "ep_session"
MAX_AGE_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """No one is signed in: the page answers with the sign-in page."""


def ui_db(request: Request) -> Iterator[Session]:
    """The request's one session, committed before the answer leaves (so a redirect never outruns its commit)."""
    write = request.method not in READ_METHODS
    with get_runtime(request).db.session(write=write) as session:
        request.state.db = session
        audit.track(session)
        yield session
        if write:
            audit.record_request(session, request)


def ui_read_db(request: Request) -> Iterator[Session]:
    """A reading session, for a POST that changes nothing (a check of a file): on SQLite it takes no write lock."""
    with get_runtime(request).db.session(write=False) as session:
        request.state.db = session
        yield session


def ui_replica_db(request: Request) -> Iterator[Session]:
    """A reading session on the read replica when there is one (else the primary), for a page that may show
    what the replica has replayed so far (analytics, lists); never for a page a form's redirect lands on."""
    with get_runtime(request).db.session(write=False, replica=True) as session:
        request.state.db = session
        yield session


DbDep = Annotated[Session, Depends(ui_db, scope="function")]
ReadDbDep = Annotated[Session, Depends(ui_read_db, scope="function")]
ReplicaDbDep = Annotated[Session, Depends(ui_replica_db, scope="function")]


def _serializer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime.secret_key, salt="emailplatform.ui.session")


def read_cookie(request: Request) -> dict:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(get_runtime(request)).loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def write_cookie(request: Request, response: Response, data: dict) -> None:
    runtime = get_runtime(request)
    response.set_cookie(
        COOKIE,
        _serializer(runtime).dumps(data),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.public_url.startswith("https://"),
        path="/",
    )


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser's session, made (and kept by the response's cookie) if it has none."""
    token = read_cookie(request).get("csrf")
    if not token:
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


@dataclass(frozen=True)
class SignedIn:
    user: User
    csrf: str

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.user.tenant_id


def signed_in(request: Request) -> SignedIn:
    """The cookie's user, read in a session of its own: on SQLite a POST takes the write lock only when its
    route starts to work."""
    data = read_cookie(request)
    try:
        user_id = uuid.UUID(data.get("uid", ""))
    except ValueError:
        raise SignInRequired from None
    with get_runtime(request).db.session(write=False) as session:
        user = user_service.get(session, user_id)
    if user is None or data.get("generation") != user.session_generation:
        raise SignInRequired
    request.state.user = user
    return SignedIn(user, data["csrf"])


async def check_csrf(request: Request) -> None:
    """Every POST carries the session's CSRF token; a missing or wrong one is refused before anything runs."""
    if request.method in READ_METHODS:
        return
    expected = read_cookie(request).get("csrf", "")
    sent: object = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            "the form expired or did not come from this site: reload the page and try again", field=CSRF_FIELD
        )


def viewer(me: Annotated[SignedIn, Depends(signed_in)], _csrf: Annotated[None, Depends(check_csrf)]) -> SignedIn:
    return me


def editor(me: Annotated[SignedIn, Depends(viewer)]) -> SignedIn:
    user_service.require(me.user, "change")
    return me


def admin(me: Annotated[SignedIn, Depends(viewer)]) -> SignedIn:
    user_service.require(me.user, "administer")
    return me


Viewer = Annotated[SignedIn, Depends(viewer)]
Editor = Annotated[SignedIn, Depends(editor)]
Admin = Annotated[SignedIn, Depends(admin)]
