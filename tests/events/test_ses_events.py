"""The SNS endpoint for SES events: notifications in SES's documented JSON shapes, signed by a test signing
certificate that a real HTTPS server on loopback serves (its TLS certificate issued by a test CA the verifier
is told to trust); forged, unsigned and misdirected ones are refused and change nothing."""

import base64
import datetime as dt
import json
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from emailplatform.events.sns import SnsVerifier
from emailplatform.suppressions import service as suppression
from tests.conftest import PUBLIC_URL, run_jobs
from tests.helpers import all_pages, create_campaign, create_template, csv_bytes, upload_file

ALLOWED_HOST_PATTERN = r"^127\.0\.0\.1$"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:ses-events"
NOW = dt.datetime.now(dt.UTC)


# -- a test PKI: a CA for TLS, and SNS signing certificates (one valid, one expired)


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(
    subject: str,
    key,
    issuer_key=None,
    issuer: x509.Name | None = None,
    *,
    ca: bool = False,
    sans: list[x509.GeneralName] | None = None,
    valid_from=NOW - dt.timedelta(days=1),
    valid_to=NOW + dt.timedelta(days=30),
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class CertServer:
    """A real HTTPS server on loopback serving fixed paths, keeping every path asked for."""

    port: int
    ca_file: str
    pages: dict[str, bytes]
    requested: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def pki():
    import ipaddress

    ca_key = rsa_key()
    ca = certificate("emailplatform test CA", ca_key, ca=True)
    tls_key = rsa_key()
    tls = certificate(
        "localhost",
        tls_key,
        ca_key,
        ca.subject,
        sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    signing_key = rsa_key()
    expired_key = rsa_key()
    return {
        "ca": ca,
        "tls": tls,
        "tls_key": tls_key,
        "signing_key": signing_key,
        "signing": certificate("sns.amazonaws.com", signing_key),
        "expired_key": expired_key,
        "expired": certificate(
            "sns.amazonaws.com",
            expired_key,
            valid_from=NOW - dt.timedelta(days=60),
            valid_to=NOW - dt.timedelta(days=1),
        ),
    }


@pytest.fixture(scope="module")
def cert_server(pki, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    (folder / "ca.pem").write_bytes(pem(pki["ca"]))
    (folder / "tls.pem").write_bytes(
        pem(pki["tls"])
        + pki["tls_key"].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_state = CertServer(
        0,
        str(folder / "ca.pem"),
        {
            "/SimpleNotificationService-test.pem": pem(pki["signing"]),
            "/SimpleNotificationService-expired.pem": pem(pki["expired"]),
            "/confirm": b"<ConfirmSubscriptionResponse/>",
        },
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            server_state.requested.append(self.path)
            page = server_state.pages.get(self.path.split("?")[0])
            self.send_response(200 if page is not None else 404)
            self.send_header("Content-Length", str(len(page or b"")))
            self.end_headers()
            self.wfile.write(page or b"")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(folder / "tls.pem"))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    server_state.port = httpd.server_port
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield server_state
    httpd.shutdown()
    httpd.server_close()


# -- SNS messages signed as AWS documents it


CANONICAL_FIELDS = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
}


def sign(fields: dict, key: rsa.RSAPrivateKey, version: str) -> dict:
    canonical = "".join(f"{k}\n{fields[k]}\n" for k in CANONICAL_FIELDS[fields["Type"]] if k in fields)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(canonical.encode(), padding.PKCS1v15(), digest)
    return fields | {"SignatureVersion": version, "Signature": base64.b64encode(signature).decode()}


def notification(record: dict, cert_url: str, key, *, version: str = "1", sns_message_id: str | None = None) -> dict:
    fields = {
        "Type": "Notification",
        "MessageId": sns_message_id or str(uuid.uuid4()),
        "TopicArn": TOPIC_ARN,
        "Message": json.dumps(record),
        "Timestamp": iso(NOW),
        "SigningCertURL": cert_url,
        "UnsubscribeURL": f"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:1",
    }
    return sign(fields, key, version)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- SES event records, in the shapes of AWS's "Examples of event data that Amazon SES publishes to Amazon SNS"


def mail(message_id: str, recipient: str) -> dict:
    return {
        "timestamp": iso(NOW),
        "source": "Sender <news@sender.example.com>",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/sender.example.com",
        "sendingAccountId": "123456789012",
        "messageId": "0102018f-ses-" + uuid.uuid4().hex,
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [{"name": "From", "value": "Sender <news@sender.example.com>"}, {"name": "To", "value": recipient}],
        "commonHeaders": {"from": ["Sender <news@sender.example.com>"], "to": [recipient], "subject": "Hi"},
        "tags": {
            "ses:configuration-set": ["emailplatform-events"],
            "ses:caller-identity": ["sender"],
            "message_id": [message_id],
        },
    }


def later(seconds: int) -> str:
    return iso(NOW + dt.timedelta(seconds=seconds))


def bounce(
    message_id,
    recipient,
    bounce_type="Permanent",
    subtype="General",
    status="5.1.1",
    diagnostic="smtp; 550 5.1.1 user unknown",
) -> dict:
    return {
        "eventType": "Bounce",
        "mail": mail(message_id, recipient),
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": subtype,
            "bouncedRecipients": [
                {"emailAddress": recipient, "action": "failed", "status": status, "diagnosticCode": diagnostic}
            ],
            "timestamp": later(5),
            "feedbackId": "0102-feedback-" + uuid.uuid4().hex,
            "reportingMTA": "dsn; mta.example.com",
        },
    }


def delivery(message_id, recipient) -> dict:
    return {
        "eventType": "Delivery",
        "mail": mail(message_id, recipient),
        "delivery": {
            "timestamp": later(2),
            "processingTimeMillis": 546,
            "recipients": [recipient],
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    }


def complaint(message_id, recipient) -> dict:
    return {
        "eventType": "Complaint",
        "mail": mail(message_id, recipient),
        "complaint": {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": later(30),
            "feedbackId": "0102-feedback-" + uuid.uuid4().hex,
            "userAgent": "Mozilla/5.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": later(29),
        },
    }


def open_event(message_id, recipient) -> dict:
    return {
        "eventType": "Open",
        "mail": mail(message_id, recipient),
        "open": {
            "ipAddress": "192.0.2.1",
            "timestamp": later(10),
            "userAgent": "Mozilla/5.0 (iPhone)",
        },
    }


def click(message_id, recipient, link="https://shop.example.com/offer?id=42") -> dict:
    return {
        "eventType": "Click",
        "mail": mail(message_id, recipient),
        "click": {
            "ipAddress": "192.0.2.1",
            "timestamp": later(20),
            "userAgent": "Mozilla/5.0",
            "link": link,
            "linkTags": {"samplekey0": ["samplevalue0"]},
        },
    }


def reject(message_id, recipient) -> dict:
    return {"eventType": "Reject", "mail": mail(message_id, recipient), "reject": {"reason": "Bad content"}}


def delivery_delay(message_id, recipient) -> dict:
    return {
        "eventType": "DeliveryDelay",
        "mail": mail(message_id, recipient),
        "deliveryDelay": {
            "timestamp": later(3),
            "delayType": "TransientCommunicationFailure",
            "expirationTime": later(3600),
            "delayedRecipients": [
                {
                    "emailAddress": recipient,
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
                }
            ],
        },
    }


# -- the endpoint, and messages of a campaign to send events about


@pytest.fixture
def sns_client(client, runtime, cert_server):
    runtime.settings.sns_cert_host_pattern = ALLOWED_HOST_PATTERN
    client.app.state.sns_verifier = SnsVerifier(runtime.settings.sns_cert_host_pattern, ca_file=cert_server.ca_file)
    return client


@pytest.fixture
def sent_messages(sns_client, runtime, smtp_sink) -> dict[str, dict]:
    """Three messages of a campaign, SENT (through SMTP: the capture transport would deliver them); by recipient."""
    runtime.settings.transport, runtime.settings.smtp_url = "smtp", smtp_sink.url
    suffix = uuid.uuid4().hex[:8]
    template = create_template(sns_client, "Hi {{ first_name }}", "<p>Hi {{ first_name }}</p>")
    rows = [[f"{name}-{suffix}@example.com", name] for name in ("ada", "grace", "linus")]
    file = upload_file(sns_client, csv_bytes(["email", "first_name"], rows))
    transaction_id = create_campaign(sns_client, template["template_id"], file["file_url"])["transaction_id"]
    run_jobs(runtime)
    messages = all_pages(sns_client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    assert {m["status"] for m in messages} == {"SENT"}
    return {m["email"].split("-")[0]: m | {"hex": uuid.UUID(m["message_id"]).hex} for m in messages}


def post(client, body: dict | bytes | str):
    """Post as SNS does: JSON sent as text/plain, and no API key (a client of its own, without the tenant's)."""
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    sns = TestClient(client.app, base_url=PUBLIC_URL, raise_server_exceptions=False)
    return sns.post("/api/v1/events/ses", content=content, headers={"Content-Type": "text/plain; charset=UTF-8"})


def message_detail(client, message: dict) -> dict:
    return client.get(f"/api/v1/email/messages/{message['message_id']}").json()


def signed(cert_server, pki, record, **options) -> dict:
    return notification(record, cert_server.url("/SimpleNotificationService-test.pem"), pki["signing_key"], **options)


# -- what SES tells us changes our messages


def test_a_permanent_bounce_marks_the_message_bounced_with_the_diagnostic_and_suppresses(
    sns_client, runtime, sent_messages, cert_server, pki, tenant
):
    ada = sent_messages["ada"]
    answer = post(sns_client, signed(cert_server, pki, bounce(ada["hex"], ada["email"]), version="1"))

    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] == 1
    detail = message_detail(sns_client, ada)
    assert detail["status"] == "BOUNCED"
    [bounced] = [h for h in detail["history"] if h["type"] == "bounced"]
    assert bounced["details"]["hard"] is True
    assert bounced["details"]["status"] == "5.1.1"
    assert bounced["details"]["diagnostic"] == "smtp; 550 5.1.1 user unknown"
    with runtime.db.session() as session:
        assert suppression.suppressed(session, tenant.tenant_id, [ada["email"]]) == {ada["email"]}


def test_a_transient_bounce_is_soft_and_never_suppresses(sns_client, runtime, sent_messages, cert_server, pki, tenant):
    grace = sent_messages["grace"]
    record = bounce(grace["hex"], grace["email"], "Transient", "MailboxFull", "4.2.2", "smtp; 452 4.2.2 mailbox full")

    answer = post(sns_client, signed(cert_server, pki, record, version="2"))

    assert answer.status_code == 200, answer.text
    detail = message_detail(sns_client, grace)
    assert detail["status"] == "BOUNCED"
    [bounced] = [h for h in detail["history"] if h["type"] == "bounced"]
    assert bounced["details"]["hard"] is False and bounced["details"]["reason"] == "mailbox_full"
    with runtime.db.session() as session:
        assert suppression.suppressed(session, tenant.tenant_id, [grace["email"]]) == set()


def test_delivery_open_and_click_move_the_message_forward_and_never_back(sns_client, sent_messages, cert_server, pki):
    ada = sent_messages["ada"]
    for record in (
        delivery(ada["hex"], ada["email"]),
        click(ada["hex"], ada["email"]),
        open_event(ada["hex"], ada["email"]),
    ):
        assert post(sns_client, signed(cert_server, pki, record, version="2")).status_code == 200
    # a late Delivery after the click changes the history, never the status
    assert post(sns_client, signed(cert_server, pki, delivery(ada["hex"], ada["email"]))).status_code == 200

    detail = message_detail(sns_client, ada)
    assert detail["status"] == "CLICKED"
    types = [h["type"] for h in detail["history"]]
    assert types.count("delivered") == 2 and "opened" in types and "clicked" in types
    [clicked] = [h for h in detail["history"] if h["type"] == "clicked"]
    assert clicked["details"]["url"] == "https://shop.example.com/offer?id=42"
    assert clicked["details"]["ip"] == "192.0.2.1"


def test_a_complaint_marks_the_message_and_suppresses(sns_client, runtime, sent_messages, cert_server, pki, tenant):
    ada = sent_messages["ada"]
    assert post(sns_client, signed(cert_server, pki, complaint(ada["hex"], ada["email"]))).status_code == 200

    detail = message_detail(sns_client, ada)
    assert detail["status"] == "COMPLAINED"
    [complained] = [h for h in detail["history"] if h["type"] == "complained"]
    assert complained["details"]["feedback_type"] == "abuse"
    with runtime.db.session() as session:
        assert suppression.suppressed(session, tenant.tenant_id, [ada["email"]]) == {ada["email"]}


def test_a_reject_fails_the_message_and_a_delay_is_kept(sns_client, sent_messages, cert_server, pki):
    grace, linus = sent_messages["grace"], sent_messages["linus"]
    for record in (reject(grace["hex"], grace["email"]), delivery_delay(linus["hex"], linus["email"])):
        answer = post(sns_client, signed(cert_server, pki, record))
        assert answer.status_code == 200, answer.text

    assert message_detail(sns_client, grace)["status"] == "FAILED"
    linus_detail = message_detail(sns_client, linus)
    assert linus_detail["status"] == "SENT"
    [delayed] = [h for h in linus_detail["history"] if h["type"] == "delivery_delayed"]
    assert delayed["details"]["status"] == "4.4.1" and "421" in delayed["details"]["diagnostic"]


def test_the_same_notification_twice_is_one_event(sns_client, sent_messages, cert_server, pki):
    ada = sent_messages["ada"]
    body = signed(cert_server, pki, open_event(ada["hex"], ada["email"]))

    first, second = post(sns_client, body), post(sns_client, body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["recorded"], second.json()["recorded"]) == (1, 0)
    assert [h["type"] for h in message_detail(sns_client, ada)["history"]].count("opened") == 1


def test_the_older_notification_type_shape_is_read_too(sns_client, sent_messages, cert_server, pki):
    grace = sent_messages["grace"]
    record = delivery(grace["hex"], grace["email"])
    record["notificationType"] = record.pop("eventType")

    assert post(sns_client, signed(cert_server, pki, record)).json()["recorded"] == 1
    assert message_detail(sns_client, grace)["status"] == "DELIVERED"


def test_events_of_unknown_messages_are_acknowledged_and_change_nothing(sns_client, sent_messages, cert_server, pki):
    ada = sent_messages["ada"]
    untagged = delivery(ada["hex"], ada["email"])
    del untagged["mail"]["tags"]["message_id"]
    for record in (bounce(uuid.uuid4().hex, ada["email"]), bounce("not-a-uuid", ada["email"]), untagged):
        answer = post(sns_client, signed(cert_server, pki, record))
        assert answer.status_code == 200 and answer.json()["recorded"] == 0
    send = {"eventType": "Send", "mail": mail(ada["hex"], ada["email"]), "send": {}}
    assert post(sns_client, signed(cert_server, pki, send)).json()["recorded"] == 0
    assert message_detail(sns_client, ada)["status"] == "SENT"


def test_the_signing_certificate_is_fetched_once(sns_client, sent_messages, cert_server, pki):
    ada, grace = sent_messages["ada"], sent_messages["grace"]
    before = cert_server.requested.count("/SimpleNotificationService-test.pem")
    for record in (delivery(ada["hex"], ada["email"]), delivery(grace["hex"], grace["email"])):
        assert post(sns_client, signed(cert_server, pki, record)).status_code == 200
    assert cert_server.requested.count("/SimpleNotificationService-test.pem") - before <= 1


# -- refused, and nothing changes


def refused(client, body, status: int, field: str, message: dict):
    answer = post(client, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field
    assert message_detail(client, message)["status"] == "SENT"
    return answer


def test_forged_unsigned_and_wrong_version_notifications_are_refused(sns_client, sent_messages, cert_server, pki):
    ada = sent_messages["ada"]
    good = signed(cert_server, pki, bounce(ada["hex"], ada["email"]))

    tampered = good | {"Message": json.dumps(bounce(sent_messages["grace"]["hex"], ada["email"]))}
    refused(sns_client, tampered, 403, "Signature", ada)
    other_key = notification(
        bounce(ada["hex"], ada["email"]), cert_server.url("/SimpleNotificationService-test.pem"), rsa_key()
    )
    refused(sns_client, other_key, 403, "Signature", ada)
    unsigned = {k: v for k, v in good.items() if k not in ("Signature", "SignatureVersion")}
    refused(sns_client, unsigned, 400, "Signature", ada)
    refused(sns_client, good | {"SignatureVersion": "3"}, 403, "SignatureVersion", ada)
    refused(sns_client, good | {"Signature": "not base64!"}, 403, "Signature", ada)
    version_swapped = good | {"SignatureVersion": "2"}  # signed with SHA1, claims SHA256
    refused(sns_client, version_swapped, 403, "Signature", ada)


def test_an_expired_signing_certificate_is_refused(sns_client, sent_messages, cert_server, pki):
    ada = sent_messages["ada"]
    body = notification(
        bounce(ada["hex"], ada["email"]), cert_server.url("/SimpleNotificationService-expired.pem"), pki["expired_key"]
    )
    answer = refused(sns_client, body, 403, "SigningCertURL", ada)
    assert "expired" in answer.json()["error"]["message"]


def test_a_certificate_url_off_the_allowed_hosts_is_never_fetched(sns_client, sent_messages, cert_server, pki):
    ada = sent_messages["ada"]
    record = bounce(ada["hex"], ada["email"])
    path = f"/SimpleNotificationService-{uuid.uuid4().hex}.pem"
    cert_server.pages[path] = pem(pki["signing"])

    for url in (
        cert_server.url(path, host="localhost"),
        f"http://127.0.0.1:{cert_server.port}{path}",
        f"https://127.0.0.1.evil.example:{cert_server.port}{path}",
        "not a url",
    ):
        answer = refused(sns_client, notification(record, url, pki["signing_key"]), 403, "SigningCertURL", ada)
        assert "SigningCertURL" in answer.json()["error"]["message"]
    assert path not in cert_server.requested


def test_malformed_bodies_are_refused(sns_client, sent_messages, cert_server, pki):
    ada = sent_messages["ada"]
    refused(sns_client, b"\xff\xfe not json", 400, "body", ada)
    refused(sns_client, "[1, 2]", 400, "body", ada)
    refused(sns_client, {"Type": "Surprise"}, 400, "Type", ada)
    refused(
        sns_client, signed(cert_server, pki, bounce(ada["hex"], ada["email"])) | {"TopicArn": 42}, 400, "TopicArn", ada
    )
    not_json = sign(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": TOPIC_ARN,
            "Message": "plain words",
            "Timestamp": iso(NOW),
            "SigningCertURL": cert_server.url("/SimpleNotificationService-test.pem"),
        },
        pki["signing_key"],
        "2",
    )
    refused(sns_client, not_json, 400, "Message", ada)
    no_mail = signed(cert_server, pki, {"eventType": "Bounce", "bounce": {}})
    refused(sns_client, no_mail, 400, "Message", ada)


def test_the_certificate_is_fetched_over_verified_tls(sns_client, runtime, sent_messages, cert_server, pki):
    """Without the test CA the verifier trusts only the system's CAs: the fetch fails and SNS is asked to retry."""
    sns_client.app.state.sns_verifier = SnsVerifier(ALLOWED_HOST_PATTERN)
    ada = sent_messages["ada"]
    answer = refused(sns_client, signed(cert_server, pki, bounce(ada["hex"], ada["email"])), 503, "SigningCertURL", ada)
    assert "could not be fetched" in answer.json()["error"]["message"]


# -- subscriptions


def subscription_confirmation(cert_server, pki, subscribe_url: str) -> dict:
    return sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": "2336412f37fb687f5d51e6e2425",
            "TopicArn": TOPIC_ARN,
            "Message": f"You have chosen to subscribe to the topic {TOPIC_ARN}.",
            "SubscribeURL": subscribe_url,
            "Timestamp": iso(NOW),
            "SigningCertURL": cert_server.url("/SimpleNotificationService-test.pem"),
        },
        pki["signing_key"],
        "2",
    )


def test_a_subscription_is_confirmed_on_an_allowed_host(sns_client, cert_server, pki):
    token = uuid.uuid4().hex
    answer = post(sns_client, subscription_confirmation(cert_server, pki, cert_server.url(f"/confirm?token={token}")))

    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "SubscriptionConfirmation"
    assert f"/confirm?token={token}" in cert_server.requested


def test_a_subscribe_url_off_the_allowed_hosts_is_never_fetched(sns_client, cert_server, pki):
    token = uuid.uuid4().hex
    for url in (
        cert_server.url(f"/confirm?token={token}", host="localhost"),
        f"http://127.0.0.1:{cert_server.port}/confirm?token={token}",
    ):
        answer = post(sns_client, subscription_confirmation(cert_server, pki, url))
        assert answer.status_code == 403 and answer.json()["error"]["field"] == "SubscribeURL"
    assert not any(token in path for path in cert_server.requested)


def test_a_forged_subscription_confirmation_is_not_followed(sns_client, cert_server, pki):
    token = uuid.uuid4().hex
    body = subscription_confirmation(cert_server, pki, cert_server.url(f"/confirm?token={token}"))
    forged = body | {"SubscribeURL": cert_server.url(f"/confirm?token={token}&forged=1")}

    answer = post(sns_client, forged)

    assert answer.status_code == 403 and answer.json()["error"]["field"] == "Signature"
    assert not any(token in path for path in cert_server.requested)


def test_a_correctly_signed_message_of_another_topic_is_refused(sns_client, runtime, sent_messages, cert_server, pki):
    sns_client.app.state.sns_verifier = SnsVerifier(
        ALLOWED_HOST_PATTERN, topic_arns=[TOPIC_ARN], ca_file=cert_server.ca_file
    )
    ada, grace = sent_messages["ada"], sent_messages["grace"]
    other_topic = "arn:aws:sns:eu-west-1:999999999999:someone-elses-topic"
    foreign = notification(
        bounce(ada["hex"], ada["email"]), cert_server.url("/SimpleNotificationService-test.pem"), pki["signing_key"]
    ) | {"TopicArn": other_topic}
    answer = refused(
        sns_client,
        sign({k: v for k, v in foreign.items() if k not in ("Signature", "SignatureVersion")}, pki["signing_key"], "1"),
        403,
        "TopicArn",
        ada,
    )
    assert other_topic in answer.json()["error"]["message"]

    token = uuid.uuid4().hex
    confirmation = subscription_confirmation(cert_server, pki, cert_server.url(f"/confirm?token={token}"))
    confirmation = sign(
        {k: v for k, v in confirmation.items() if k not in ("Signature", "SignatureVersion")}
        | {"TopicArn": other_topic},
        pki["signing_key"],
        "2",
    )
    assert post(sns_client, confirmation).status_code == 403
    assert not any(token in path for path in cert_server.requested)

    assert post(sns_client, signed(cert_server, pki, bounce(grace["hex"], grace["email"]))).status_code == 200
    assert message_detail(sns_client, grace)["status"] == "BOUNCED"


def test_the_allowed_topics_come_from_the_settings(runtime):
    runtime.settings.sns_topic_arns = [TOPIC_ARN]
    assert SnsVerifier.from_settings(runtime.settings).topic_arns == {TOPIC_ARN}
