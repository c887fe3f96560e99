"""SMTP to any MTA, through a pool of open connections reused across messages.

At most `smtp_connections` messages are in flight per process, each on a connection of its own; a
connection is opened when no idle one is left, and one the server dropped is replaced, the message
tried once more on the fresh one. Replies map to results: 2xx SENT, 4xx RETRY, 5xx FAILED; a server
that cannot be reached, times out or fails TLS is RETRY with the reason.

A server that offers DSN (RFC 3461) is asked for a notice of success as well as of failure, sent to the
message's return path (the inbound listener) and carrying the message's id as the envelope id; one that does
not is sent no DSN option at all. Its 250 is only a relay's acceptance, never the delivery.

The asyncio parts are made inside the running loop, and made again when a new loop uses the transport
(each `asyncio.run` of a worker), so one transport serves every loop, one after another.
"""

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import structlog

from emailplatform.config import Settings
from emailplatform.sending.transports.base import Handover, OutgoingMessage, SendResult, SendStatus, at_once

log = structlog.get_logger("emailplatform.smtp")

# "250 2.0.0 Ok: queued as 4Bx1y2" (Postfix), "250 OK id=1tX2y3-000Abc-9Z" (Exim), "250 Ok 0100018f..." (SES)
QUEUE_ID = re.compile(r"queued as ([\w.-]+)|\bid=([\w.-]+)|^Ok ([0-9a-f][\w-]{15,})$", re.IGNORECASE)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    require_starttls: bool

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        """`smtp://user:pass@host:port[?starttls=require]` or `smtps://user:pass@host:port`; raises ValueError."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"EMAILPLATFORM_SMTP_URL must be smtp://host:port or smtps://host:port, not {url!r}")
        starttls = parse_qs(parts.query).get("starttls", ["auto"])[-1]
        if starttls not in ("auto", "require") or (starttls == "require" and parts.scheme == "smtps"):
            raise ValueError("EMAILPLATFORM_SMTP_URL: starttls is `auto` or `require`, and only for smtp://")
        implicit_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit_tls,
            require_starttls=starttls == "require",
        )

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def tls_context(verify: bool, ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpTransport:
    def __init__(self, server: SmtpServer, *, connections: int, timeout: float, context: ssl.SSLContext):
        self.server = server
        self.connections = connections
        self.timeout = timeout
        self.context = context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[aiosmtplib.SMTP] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> "SmtpTransport":
        return cls(
            SmtpServer.from_url(settings.smtp_url),
            connections=settings.smtp_connections,
            timeout=settings.smtp_timeout_seconds,
            context=tls_context(settings.smtp_verify_tls, settings.smtp_ca_file),
        )

    async def send(self, message: OutgoingMessage, handover: Handover = at_once) -> SendResult:
        async with self._slots_of_running_loop():
            lost: BaseException | None = None
            for attempt in (1, 2):
                try:
                    smtp = await self._checkout()
                except (aiosmtplib.SMTPException, OSError) as exc:
                    return SendResult(SendStatus.RETRY, response=f"cannot connect to {self.server}: {_reason(exc)}")
                try:
                    result = await _transaction(smtp, message, handover)
                except aiosmtplib.SMTPTimeoutError as exc:
                    smtp.close()
                    return SendResult(SendStatus.RETRY, response=f"{self.server} did not answer: {_reason(exc)}")
                except (aiosmtplib.SMTPServerDisconnected, OSError) as exc:
                    smtp.close()
                    log.info("smtp connection lost", server=str(self.server), attempt=attempt, reason=_reason(exc))
                    lost = exc
                    continue
                except BaseException:
                    smtp.close()
                    raise
                self._checkin(smtp)
                return result
            return SendResult(SendStatus.RETRY, response=f"the connection to {self.server} was lost: {_reason(lost)}")

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        if self._loop is asyncio.get_running_loop():
            await asyncio.gather(*(_quit(smtp) for smtp in idle))
        else:
            _abandon(idle)
        self._loop = self._slots = None

    def _slots_of_running_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:  # a new loop: the old loop's connections are unusable
            _abandon(self._idle)
            self._loop, self._slots, self._idle = loop, asyncio.Semaphore(self.connections), []
        return self._slots

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp
        smtp = aiosmtplib.SMTP(
            hostname=self.server.host,
            port=self.server.port,
            username=self.server.username,
            password=self.server.password,
            use_tls=self.server.implicit_tls,
            start_tls=True if self.server.require_starttls else None,
            tls_context=self.context,
            timeout=self.timeout,
        )
        try:
            await smtp.connect()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _checkin(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected:
            self._idle.append(smtp)


async def _transaction(smtp: aiosmtplib.SMTP, message: OutgoingMessage, handover: Handover) -> SendResult:
    """One MAIL/RCPT/DATA, the handover awaited before DATA; a refused one is reset (RSET). Plain ASCII envelopes,
    nearly all of them, skip aiosmtplib's address parsing (a tenth of a message's cost): our addresses were
    validated long before."""
    if not (message.envelope_from.isascii() and message.recipient.isascii()):
        await handover()
        return await _international_transaction(smtp, message)
    if smtp.is_ehlo_or_helo_needed:
        await smtp.ehlo()
    mail_options, rcpt_options = dsn_options(message) if smtp.supports_extension("dsn") else ([], [])
    try:
        for command, argument, options, accepted in (
            (b"MAIL", b"FROM:<" + message.envelope_from.encode() + b">", mail_options, (250,)),
            (b"RCPT", b"TO:<" + message.recipient.encode() + b">", rcpt_options, (250, 251)),
        ):
            response = await smtp.execute_command(command, argument, *(option.encode() for option in options))
            if response.code not in accepted:
                await _reset(smtp)
                return _refusal(response.code, response.message)
        await handover()
        response = await smtp.data(message.raw)
    except aiosmtplib.SMTPResponseException as exc:
        await _reset(smtp)
        return _refusal(exc.code, exc.message)
    return SendResult(SendStatus.SENT, response=f"250 {response.message}", provider_id=_queue_id(response.message))


async def _international_transaction(smtp: aiosmtplib.SMTP, message: OutgoingMessage) -> SendResult:
    """SMTPUTF8 for a non-ASCII address, through aiosmtplib's own sendmail (which resets a refused one)."""
    mail_options, rcpt_options = dsn_options(message) if smtp.supports_extension("dsn") else ([], [])
    try:
        _, reply = await smtp.sendmail(
            message.envelope_from,
            [message.recipient],
            message.raw,
            mail_options=["SMTPUTF8", *mail_options],
            rcpt_options=rcpt_options,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0]
        return _refusal(refused.code, refused.message)
    except aiosmtplib.SMTPResponseException as exc:
        return _refusal(exc.code, exc.message)
    except (aiosmtplib.SMTPNotSupported, ValueError) as exc:  # an address that cannot be sent to this server
        return SendResult(SendStatus.FAILED, response=_reason(exc))
    return SendResult(SendStatus.SENT, response=f"250 {reply}", provider_id=_queue_id(reply))


