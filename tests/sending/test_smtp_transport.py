"""The SMTP transport against real aiosmtpd servers on loopback: plain, STARTTLS, implicit TLS, with login."""

import asyncio
import datetime
import ipaddress
import ssl
import uuid
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emailplatform.config import Settings
from emailplatform.sending.mime import MessageSkeleton, make_message_id
from emailplatform.sending.transports import OutgoingMessage, SendStatus, create_transport
from emailplatform.sending.transports.smtp import SmtpServer, SmtpTransport
from tests.conftest import SmtpSink, free_port
from tests.helpers import send_through

SENDER = "news@example.com"


def message(recipient: str = "bob@example.org", subject: str = "Hello Zoë 🎉") -> OutgoingMessage:
    message_id = uuid.uuid4()
    raw = MessageSkeleton(SENDER, "Example", None).build(
        to=recipient,
        subject=subject,
        text="Hi\n.\nbye\n",
        html="<p>Hi</p>",
        message_id=make_message_id(message_id, SENDER),
    )
    return OutgoingMessage(uuid.uuid4(), message_id, SENDER, recipient, raw)


def smtp_transport(url: str, **settings) -> SmtpTransport:
    return create_transport(Settings(transport="smtp", smtp_url=url, smtp_timeout_seconds=5, **settings), storage=None)


class CountingSink(SmtpSink):
    """The shared sink, also counting the connections messages arrive on and whether they were TLS."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.peers: set = set()
        self.tls: list[bool] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.peers.add(session.peer)
        self.tls.append(server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"p@ss:w/rd%", handled=False)


@pytest.fixture
def start_sink():
    controllers = []

    def start(sink: CountingSink | None = None, **options) -> CountingSink:
        sink = sink or CountingSink(port=free_port())
        controller = Controller(sink, hostname=sink.host, port=sink.port, **options)
        controller.start()
        controllers.append(controller)
        sink.controller = controller
        return sink

    yield start
    for controller in controllers:
        if not controller.loop.is_closed():  # a test may have stopped it already
            controller.stop()


def test_sent_message_arrives_intact(smtp_sink):
    sent = message()
    [result] = send_through(smtp_transport(smtp_sink.url), [sent])
    assert result.status == SendStatus.SENT
    assert result.response == "250 Message accepted for delivery"
    [received] = smtp_sink.received
    assert (received.mail_from, received.rcpt_tos) == (SENDER, ["bob@example.org"])
    assert received.raw == sent.raw
    parsed = received.message
    assert parsed["Subject"] == "Hello Zoë 🎉"
    assert parsed.get_body(("plain",)).get_content() == "Hi\r\n.\r\nbye\r\n"


def test_refusals_are_retry_or_failed_with_the_reply_and_the_connection_goes_on(start_sink):
    sink = start_sink()
    sink.replies = {"later@example.org": "450 4.2.1 try later", "nobody@example.org": "550 5.1.1 no such user"}
    recipients = ["later@example.org", "nobody@example.org", "bob@example.org"]
    transport = smtp_transport(sink.url, smtp_connections=1)
    later, nobody, bob = send_through(transport, [message(r) for r in recipients])
    assert (later.status, later.response) == (SendStatus.RETRY, "450 4.2.1 try later")
    assert (nobody.status, nobody.response) == (SendStatus.FAILED, "550 5.1.1 no such user")
    assert bob.status == SendStatus.SENT
    assert [m.rcpt_tos for m in sink.received] == [["bob@example.org"]]
    assert len(sink.peers) == 1


class GatheringSink(CountingSink):
    """Holds the first messages' DATA until `together` of them are in flight at once (or a while has passed, so a
    transport that never sends that many together is seen failing, not hanging), counting the most at once."""

    def __init__(self, together: int, **kwargs):
        super().__init__(**kwargs)
        self.together, self.in_flight, self.most_at_once = together, 0, 0
        self.gathered: asyncio.Event | None = None

    async def handle_DATA(self, server, session, envelope):
        self.gathered = self.gathered or asyncio.Event()
        self.in_flight += 1
        self.most_at_once = max(self.most_at_once, self.in_flight)
        if self.in_flight >= self.together:
            self.gathered.set()
        try:
            await asyncio.wait_for(self.gathered.wait(), timeout=2)  # under the client's 5 s timeout
        except TimeoutError:
            self.gathered.set()  # they never came together: the rest go through unheld
        finally:
            self.in_flight -= 1
        return await super().handle_DATA(server, session, envelope)


def test_connections_are_pooled_and_bounded(start_sink):
    sink = start_sink(GatheringSink(together=3, port=free_port()))
    transport = smtp_transport(sink.url, smtp_connections=3)
    results = send_through(transport, [message(f"user{i}@example.org") for i in range(60)])
    assert {r.status for r in results} == {SendStatus.SENT}
    assert len(sink.received) == 60
    assert sink.most_at_once == 3, "three messages were never in flight at once"
    assert len(sink.peers) == 3, "60 messages took other connections than the pool's three"


def test_one_transport_serves_one_event_loop_after_another(smtp_sink):
    transport = smtp_transport(smtp_sink.url)
    first = asyncio.run(transport.send(message()))
    second = asyncio.run(transport.send(message()))
    asyncio.run(transport.close())
    assert [first.status, second.status] == [SendStatus.SENT, SendStatus.SENT]
    assert len(smtp_sink.received) == 2


def test_a_server_that_goes_away_is_retry_and_sending_resumes_when_it_is_back(start_sink):
    sink = start_sink()
    transport = smtp_transport(sink.url, smtp_connections=2)

    async def main():
        assert (await transport.send(message())).status == SendStatus.SENT
        sink.controller.stop()
        gone = await transport.send(message())
        start_sink(sink)
        back = await transport.send(message())
        await transport.close()
        return gone, back

    gone, back = asyncio.run(main())
    assert gone.status == SendStatus.RETRY
    assert gone.response.startswith(f"cannot connect to 127.0.0.1:{sink.port}")
    assert back.status == SendStatus.SENT
    assert len(sink.received) == 2


def test_a_dropped_connection_is_replaced_without_losing_the_message(start_sink):
    sink = start_sink()
    transport = smtp_transport(sink.url, smtp_connections=1)

    async def main():
        first = await transport.send(message())
        sink.controller.stop()  # drops the pooled connection
        start_sink(sink)
        second = await transport.send(message())
        await transport.close()
        return first, second

    first, second = asyncio.run(main())
    assert [first.status, second.status] == [SendStatus.SENT, SendStatus.SENT]
    assert len(sink.received) == 2 and len(sink.peers) == 2


def test_credentials_come_percent_decoded_from_the_url(start_sink):
    sink = CountingSink(port=free_port())
    start_sink(sink, authenticator=sink.authenticate, auth_require_tls=False)
    host = sink.url.removeprefix("smtp://")
    good = send_through(
        smtp_transport(f"smtp://{quote('zoë@example.com', safe='')}:{quote('p@ss:w/rd%', safe='')}@{host}"), [message()]
    )
    bad = send_through(smtp_transport(f"smtp://zoe:wrong@{host}"), [message()])
    assert good[0].status == SendStatus.SENT
    assert bad[0].status == SendStatus.RETRY and "535" in bad[0].response
    assert sink.logins[0] == ("zoë@example.com", "p@ss:w/rd%")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA of this test's own, and a certificate it signed for 127.0.0.1 and localhost."""
    directory = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emailplatform test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    return str(directory / "ca.pem"), context


