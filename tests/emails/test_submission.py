"""SMTP submission with real clients (smtplib, aiosmtplib) over real TLS: mail in -> a transactional email -> each
recipient's copy in the SMTP sink; every refusal its own reply."""

import asyncio
import datetime
import ipaddress
import smtplib
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emailplatform.emails import submission
from emailplatform.tenants import service as tenant_service
from tests.conftest import clean_env, free_port, run_jobs


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, its key, and a client context that trusts it."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file, ssl.create_default_context(cafile=str(cert_file))


@pytest.fixture
def listening(smtp_runtime, certificate):
    settings = smtp_runtime.settings
    settings.submission_cert_file, settings.submission_key_file, _ = certificate
    settings.submission_port, settings.submission_tls_port = free_port(), free_port()
    listeners = submission.start_listeners(smtp_runtime)
    yield settings
    for listener in listeners:
        listener.stop()


def message(**headers) -> EmailMessage:
    mail = EmailMessage()
    for name, value in (
        {"From": "Acme <app@sender.example.com>", "To": "ada@example.com", "Subject": "Hello"} | headers
    ).items():
        mail[name] = value
    mail.set_content("Hello Ada,\nyour report is attached.")
    mail.add_alternative('<p>Hello Ada, <a href="https://acme.example.com/r">your report</a>.</p>', subtype="html")
    mail.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="report.csv")
    return mail


def test_smtplib_submits_over_starttls_and_each_recipient_gets_a_copy(
    client, tenant, smtp_runtime, smtp_sink, listening, certificate
):
    mail = message(Cc="cy@example.org", **{"X-Report": "weekly"})
    with smtplib.SMTP("127.0.0.1", listening.submission_port, timeout=30) as smtp:
        smtp.starttls(context=certificate[2])
        smtp.login("apikey", tenant.api_key)
        refused = smtp.send_message(mail, to_addrs=["ada@example.com", "cy@example.org", "audit@example.net"])
        assert refused == {}
        code, reply = smtp.noop()
    run_jobs(smtp_runtime)

    received = smtp_sink.by_recipient()
    assert sorted(received) == ["ada@example.com", "audit@example.net", "cy@example.org"]
    copy = received["audit@example.net"][0].message
    assert copy["From"] == "Acme <app@sender.example.com>" and copy["Subject"] == "Hello"
    assert copy["To"] == "ada@example.com" and copy["Cc"] == "cy@example.org" and copy["X-Report"] == "weekly"
    assert b"audit@example.net" not in received["ada@example.com"][0].raw  # Bcc stays hidden
    assert "/t/c/" in copy.get_body(("html",)).get_content()  # tracked, as the API's default
    [attachment] = copy.iter_attachments()
    assert attachment.get_filename() == "report.csv" and attachment.get_content() == "a,b\n1,2\n"
    [email] = client.get("/api/v1/emails").json()["items"]
    assert sorted(r["email"] for r in email["recipients"]) == ["ada@example.com", "audit@example.net", "cy@example.org"]
    assert {r["status"] for r in email["recipients"]} == {"SENT"}


def test_aiosmtplib_submits_over_implicit_tls_and_the_reply_names_the_email(
    client, tenant, smtp_runtime, smtp_sink, listening, certificate
):
    async def submit():
        return await aiosmtplib.send(
            message(),
            hostname="127.0.0.1",
            port=listening.submission_tls_port,
            use_tls=True,
            tls_context=certificate[2],
            username="any",
            password=tenant.api_key,
            timeout=30,
        )

    _, reply = asyncio.run(submit())
    email_id = reply.rsplit(" ", 1)[-1]
    run_jobs(smtp_runtime)
    assert [m.message["Subject"] for m in smtp_sink.by_recipient()["ada@example.com"]] == ["Hello"]
    assert client.get(f"/api/v1/emails/{email_id}").json()["recipients"][0]["status"] == "SENT"


