"""OAuth 2.0 / OpenID Connect bearer tokens beside API keys: JWTs of the configured issuer (`oidc_issuer`).

The issuer's discovery document names its JWKS; the keys are fetched once and kept `oidc_jwks_cache_seconds`. A
token signed by a key not among them (the issuer rotated its keys) makes one fetch again, at most once every
`oidc_jwks_min_refetch_seconds`, so tokens with made-up key ids cannot make the server hammer the issuer. A token
is accepted when its signature verifies, its `iss` and `aud` are the configured ones, it has not expired (nor is
it used before `nbf`), give or take `oidc_leeway_seconds`, and its tenant claim names a tenant.
"""

import math
import threading
import time
import uuid
from typing import Any

import httpx
import structlog
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.errors import Unauthorized, Unavailable
from emailplatform.models import Tenant
from emailplatform.scopes import SCOPES, Principal

log = structlog.get_logger("emailplatform.tenants.tokens")
FIELD = "Authorization"
FETCH_TIMEOUT_SECONDS = 5.0
MAX_TOKEN_CHARS = 16_384
RETRY_AFTER_SECONDS = "5"


def looks_like_jwt(credential: str) -> bool:
    """A JWT is three base64url parts joined by dots; an API key of ours never has a dot."""
    return credential.count(".") == 2


class OidcIssuer:
    """The configured issuer's signing keys, as this process last fetched them, and the check of its tokens."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.lock = threading.Lock()  # one fetch at a time; requests verify tokens in the thread pool
        self.keys: KeySet | None = None
        self.fetched_at = -math.inf

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, once its signature, issuer, audience and times hold; a 401 saying why not."""
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized(f"the token is longer than {MAX_TOKEN_CHARS:,} characters", field=FIELD)
        try:
            claims = self._decode(token, self._keys(refetch=False))
        except InvalidKeyIdError:  # perhaps a key the issuer published since
            try:
                claims = self._decode(token, self._keys(refetch=True))
            except InvalidKeyIdError:
                raise Unauthorized("the token is signed by a key the issuer does not publish", field=FIELD) from None
        self._check_claims(claims)
        return claims

    def _decode(self, token: str, keys: KeySet) -> dict[str, Any]:
        try:
            return jwt.decode(token, keys, algorithms=self.settings.oidc_algorithms).claims
        except InvalidKeyIdError:
            raise
        except BadSignatureError:
            raise Unauthorized("the token's signature does not verify", field=FIELD) from None
        except (JoseError, ValueError) as exc:
            raise Unauthorized(f"the token cannot be read as a signed JWT: {_reason(exc)}", field=FIELD) from None

    def _check_claims(self, claims: dict[str, Any]) -> None:
        settings = self.settings
        registry = jwt.JWTClaimsRegistry(
            leeway=settings.oidc_leeway_seconds,
            iss={"essential": True, "value": settings.oidc_issuer},
            aud={"essential": True, "value": settings.oidc_audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise Unauthorized("the token has expired", field=FIELD) from None
        except MissingClaimError as exc:
            raise Unauthorized(f"the token has no {exc.claim} claim", field=FIELD) from None
        except InvalidClaimError as exc:
            raise Unauthorized(_claim_refusal(exc.claim, exc.description, settings), field=FIELD) from None

    def _keys(self, refetch: bool) -> KeySet:
        with self.lock:
            age = time.monotonic() - self.fetched_at
            due = age >= self.settings.oidc_jwks_cache_seconds
            if self.keys is None or due or (refetch and age >= self.settings.oidc_jwks_min_refetch_seconds):
                self._fetch()
            assert self.keys is not None
            return self.keys

    def _fetch(self) -> None:
        """The JWKS, through the discovery document. If the issuer cannot be reached the keys fetched before stay
        in use; with none yet, a 503."""
        try:
            discovery = _get_json(self._discovery_url())
            if discovery.get("issuer") != self.settings.oidc_issuer:
                raise ValueError(f"the discovery document is of the issuer {discovery.get('issuer')!r}")
            self.keys = KeySet.import_key_set(_get_json(discovery["jwks_uri"]))
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError, JoseError) as exc:
            log.warning(
                "the token issuer's keys cannot be fetched", issuer=self.settings.oidc_issuer, error=str(exc)[:200]
            )
            if self.keys is None:
                raise Unavailable(
                    "the token issuer's signing keys cannot be fetched; try again shortly",
                    field=FIELD,
                    headers={"Retry-After": RETRY_AFTER_SECONDS},
                ) from None
        self.fetched_at = time.monotonic()

    def _discovery_url(self) -> str:
        return f"{self.settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"


def _get_json(url: str) -> Any:
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ValueError(f"not an HTTP URL: {url!r}")
    response = httpx.get(url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
    response.raise_for_status()
    return response.json()


def _claim_refusal(claim: str, description: str, settings: Settings) -> str:
    if claim == "aud":
        return f"the token is not for this API: its audience is not {settings.oidc_audience!r}"
    if claim == "iss":
        return f"the token is not from the issuer {settings.oidc_issuer!r}"
    if claim == "nbf":
        return "the token is not valid yet"
    return f"the token's {claim} claim is not acceptable: {description}"


def _reason(exc: Exception) -> str:
    return getattr(exc, "description", "") or str(exc) or type(exc).__name__


def principal(session: Session, settings: Settings, claims: dict[str, Any]) -> Principal:
    """Who the token acts as: the tenant its tenant claim names (by id or by name) and the scopes of its scopes
    claim that this API knows (a space-separated string, as OAuth's `scope`, or a list, as `scp`)."""
    tenant_id = _tenant_id(session, claims.get(settings.oidc_tenant_claim), settings.oidc_tenant_claim)
    subject = claims.get("sub")
    return Principal(
        tenant_id=tenant_id,
        scopes=_scopes(claims.get(settings.oidc_scopes_claim)),
        id=f"token:{subject if isinstance(subject, str) else tenant_id}",
    )


def _tenant_id(session: Session, value: object, claim: str) -> uuid.UUID:
    if not isinstance(value, str) or not value or len(value) > 100:
        raise Unauthorized(f"the token's {claim} claim names no tenant", field=FIELD)
    try:
        condition = Tenant.id == uuid.UUID(value)
    except ValueError:
        condition = Tenant.name == value
    tenant_id = session.scalar(select(Tenant.id).where(condition))
    if tenant_id is None:
        raise Unauthorized(f"the token's {claim} claim names no tenant of this deployment", field=FIELD)
    return tenant_id


def _scopes(value: object) -> frozenset[str]:
    names = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    return frozenset(name for name in names if isinstance(name, str) and name in SCOPES)
