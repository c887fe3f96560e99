"""Messages signed by a verified domain's key, sent through a real SMTP server, and checked by two
independent verifiers: dkimpy and Perl's Mail::DKIM, each reading the key from the test's DNS server."""

import asyncio
import shutil
import subprocess
import uuid

import aiosmtplib
import dkim
import pytest
from dkim.util import parse_tag_value

from emailplatform.domains import service
from emailplatform.domains.dns import lookup, make_resolver
from emailplatform.sending.mime import MessageSkeleton, make_message_id
from tests.conftest import new_tenant
from tests.domains.helpers import register, verified_domain

PERL_VERIFIER = r"""
use Mail::DKIM::Verifier;
use Net::DNS::Resolver;
my ($host, $port) = @ARGV;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(nameservers => [$host], port => $port, udppacketsize => 1232));
my $verifier = Mail::DKIM::Verifier->new;
binmode STDIN;
while (<STDIN>) { s/\r?\n\z/\r\n/; $verifier->PRINT($_); }
$verifier->CLOSE;
print $verifier->result_detail, "\n";
"""


def has_mail_dkim() -> bool:
    return (
        shutil.which("perl") is not None
        and subprocess.run(["perl", "-MMail::DKIM::Verifier", "-MNet::DNS", "-e", "1"], capture_output=True).returncode
        == 0
    )


def mail_dkim_result(raw: bytes, dns_server) -> str:
    host, port = dns_server.address.split(":")
    done = subprocess.run(["perl", "-e", PERL_VERIFIER, host, port], input=raw, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


def dkimpy_verifies(raw: bytes, dns_server) -> bool:
    resolver = make_resolver([dns_server.address], lifetime=5)

    def txt_record(name: bytes, timeout: int = 5) -> bytes:
        values = lookup(resolver, name.decode().rstrip("."), "TXT").values
        return values[0].encode() if values else b""

    return dkim.verify(raw, dnsfunc=txt_record)


def campaign_message(from_email: str = "news@example.com") -> bytes:
    skeleton = MessageSkeleton(
        from_email,
        "Example News",
        "help@example.com",
        {
            "List-Unsubscribe": "<https://t.example.net/u/abc123>, <mailto:unsubscribe@example.net?subject=abc123>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    return skeleton.build(
        to="bob@example.org",
        subject="Our news, déjà vu",
        html="<p>Hello   Bob,</p>\n<p>" + "a long line of news " * 20 + "</p>\n",
        text="Hello Bob,\n\nFrom here on \tnews.\n",
        message_id=make_message_id(uuid.uuid4(), from_email),
    )


def send_through(smtp_sink, raw: bytes) -> bytes:
    asyncio.run(
        aiosmtplib.send(
            raw,
            sender="bounces+1@bounces.platform.test",
            recipients=["bob@example.org"],
            hostname=smtp_sink.host,
            port=smtp_sink.port,
        )
    )
    return smtp_sink.received[-1].raw


@pytest.fixture
def signed_and_received(client, runtime, tenant, dns_server, smtp_sink) -> bytes:
    verified_domain(client, dns_server)
    with runtime.db.session(write=False) as session:
        signer = service.signer_for(session, tenant.tenant_id, "news@Example.com")
    assert signer is not None
    return send_through(smtp_sink, signer.sign(campaign_message()))


def test_a_signed_message_verifies_after_smtp_with_dkimpy(signed_and_received, dns_server):
    assert signed_and_received.startswith(b"DKIM-Signature:")
    assert dkimpy_verifies(signed_and_received, dns_server)


@pytest.mark.skipif(not has_mail_dkim(), reason="Perl Mail::DKIM is not installed (apt-get install libmail-dkim-perl)")
def test_a_signed_message_verifies_after_smtp_with_perl_mail_dkim(signed_and_received, dns_server):
    assert mail_dkim_result(signed_and_received, dns_server) == "pass"
    received_by_a_relay = b"Received: from relay.example.org by mx.example.org;\r\n  Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    assert mail_dkim_result(received_by_a_relay + signed_and_received, dns_server) == "pass"


def test_the_signature_covers_the_headers_that_matter(signed_and_received):
    header = signed_and_received.split(b"\r\nFrom:", 1)[0].replace(b"\r\n", b"")
    tags = parse_tag_value(header.split(b":", 1)[1])

    assert (tags[b"a"], tags[b"c"], tags[b"d"]) == (b"rsa-sha256", b"relaxed/relaxed", b"example.com")
    signed = set(tags[b"h"].replace(b" ", b"").split(b":"))
    assert signed == {
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"mime-version",
        b"content-type",
        b"reply-to",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
    }


@pytest.mark.parametrize(
    "original, changed",
    [
        (b"To: bob@example.org", b"To: eve@example.org"),
        (b"List-Unsubscribe: <https://t.example.net/u/abc123>", b"List-Unsubscribe: <https://evil.example/u>"),
        (b"Hello Bob", b"Hello Eve"),
    ],
)
def test_a_changed_message_fails_verification(signed_and_received, dns_server, original, changed):
    tampered = signed_and_received.replace(original, changed, 1)
    assert tampered != signed_and_received

    assert not dkimpy_verifies(tampered, dns_server)
    if has_mail_dkim():
        assert mail_dkim_result(tampered, dns_server).startswith("fail")


def test_there_is_no_signer_for_a_domain_that_is_not_verified_or_not_the_tenants(client, runtime, tenant, dns_server):
    verified_domain(client, dns_server, "verified.example")
    register(client, "registered.example")
    other = new_tenant(runtime)

    with runtime.db.session(write=False) as session:
        assert service.signer_for(session, tenant.tenant_id, "a@verified.example") is not None
        assert service.signer_for(session, tenant.tenant_id, "a@registered.example") is None
        assert service.signer_for(session, tenant.tenant_id, "a@unknown.example") is None
        assert service.signer_for(session, other.tenant_id, "a@verified.example") is None