def test_each_refusal_has_its_own_reply(client, tenant, smtp_runtime, smtp_sink, listening, certificate):
    with smtplib.SMTP("127.0.0.1", listening.submission_port, timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPNotSupportedError):  # AUTH is not offered before STARTTLS
            smtp.login("apikey", tenant.api_key)
        assert smtp.mail("app@sender.example.com")[0] == 530  # nothing goes before STARTTLS
    with smtplib.SMTP("127.0.0.1", listening.submission_port, timeout=30) as smtp:
        smtp.starttls(context=certificate[2])
        with pytest.raises(smtplib.SMTPAuthenticationError) as bad_key:
            smtp.login("apikey", "ep_not-a-key")
        assert bad_key.value.smtp_code == 535
    with smtplib.SMTP_SSL("127.0.0.1", listening.submission_tls_port, context=certificate[2], timeout=30) as smtp:
        smtp.ehlo()
        assert smtp.mail("app@sender.example.com")[0] == 530  # nothing goes before AUTH
        smtp.rset()
        smtp.login("apikey", tenant.api_key)
        listening.allow_unverified_domains = False
        code, reply = smtp.mail("app@unverified.example.com")
        assert code == 553 and b"unverified.example.com" in reply
        listening.allow_unverified_domains = True
        smtp.rset()
        listening_limit = listening.email_max_bytes
        with pytest.raises(smtplib.SMTPSenderRefused) as too_big:  # SIZE says so at MAIL
            smtp.sendmail("app@sender.example.com", ["ada@example.com"], b"x" * (listening_limit + 1))
        assert too_big.value.smtp_code == 552
        smtp.rset()
        no_body = b"From: app@sender.example.com\r\nTo: ada@example.com\r\nContent-Type: image/png\r\n\r\nxx\r\n"
        with pytest.raises(smtplib.SMTPDataError) as bad_message:
            smtp.sendmail("app@sender.example.com", ["ada@example.com"], no_body)
        assert bad_message.value.smtp_code == 550 and b"no text/plain or text/html body" in bad_message.value.smtp_error
    assert smtp_sink.received == [] and client.get("/api/v1/emails").json()["items"] == []


def test_a_key_that_may_not_send_email_is_refused_at_auth(
    client, tenant, smtp_runtime, smtp_sink, listening, certificate
):
    with smtp_runtime.db.session() as session:
        _, read_only = tenant_service.create_api_key(session, tenant.tenant_id, "reports", scopes=["read"])
        _, sender = tenant_service.create_api_key(session, tenant.tenant_id, "app", scopes=["emails:write"])
    with smtplib.SMTP_SSL("127.0.0.1", listening.submission_tls_port, context=certificate[2], timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login("apikey", read_only)
        assert refused.value.smtp_code == 535 and b"needs the emails:write scope" in refused.value.smtp_error
        assert smtp.login("apikey", sender)[0] == 235
        smtp.send_message(message(From="app@sender.example.com", To="ada@example.com"))
    run_jobs(smtp_runtime)
    assert [mail.rcpt_tos for mail in smtp_sink.received] == [["ada@example.com"]]


def test_a_suppressed_recipient_is_accepted_and_suppressed_in_the_pipeline(
    client, tenant, smtp_runtime, smtp_sink, listening, certificate
):
    assert client.post("/api/v1/suppressions", json={"email": "gone@example.com"}).status_code in (200, 201)
    with smtplib.SMTP_SSL("127.0.0.1", listening.submission_tls_port, context=certificate[2], timeout=30) as smtp:
        smtp.login("apikey", tenant.api_key)
        assert smtp.send_message(message(To="gone@example.com, ada@example.com")) == {}
    run_jobs(smtp_runtime)
    assert sorted(smtp_sink.by_recipient()) == ["ada@example.com"]
    [email] = client.get("/api/v1/emails").json()["items"]
    assert {r["email"]: r["status"] for r in email["recipients"]} == {
        "gone@example.com": "SUPPRESSED",
        "ada@example.com": "SENT",
    }


def test_without_a_certificate_the_listener_says_what_to_set(runtime):
    with pytest.raises(submission.NotConfigured, match="EMAILPLATFORM_SUBMISSION_CERT_FILE"):
        submission.start_listeners(runtime)


def test_serve_runs_submission_when_enabled_and_its_mail_goes_out(tmp_path, smtp_sink, certificate):
    cert_file, key_file, client_context = certificate
    tls_port = free_port()
    env = clean_env(
        **{
            "EMAILPLATFORM_DATA_DIR": str(tmp_path / "data"),
            "EMAILPLATFORM_TRANSPORT": "smtp",
            "EMAILPLATFORM_SMTP_URL": smtp_sink.url,
            "EMAILPLATFORM_SUBMISSION_ENABLED": "true",
            "EMAILPLATFORM_SUBMISSION_PORT": "0",
            "EMAILPLATFORM_SUBMISSION_TLS_PORT": str(tls_port),
            "EMAILPLATFORM_SUBMISSION_CERT_FILE": str(cert_file),
            "EMAILPLATFORM_SUBMISSION_KEY_FILE": str(key_file),
            "EMAILPLATFORM_INBOUND_PORT": str(free_port()),
        }
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", "serve", "--port", str(free_port()), "--processes", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api_key = server.stdout.readline().strip()
        assert api_key.startswith("ep_")
        deadline = time.monotonic() + 60
        while True:
            try:
                smtp = smtplib.SMTP_SSL("127.0.0.1", tls_port, context=client_context, timeout=30)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and server.poll() is None, "the submission port did not open"
                time.sleep(0.2)
        with smtp:
            smtp.login("apikey", api_key)
            smtp.send_message(message())
        while not smtp_sink.received:
            assert time.monotonic() < deadline, "the submitted mail was not sent"
            time.sleep(0.2)
        assert smtp_sink.received[0].rcpt_tos == ["ada@example.com"]
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert "SMTP submission on 127.0.0.1, port" in err