def dsn_options(message: OutgoingMessage) -> tuple[list[str], list[str]]:
    """The MAIL and RCPT options of RFC 3461: only the headers back (RET=HDRS), our message id as the envelope id,
    a notice of success and of failure, and the original recipient (ORCPT, for an ASCII address)."""
    rcpt = ["NOTIFY=SUCCESS,FAILURE"]
    if message.recipient.isascii():
        rcpt.append(f"ORCPT=rfc822;{xtext(message.recipient)}")
    return ["RET=HDRS", f"ENVID={message.message_id.hex}"], rcpt


def xtext(value: str) -> str:
    """RFC 3461's xtext: a printable ASCII character but `+` and `=` stands for itself, any other is `+XX`."""
    return "".join(c if "!" <= c <= "~" and c not in "+=" else f"+{ord(c):02X}" for c in value)


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(aiosmtplib.SMTPResponseException):
        await smtp.rset()


def _refusal(code: int, text: str) -> SendResult:
    status = SendStatus.FAILED if 500 <= code < 600 else SendStatus.RETRY
    return SendResult(status, response=f"{code} {text}")


def _queue_id(reply: str) -> str | None:
    match = QUEUE_ID.search(reply.strip())
    return next((group for group in match.groups() if group), None) if match else None


def _reason(exc: BaseException | None) -> str:
    return (str(exc) or type(exc).__name__) if exc else "no reason given"


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


def _abandon(connections: list[aiosmtplib.SMTP]) -> None:
    """Drop connections of an event loop that is no longer running."""
    for smtp in connections:
        try:
            smtp.close()
        except RuntimeError:  # their loop is closed, and its sockets with it
            pass