def test_starttls_when_the_server_offers_it(start_sink, certificates):
    ca_file, server_context = certificates
    sink = start_sink(tls_context=server_context, require_starttls=True)
    [result] = send_through(smtp_transport(sink.url, smtp_ca_file=ca_file), [message()])
    assert result.status == SendStatus.SENT
    assert sink.tls == [True]


def test_starttls_required_of_a_server_that_does_not_offer_it_is_retry(smtp_sink):
    [result] = send_through(smtp_transport(smtp_sink.url + "?starttls=require"), [message()])
    assert result.status == SendStatus.RETRY and "STARTTLS" in result.response
    assert smtp_sink.received == []


def test_implicit_tls(start_sink, certificates):
    ca_file, server_context = certificates
    sink = start_sink(ssl_context=server_context)
    url = sink.url.replace("smtp://", "smtps://")
    [result] = send_through(smtp_transport(url, smtp_ca_file=ca_file), [message()])
    assert result.status == SendStatus.SENT
    assert sink.tls == [True]


def test_a_certificate_nobody_vouches_for_is_retry(start_sink, certificates):
    _, server_context = certificates
    sink = start_sink(ssl_context=server_context)
    [result] = send_through(smtp_transport(sink.url.replace("smtp://", "smtps://")), [message()])
    assert result.status == SendStatus.RETRY and "certificate" in result.response.lower()
    assert sink.received == []


def test_smtp_urls():
    assert SmtpServer.from_url("smtp://mail.example.com") == SmtpServer(
        "mail.example.com", 25, None, None, False, False
    )
    assert SmtpServer.from_url("smtps://u%40x:p%2Fw@mail.example.com") == SmtpServer(
        "mail.example.com", 465, "u@x", "p/w", True, False
    )
    assert SmtpServer.from_url("smtp://mail.example.com:587?starttls=require").require_starttls
    for bad in ("http://mail.example.com", "smtp://", "smtp://h?starttls=never", "smtps://h?starttls=require"):
        with pytest.raises(ValueError):
            SmtpServer.from_url(bad)


