"""Signatures of the Standard Webhooks specification, and the design documents' `X-Signature`.

webhook-signature: `v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the
base64-decoded part of the `whsec_` secret; one signature per valid secret, separated by spaces.
X-Signature: hex HMAC-SHA256 of the body alone, with the newest secret.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature_headers(webhook_id: str, sent_at: datetime, body: bytes, signing_secrets: list[str]) -> dict[str, str]:
    """The headers that sign `body`; `signing_secrets` newest first."""
    timestamp = str(int(sent_at.timestamp()))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    signatures = [
        "v1," + base64.b64encode(hmac.digest(_key(secret), signed, hashlib.sha256)).decode()
        for secret in signing_secrets
    ]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": " ".join(signatures),
        "X-Signature": hmac.digest(_key(signing_secrets[0]), body, hashlib.sha256).hex(),
    }
