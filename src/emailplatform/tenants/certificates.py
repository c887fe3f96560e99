"""Client certificates (mutual TLS) that act as an API key: the key names the certificate by its SHA-256
fingerprint (`sha256:<hex>`) or its subject (RFC 4514, as `openssl x509 -noout -subject -nameopt RFC2253` prints it).

The certificate comes from the TLS connection `serve` verified against `tls_client_ca_file` (http_server puts it in
the ASGI scope's `tls` extension), or from `tls_proxy_cert_header` when a TLS-terminating proxy that verified it
sends the request from one of `tls_trusted_proxies`; from any other address that header is ignored.
"""

import ipaddress
import re
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.errors import Invalid, Unauthorized
from emailplatform.models import ApiKey

FINGERPRINT = re.compile(r"^sha256:([0-9a-f]{64})$")
FIELD = "client certificate"


def presented(request: Request, settings: Settings) -> x509.Certificate | None:
    """The client certificate of the request, if it has one."""
    chain = request.scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    if chain:
        return x509.load_pem_x509_certificate(chain[0].encode())
    header = settings.tls_proxy_cert_header
    value = request.headers.get(header) if header else None
    if not value or not _from_trusted_proxy(request, settings):
        return None
    try:
        return x509.load_pem_x509_certificate(urllib.parse.unquote(value).encode())
    except ValueError:
        raise Unauthorized(f"the {header} header holds no PEM certificate", field=header) from None


def _from_trusted_proxy(request: Request, settings: Settings) -> bool:
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(proxy, strict=False) for proxy in settings.tls_trusted_proxies)


def identities(certificate: x509.Certificate) -> list[str]:
    return [f"sha256:{certificate.fingerprint(hashes.SHA256()).hex()}", certificate.subject.rfc4514_string()]


def find_key(session: Session, certificate: x509.Certificate) -> ApiKey:
    """The key bound to the certificate's fingerprint, else the one bound to its subject."""
    names = identities(certificate)
    keys = session.scalars(
        select(ApiKey).where(ApiKey.client_certificate.in_(names), ApiKey.revoked_at.is_(None))
    ).all()
    key = min(keys, key=lambda k: names.index(k.client_certificate or ""), default=None)
    if key is None:
        raise Unauthorized(
            f"the client certificate ({certificate.subject.rfc4514_string()}) acts as no API key of this deployment",
            field=FIELD,
        )
    return key


def normalized(value: str) -> str:
    """A key's certificate as stored: a fingerprint in lower case without colons, or a subject as given."""
    value = value.strip()
    if value.lower().startswith("sha256:"):
        fingerprint = "sha256:" + value[7:].replace(":", "").lower()
        if not FINGERPRINT.match(fingerprint):
            raise Invalid(
                "a SHA-256 fingerprint is sha256: and 64 hex digits (colons allowed)", field="client_certificate"
            )
        return fingerprint
    try:
        return x509.Name.from_rfc4514_string(value).rfc4514_string()
    except ValueError:
        raise Invalid(
            "a certificate is named by sha256:<fingerprint> or by its subject, e.g. CN=billing,O=Example",
            field="client_certificate",
        ) from None
