"""SMTP submission: applications that speak SMTP hand mail to the platform, which sends it as a transactional email
(emails/service.py): each envelope recipient gets their copy through the campaigns' pipeline, with the tenant's
tracking and DKIM, and suppressed recipients are accepted here and suppressed there.

Port 587 offers STARTTLS, 465 is TLS from the first byte; AUTH (PLAIN or LOGIN, any user name, an API key as the
password) is required, and only over TLS. Each refusal has its own reply: 535 a bad key, 553 a sender the tenant may
not send as, 552 a message over EMAILPLATFORM_EMAIL_MAX_BYTES, 550 a message that cannot be sent as it is."""

import asyncio
import base64
import ssl
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import ValidationError

from emailplatform import scopes
from emailplatform.config import Settings
from emailplatform.domains import service as domain_service
from emailplatform.emails import service
from emailplatform.emails.schemas import MAX_RECIPIENTS, EmailCreate
from emailplatform.errors import AppError, Unauthorized
from emailplatform.models import ApiKey
from emailplatform.runtime import Runtime
from emailplatform.tenants import service as tenant_service

log = structlog.get_logger("emailplatform.submission")
SUBMISSION_SCOPE = "emails:write"  # what POST /api/v1/emails needs: submission is the same send
NOT_SENDING_KEY = f"535 5.7.8 This API key may not send email: it needs the {SUBMISSION_SCOPE} scope (or send, or full)"
CARRIED_HEADERS = ("in-reply-to", "references", "auto-submitted", "precedence")  # and every X- header


class BadSubmission(ValueError):
    pass


class NotConfigured(RuntimeError):
    pass


class SubmissionHandler:
    """aiosmtpd handler and authenticator: the session's auth_data is the tenant's id once AUTH succeeded."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        try:
            key = self._key(auth_data.password.decode("utf-8", "replace"))
        except Unauthorized:
            log.info("submission refused: bad API key", peer=str(session.peer))
            return AuthResult(success=False, handled=False)  # 535 5.7.8
        if not scopes.grants(frozenset(key.scopes), SUBMISSION_SCOPE):
            log.info("submission refused: the key may not send email", peer=str(session.peer), key=key.prefix)
            return AuthResult(success=False, handled=False, message=NOT_SENDING_KEY)
        return AuthResult(success=True, auth_data=key.tenant_id)

    def _key(self, plain: str) -> ApiKey:
        cached = self.runtime.api_keys.get(tenant_service.hash_key(plain))
        if cached:
            return cached
        with self.runtime.db.session(write=False) as session:
            key = tenant_service.authenticate(session, plain)
        self.runtime.api_keys.put(key)
        return key

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        if not address:
            return "553 5.1.7 A null sender cannot submit mail"
        refusal = await asyncio.to_thread(self._sender_refusal, session.auth_data, address)
        if refusal:
            return f"553 5.7.1 {refusal}"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def _sender_refusal(self, tenant_id: uuid.UUID, address: str) -> str | None:
        with self.runtime.db.session(write=False) as session:
            try:
                domain_service.check_sender(session, tenant_id, address, self.runtime.settings)
            except AppError as exc:
                return exc.message
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 At most {MAX_RECIPIENTS} recipients a message"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        try:
            email = to_email(envelope.original_content, envelope.rcpt_tos, envelope.mail_from)
            answer = await asyncio.to_thread(self._send, session.auth_data, email)
        except BadSubmission as exc:
            return f"550 5.6.0 {exc}"
        except AppError as exc:
            return f"550 5.7.1 {exc.message}"
        except Exception:
            log.exception("a submitted message could not be accepted; the client will retry")
            return "451 4.3.0 Temporary failure, please try again later"
        email_id = answer["emails"][0]["id"]
        log.info("submission accepted", email_id=email_id, recipients=len(envelope.rcpt_tos))
        return f"250 2.0.0 OK queued as {email_id}"

    def _send(self, tenant_id: uuid.UUID, email: EmailCreate) -> dict:
        with self.runtime.db.session() as session:
            return service.accept_all(session, self.runtime, tenant_id, [email])


def to_email(raw: bytes, recipients: list[str], mail_from: str) -> EmailCreate:
    """A submitted message as the API's email: From, Subject and the bodies from the message, attachments and the
    headers worth carrying; its envelope recipients are its recipients (those in neither To nor Cc are Bcc)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    name, address = (getaddresses([str(message.get("From", ""))]) or [("", "")])[0]
    wanted = {r.lower() for r in recipients}
    to, cc = (_listed(message, header, wanted) for header in ("To", "Cc"))
    shown = {a.lower() for a in to + cc}
    bcc = [r for r in recipients if r.lower() not in shown]
    if not to:
        to, bcc = bcc[:1], bcc[1:]
    fields = {
        "from": {"email": address or mail_from, "name": name or None},
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "reply_to": _first_address(message, "Reply-To"),
        "subject": str(message.get("Subject", "")).strip() or "(no subject)",
        **_bodies(message),
        "attachments": _attachments(message),
        "headers": _carried_headers(message),
    }
    try:
        return EmailCreate.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadSubmission(f"{where}: {first['msg']}" if where else first["msg"]) from None


