"""The SES transport against a real SES-speaking server on loopback (moto in server mode, its own process):
what moto received is read back through its HTTP API, never through a patched client."""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import httpx
import pytest

from emailplatform.config import Settings
from emailplatform.sending.mime import MessageSkeleton, make_message_id
from emailplatform.sending.transports import OutgoingMessage, SendStatus, create_transport
from tests.conftest import free_port, run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, send_through, upload_file

SENDER = "news@sender.example.com"  # the sender tests/helpers.py campaigns use
CONFIGURATION_SET = "emailplatform-events"


class MotoServer:
    def __init__(self, url: str, recording: Path):
        self.url = url
        self.recording = recording

    def sent(self) -> list[dict]:
        """Every raw message moto accepted: id, source, destinations, raw_data."""
        return httpx.get(f"{self.url}/moto-api/data.json").json()["ses"]["RawMessage"]

    def sent_by_recipient(self) -> dict[str, dict]:
        return {destination: message for message in self.sent() for destination in message["destinations"]}

    def send_email_requests(self) -> list[dict]:
        """The SendEmail request bodies moto recorded since the recorder started."""
        recorded = [
            json.loads(line) for line in httpx.get(f"{self.url}/moto-api/recorder/download-recording").text.splitlines()
        ]
        bodies = [
            base64.b64decode(r["body"]) if r["body_encoded"] else r["body"]
            for r in recorded
            if r["url"].endswith("/outbound-emails")
        ]
        return [json.loads(body) for body in bodies]


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    port = free_port()
    recording = tmp_path_factory.mktemp("moto") / "recording"
    env = os.environ | {"MOTO_RECORDER_FILEPATH": str(recording), "MOTO_ENABLE_RECORDING": "true"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield MotoServer(url, recording)
    finally:
        process.terminate()
        process.wait(10)


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("moto_server exited at start")
        try:
            httpx.get(f"{url}/moto-api/data.json", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("moto_server did not start in 30 s")


@pytest.fixture
def aws_credentials(monkeypatch, tmp_path):
    """Credentials from the usual AWS environment variables, as a deployment gives them."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def verified_sender(moto, aws_credentials):
    ses = boto3.client("sesv2", region_name="eu-west-1", endpoint_url=moto.url)
    ses.create_email_identity(EmailIdentity="sender.example.com")
    return SENDER


def ses_settings(endpoint_url: str, **overrides) -> Settings:
    values = dict(
        transport="ses",
        ses_region="eu-west-1",
        ses_endpoint_url=endpoint_url,
        ses_configuration_set=CONFIGURATION_SET,
        smtp_connections=4,
        smtp_timeout_seconds=5,
    )
    return Settings(**(values | overrides))


def outgoing(recipient: str, sender: str = SENDER) -> OutgoingMessage:
    message_id = uuid.uuid4()
    raw = MessageSkeleton(sender, "Sender", None).build(
        to=recipient,
        subject="Hello Zoë",
        text="Hi\n",
        html="<p>Hi</p>",
        message_id=make_message_id(message_id, sender),
    )
    return OutgoingMessage(uuid.uuid4(), message_id, sender, recipient, raw)


def send_all(settings: Settings, messages: list[OutgoingMessage]):
    return send_through(create_transport(settings, storage=None), messages)


def test_each_message_goes_raw_with_the_configuration_set_and_our_id_as_a_tag(moto, verified_sender):
    messages = [outgoing(f"reader{i}-{uuid.uuid4().hex[:6]}@example.org") for i in range(6)]
    httpx.post(f"{moto.url}/moto-api/recorder/reset-recording")

    results = send_all(ses_settings(moto.url), messages)

    assert [r.status for r in results] == [SendStatus.SENT] * 6
    received = moto.sent_by_recipient()
    for message, result in zip(messages, results):
        kept = received[message.recipient]
        assert result.provider_id == kept["id"]
        assert kept["source"] == SENDER
        assert kept["raw_data"].encode() == message.raw
    requests = {r["Destination"]["ToAddresses"][0]: r for r in moto.send_email_requests()}
    for message in messages:
        request = requests[message.recipient]
        assert request["FromEmailAddress"] == SENDER
        assert request["ConfigurationSetName"] == CONFIGURATION_SET
        assert request["EmailTags"] == [{"Name": "message_id", "Value": message.message_id.hex}]


def test_a_sender_ses_refuses_fails_with_the_reason(moto, verified_sender):
    message = outgoing("someone@example.org", sender="intruder@unverified.example.net")

    [result] = send_all(ses_settings(moto.url), [message])

    assert result.status == SendStatus.FAILED
    assert "MessageRejected" in result.response and "intruder@unverified.example.net" in result.response
    assert "someone@example.org" not in moto.sent_by_recipient()


def test_an_unreachable_ses_is_retried_later(aws_credentials):
    [result] = send_all(ses_settings(f"http://127.0.0.1:{free_port()}"), [outgoing("a@example.org")])

    assert result.status == SendStatus.RETRY
    assert "could not be reached" in result.response


class AnswersWith(BaseHTTPRequestHandler):
    """An SES endpoint that answers every request with one fixed error."""

    status = 429
    error_type = "TooManyRequestsException"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"message": "slow down"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", self.error_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "error_type"), [(429, "TooManyRequestsException"), (503, "ServiceUnavailable")])
def test_throttling_and_ses_errors_are_retried_later(aws_credentials, status, error_type):
    handler = type("Handler", (AnswersWith,), {"status": status, "error_type": error_type})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        [result] = send_all(ses_settings(f"http://127.0.0.1:{server.server_port}"), [outgoing("a@example.org")])
    finally:
        server.shutdown()
        server.server_close()

    assert result.status == SendStatus.RETRY
    assert error_type in result.response


HTML = "<p>Hello {{ first_name }},</p><p>an offer for {{ company }}.</p>"


def test_a_campaign_goes_out_through_ses(client, runtime, moto, verified_sender):
    runtime.settings.transport = "ses"
    runtime.settings.ses_endpoint_url = moto.url
    runtime.settings.ses_region = "eu-west-1"
    suffix = uuid.uuid4().hex[:8]
    rows = [[f"ada-{suffix}@example.com", "Ada", "Engines"], [f"grace-{suffix}@example.org", "Grace", "Navy & Co"]]
    template = create_template(client, "Offer for {{ company }}", HTML)
    file = upload_file(client, csv_bytes(["email", "first_name", "company"], rows))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]

    run_jobs(runtime)

    result = campaign(client, transaction_id)
    assert result["status"] == "SENT" and result["summary"]["sent"] == 2
    received = moto.sent_by_recipient()
    for email, first_name, _company in rows:
        raw = received[email]["raw_data"]
        assert f"Hello {first_name}," in raw
    grace = received[rows[1][0]]["raw_data"]
    assert "Subject: Offer for Navy & Co" in grace and "Navy &amp; Co" in grace
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    assert {m["status"] for m in messages} == {"SENT"}
