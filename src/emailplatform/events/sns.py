"""Amazon SNS messages to our HTTP(S) endpoint: read, verified, and subscriptions confirmed.

SNS cannot send an API key; its signature is the authentication. Every message is checked before anything
in it is used: the signing certificate comes only from an https URL on an allowed host (a regular
expression, `sns_cert_host_pattern`), over a verified TLS connection, and is kept once fetched; it must be
valid now; the signature (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) must match the canonical
string of the message's type. A subscription is confirmed by fetching its SubscribeURL, again only over
https on an allowed host. With `sns_topic_arns` set, a message of any other topic is refused before its
certificate is fetched: anyone can make SNS sign messages of their own topics.
"""

import base64
import binascii
import json
import re
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from emailplatform.config import Settings
from emailplatform.errors import AppError, BadRequest, Forbidden

log = structlog.get_logger("emailplatform.sns")

MAX_MESSAGE_BYTES = 256 * 1024  # SNS's own limit on a message is 256 KiB
MAX_CERTIFICATE_BYTES = 64 * 1024
CACHED_CERTIFICATES = 64
# The fields each message type signs, in the order AWS documents them.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
OPTIONAL_FIELDS = {"Subject"}
SIGNATURE_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


class Unavailable(AppError):
    """An SNS host could not be reached now: a 5xx, so SNS delivers the message again later."""

    status_code = 503
    code = "unavailable"


@dataclass(frozen=True)
class SnsMessage:
    type: str
    message_id: str
    topic_arn: str
    message: str
    fields: dict

    @property
    def subscribe_url(self) -> str:
        return self.fields["SubscribeURL"]


def parse(body: bytes) -> SnsMessage:
    """An SNS message from a request body (JSON, sent as text/plain); BadRequest naming what is wrong."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise BadRequest("the body is larger than any SNS message", field="body")
    try:
        fields = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not JSON", field="body") from None
    if not isinstance(fields, dict):
        raise BadRequest("the body is not an SNS message: a JSON object", field="body")
    kind = fields.get("Type")
    if kind not in SIGNED_FIELDS:
        raise BadRequest(f"Type must be one of {', '.join(SIGNED_FIELDS)}", field="Type")
    for name in (*SIGNED_FIELDS[kind], "Signature", "SignatureVersion", "SigningCertURL"):
        if name not in fields and name not in OPTIONAL_FIELDS:
            raise BadRequest(f"an SNS {kind} has a {name}", field=name)
        if name in fields and not isinstance(fields[name], str):
            raise BadRequest(f"{name} must be a string", field=name)
    return SnsMessage(kind, fields["MessageId"], fields["TopicArn"], fields["Message"], fields)


def string_to_sign(message: SnsMessage) -> bytes:
    """The canonical string SNS signs: each present signed field's name and value, each on its own line."""
    names = [name for name in SIGNED_FIELDS[message.type] if name in message.fields]
    return "".join(f"{name}\n{message.fields[name]}\n" for name in names).encode()


class SnsVerifier:
    """Verifies messages and confirms subscriptions; keeps each signing certificate it fetched."""

    def __init__(
        self,
        host_pattern: str,
        *,
        topic_arns: list[str] | tuple[str, ...] = (),
        ca_file: str | None = None,
        timeout: float = 10.0,
    ):
        self.host_pattern = re.compile(host_pattern)
        self.topic_arns = frozenset(topic_arns)
        context = ssl.create_default_context()
        if ca_file:
            context.load_verify_locations(cafile=ca_file)
        self.client = httpx.Client(verify=context, timeout=timeout, follow_redirects=False, trust_env=False)
        self.certificates: dict[str, x509.Certificate] = {}
        self.lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "SnsVerifier":
        if not settings.sns_topic_arns:
            log.warning("sns messages of any topic are accepted: set EMAILPLATFORM_SNS_TOPIC_ARNS to your SES topics")
        return cls(settings.sns_cert_host_pattern, topic_arns=settings.sns_topic_arns)

    def verify(self, message: SnsMessage) -> None:
        """Forbidden unless the message is of an allowed topic and carries a valid signature from an allowed SNS
        signing certificate."""
        if self.topic_arns and message.topic_arn not in self.topic_arns:
            raise Forbidden(f"the topic {message.topic_arn} is not one this endpoint accepts", field="TopicArn")
        algorithm = SIGNATURE_HASHES.get(message.fields["SignatureVersion"])
        if algorithm is None:
            raise Forbidden("SignatureVersion must be 1 or 2", field="SignatureVersion")
        try:
            signature = base64.b64decode(message.fields["Signature"], validate=True)
        except binascii.Error:
            raise Forbidden("the signature is not base64", field="Signature") from None
        certificate = self.certificate(message.fields["SigningCertURL"])
        now = datetime.now(UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise Forbidden("the signing certificate is expired or not yet valid", field="SigningCertURL")
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise Forbidden("the signing certificate's key is not RSA", field="SigningCertURL")
        try:
            public_key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise Forbidden("the signature does not match the message", field="Signature") from None

    def certificate(self, url: str) -> x509.Certificate:
        """The signing certificate at `url`, fetched once; only https on an allowed host."""
        self.check_url(url, field="SigningCertURL")
        with self.lock:
            cached = self.certificates.get(url)
        if cached is not None:
            return cached
        certificate = self._fetch_certificate(url)
        with self.lock:
            if len(self.certificates) >= CACHED_CERTIFICATES:
                self.certificates.pop(next(iter(self.certificates)))
            self.certificates[url] = certificate
        return certificate

    def confirm_subscription(self, message: SnsMessage) -> None:
        """Confirm a verified SubscriptionConfirmation by fetching its SubscribeURL."""
        url = message.subscribe_url
        self.check_url(url, field="SubscribeURL")
        try:
            response = self.client.get(url)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the SubscribeURL could not be fetched: {exc}", field="SubscribeURL") from None
        if response.status_code != 200:
            raise BadRequest(f"the SubscribeURL answered {response.status_code}", field="SubscribeURL")
        log.info("sns subscription confirmed", topic_arn=message.topic_arn)

    def check_url(self, url: str, *, field: str) -> None:
        try:
            parts = urlsplit(url)
            host, _port = parts.hostname, parts.port  # a port that is not a number raises ValueError
        except ValueError:
            raise Forbidden(f"the {field} is malformed", field=field) from None
        if parts.scheme != "https" or not host or parts.username or parts.password:
            raise Forbidden(f"the {field} must be an https URL", field=field)
        if not self.host_pattern.search(host):
            raise Forbidden(f"the {field} is not on an allowed SNS host: {host}", field=field)

    def _fetch_certificate(self, url: str) -> x509.Certificate:
        try:
            with self.client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise Forbidden(
                        f"the signing certificate URL answered {response.status_code}", field="SigningCertURL"
                    )
                pem = _read_at_most(response, MAX_CERTIFICATE_BYTES)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the signing certificate could not be fetched: {exc}", field="SigningCertURL") from None
        try:
            return x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise Forbidden(
                "the signing certificate URL did not give a PEM certificate", field="SigningCertURL"
            ) from None


def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise Forbidden("the signing certificate is larger than any certificate", field="SigningCertURL")
    return body