def _listed(message: EmailMessage, header: str, wanted: set[str]) -> list[str]:
    addresses = [a for _, a in getaddresses([str(v) for v in message.get_all(header, [])]) if a]
    return [a for a in addresses if a.lower() in wanted]


def _first_address(message: EmailMessage, header: str) -> str | None:
    found = [a for _, a in getaddresses([str(v) for v in message.get_all(header, [])]) if a]
    return found[0] if found else None


def _bodies(message: EmailMessage) -> dict:
    bodies = {}
    for kind in ("html", "plain"):
        part = message.get_body((kind,))
        if part is not None:
            try:
                bodies["html" if kind == "html" else "text"] = part.get_content()
            except (LookupError, UnicodeError) as exc:
                raise BadSubmission(f"the text/{kind} part cannot be decoded: {exc}") from None
    if not bodies:
        raise BadSubmission("the message has no text/plain or text/html body")
    return bodies


def _content_of(part: EmailMessage) -> bytes:
    content = part.get_payload(decode=True)  # a leaf part's decoded bytes (None for an empty one)
    return content if isinstance(content, bytes) else b""


def _attachments(message: EmailMessage) -> list[dict]:
    return [
        {
            "filename": part.get_filename() or "attachment",
            "content_type": part.get_content_type(),
            "content": base64.b64encode(_content_of(part)).decode("ascii"),
        }
        for part in message.iter_attachments()
    ]


def _carried_headers(message: EmailMessage) -> dict[str, str]:
    return {
        name: " ".join(str(value).split())
        for name, value in message.items()
        if name.lower().startswith("x-") or name.lower() in CARRIED_HEADERS
    }


def tls_context(settings: Settings) -> ssl.SSLContext:
    if not (settings.submission_cert_file and settings.submission_key_file):
        raise NotConfigured(
            "SMTP submission needs a certificate: set EMAILPLATFORM_SUBMISSION_CERT_FILE and "
            "EMAILPLATFORM_SUBMISSION_KEY_FILE (AUTH sends an API key, so only over TLS)"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.submission_cert_file, settings.submission_key_file)
    return context


def start_listeners(runtime: Runtime) -> list[Controller]:
    """Start the submission ports (STARTTLS, implicit TLS; a port of 0 is not opened), each in a thread of its own;
    stop them with `.stop()`."""
    settings = runtime.settings
    context = tls_context(settings)
    handler = SubmissionHandler(runtime)
    common: dict[str, Any] = {
        "hostname": settings.submission_host,
        "authenticator": handler.authenticate,
        "data_size_limit": settings.email_max_bytes,
    }
    listeners = []
    try:
        if settings.submission_port:
            listeners.append(
                Controller(
                    handler,
                    port=settings.submission_port,
                    tls_context=context,
                    require_starttls=True,
                    auth_required=True,
                    auth_require_tls=True,
                    **common,
                )
            )
            listeners[-1].start()
        if settings.submission_tls_port:
            listeners.append(
                Controller(  # all TLS, which aiosmtpd's auth checks do not see: handle_MAIL asks for AUTH
                    handler,
                    port=settings.submission_tls_port,
                    ssl_context=context,
                    auth_required=False,
                    auth_require_tls=False,
                    **common,
                )
            )
            listeners[-1].start()
    except BaseException:
        for listener in listeners:
            listener.stop(no_assert=True)
        raise
    return listeners


def describe(settings) -> str:
    """Where the listeners listen, in words."""
    ports = [f"{settings.submission_port} (STARTTLS)"] if settings.submission_port else []
    ports += [f"{settings.submission_tls_port} (TLS)"] if settings.submission_tls_port else []
    return f"{settings.submission_host}, port {' and '.join(ports) or 'none'}"