class EnvelopeSink(CountingSink):
    """The shared sink, also keeping each message's MAIL and RCPT options; `dsn` makes it offer DSN in EHLO."""

    def __init__(self, dsn: bool, **kwargs):
        super().__init__(**kwargs)
        self.dsn = dsn
        self.options: list[tuple[list[str], list[str]]] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-DSN", responses[-1]] if self.dsn else responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_options.extend(rcpt_options)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        mail_options = [o for o in envelope.mail_options if not o.startswith("SIZE=")]  # aiosmtplib's own
        self.options.append((mail_options, list(envelope.rcpt_options)))
        return await super().handle_DATA(server, session, envelope)


class DsnSMTP(SMTP):
    """aiosmtpd, which refuses the DSN parameters it does not know, taking them as a DSN-capable server does."""

    def _getparams(self, params):
        known = super()._getparams(params)
        return (
            None if known is None else {k: v for k, v in known.items() if k not in ("RET", "ENVID", "NOTIFY", "ORCPT")}
        )


class DsnController(Controller):
    def factory(self):
        return DsnSMTP(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def dsn_sink():
    sink = EnvelopeSink(dsn=True, port=free_port())
    controller = DsnController(sink, hostname=sink.host, port=sink.port, enable_SMTPUTF8=True)
    controller.start()
    yield sink
    controller.stop()


def test_a_server_that_offers_dsn_is_asked_for_success_and_failure_notices(dsn_sink):
    ascii_message, utf8_message = message("bob+news@example.org"), message("zoë@example.org")
    results = send_through(smtp_transport(dsn_sink.url), [ascii_message, utf8_message])
    assert {r.status for r in results} == {SendStatus.SENT}
    by_recipient = {mail.rcpt_tos[0]: options for mail, options in zip(dsn_sink.received, dsn_sink.options)}
    # aiosmtpd hands options over upper-cased
    assert by_recipient["bob+news@example.org"] == (
        ["RET=HDRS", f"ENVID={ascii_message.message_id.hex.upper()}"],
        ["NOTIFY=SUCCESS,FAILURE", "ORCPT=RFC822;BOB+2BNEWS@EXAMPLE.ORG"],
    )
    assert by_recipient["zoë@example.org"] == (
        ["SMTPUTF8", "RET=HDRS", f"ENVID={utf8_message.message_id.hex.upper()}"],
        ["NOTIFY=SUCCESS,FAILURE"],
    )


def test_a_server_that_does_not_offer_dsn_is_sent_no_dsn_option(start_sink):
    sink = start_sink(EnvelopeSink(dsn=False, port=free_port()), enable_SMTPUTF8=True)
    results = send_through(smtp_transport(sink.url), [message("bob@example.org"), message("zoë@example.org")])
    assert {r.status for r in results} == {SendStatus.SENT}
    assert sorted(sink.options) == [([], []), (["SMTPUTF8"], [])]


class AcceptingSink(CountingSink):
    """The shared sink, also keeping the recipients whose RCPT it accepted."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.accepted: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = await super().handle_RCPT(server, session, envelope, address, rcpt_options)
        if reply.startswith("250"):
            self.accepted.append(address)
        return reply


def test_the_envelope_goes_ahead_and_the_message_waits_for_its_handover(start_sink):
    """The sender's slot is awaited after RCPT and before DATA: until it is given, the server has the envelope
    and no message; a recipient refused at RCPT never waits for one."""
    sink = start_sink(AcceptingSink(port=free_port(), replies={"gone@example.org": "550 5.1.1 no such user"}))
    transport = smtp_transport(sink.url, smtp_connections=1)
    handed_over: list[str] = []

    async def main():
        given = asyncio.Event()

        async def handover():
            handed_over.append(f"{len(sink.accepted)} accepted, {len(sink.received)} received")
            await given.wait()

        sending = asyncio.create_task(transport.send(message("bob@example.org"), handover))
        for _ in range(500):  # up to 5 s for the transport to reach the handover
            if handed_over:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        waiting = (sink.accepted.copy(), len(sink.received))
        given.set()
        sent = await sending
        refused = await transport.send(message("gone@example.org"), handover)
        await transport.close()
        return waiting, sent, refused

    waiting, sent, refused = asyncio.run(main())
    assert waiting == (["bob@example.org"], 0)
    assert sent.status == SendStatus.SENT and len(sink.received) == 1
    assert refused.status == SendStatus.FAILED and refused.response.startswith("550")
    assert handed_over == ["1 accepted, 0 received"]
