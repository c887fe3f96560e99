"""Mail coming back over SMTP: the right message becomes BOUNCED (hard bounces suppress the address,
soft ones never do, and a suppressed address is never sent to again), COMPLAINED from an ARF report,
DELIVERED from a relay's success notice; auto-replies and challenges change nothing, nor does bad input."""

import email
import email.policy
import re
import smtplib
import uuid
from pathlib import Path

import pytest

from emailplatform.events import bounces
from emailplatform.events.inbound import start_listener
from emailplatform.sending import decorate
from tests.conftest import free_port, new_tenant, run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file

CORPUS = Path(__file__).parent / "bounces"
CORPUS_ID = b"0123456789abcdef0123456789abcdef"
RECIPIENTS = ["gone@example.com", "full@example.org", "fine@example.com"]


@pytest.fixture
def listener(runtime):
    runtime.settings.inbound_port = free_port()
    controller = start_listener(runtime)
    yield runtime.settings
    controller.stop()


def send_campaign(client, runtime, emails: list[str]) -> dict[str, dict]:
    template = create_template(client, "Hi", "<p>Hello {{ email }}</p>")
    file = upload_file(client, csv_bytes(["email"], [[e] for e in emails]))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]
    run_jobs(runtime)
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    return {m["email"]: m | {"transaction_id": transaction_id} for m in messages}


def bounce_for(corpus_file: str, message: dict, corpus_recipient: str) -> bytes:
    """A corpus bounce made about one of our messages: its id and recipient put in."""
    raw = (CORPUS / corpus_file).read_bytes()
    return raw.replace(CORPUS_ID, message["message_id"].replace("-", "").encode()).replace(
        corpus_recipient.encode(), message["email"].encode()
    )


def deliver(settings, raw: bytes, rcpt: str) -> None:
    """As an MTA sends a bounce: over SMTP, with the null sender, CRLF line endings."""
    with smtplib.SMTP(settings.inbound_host, settings.inbound_port, timeout=10) as smtp:
        smtp.sendmail("", [rcpt], raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def verp(message: dict) -> str:
    return f"bounces+{message['message_id'].replace('-', '')}@bounces.sender.example.com"


def message_detail(client, message: dict) -> dict:
    response = client.get(f"/api/v1/email/messages/{message['message_id']}")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_hard_bounce_marks_the_message_and_suppresses_the_address_a_soft_one_does_not(client, runtime, listener):
    sent = send_campaign(client, runtime, RECIPIENTS)
    assert {m["status"] for m in sent.values()} == {"DELIVERED"}
    hard_dsn = bounce_for("postfix_user_unknown.eml", sent["gone@example.com"], "nobody@example.com")
    deliver(listener, hard_dsn, verp(sent["gone@example.com"]))
    deliver(listener, hard_dsn, verp(sent["gone@example.com"]))  # the same DSN twice is one event
    deliver(
        listener,
        bounce_for("gmail_mailbox_full.eml", sent["full@example.org"], "hoarder@gmail.com"),
        verp(sent["full@example.org"]),
    )

    gone = message_detail(client, sent["gone@example.com"])
    assert gone["status"] == "BOUNCED"
    bounced = [h for h in gone["history"] if h["type"] == "bounced"]
    assert len(bounced) == 1
    assert bounced[0]["details"] | {"diagnostic": None} == {
        "hard": True,
        "status": "5.1.1",
        "smtp_code": 550,
        "reason": "userunknown",
        "source": "dsn",
        "recipient": "gone@example.com",
        "diagnostic": None,
    }
    assert "User unknown" in bounced[0]["details"]["diagnostic"]
    full = message_detail(client, sent["full@example.org"])
    assert full["status"] == "BOUNCED"
    assert [h["details"]["reason"] for h in full["history"] if h["type"] == "bounced"] == ["mailboxfull"]
    assert message_detail(client, sent["fine@example.com"])["status"] == "DELIVERED"

    suppressed = client.get("/api/v1/suppressions").json()["items"]
    assert [(s["email"], s["reason"]) for s in suppressed] == [("gone@example.com", "hard_bounce")]
    assert suppressed[0]["details"] == "userunknown"
    assert suppressed[0]["message_id"] == sent["gone@example.com"]["message_id"]
    assert client.get("/api/v1/suppressions/full@example.org").status_code == 404

    again = send_campaign(client, runtime, RECIPIENTS)
    assert {e: m["status"] for e, m in again.items()} == {
        "gone@example.com": "SUPPRESSED",
        "full@example.org": "DELIVERED",
        "fine@example.com": "DELIVERED",
    }
    outbox = all_pages(client, "/api/v1/outbox")
    assert sorted(m["to"] for m in outbox) == sorted(RECIPIENTS + ["full@example.org", "fine@example.com"])
    assert campaign(client, again["gone@example.com"]["transaction_id"])["summary"]["sent"] == 2


def test_a_5_7_1_policy_block_is_soft_and_the_campaign_completes_when_all_is_final(client, runtime, listener):
    sent = send_campaign(client, runtime, ["buyer@corp.example.net"])
    message = sent["buyer@corp.example.net"]
    deliver(listener, bounce_for("postfix_5_7_1_blocked.eml", message, "buyer@corp.example.net"), verp(message))
    detail = message_detail(client, message)
    assert detail["status"] == "BOUNCED"
    assert [h["details"]["reason"] for h in detail["history"] if h["type"] == "bounced"] == ["blocked"]
    assert client.get("/api/v1/suppressions").json()["items"] == []
    assert campaign(client, message["transaction_id"])["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "corpus_file",
    [
        "auto_reply_out_of_office.eml",
        "auto_reply_exchange_automatic_reply.eml",
        "auto_reply_french_absence.eml",
        "challenge_boxbe.eml",
        "challenge_spamarrest.eml",
        "not_a_bounce.eml",
        "postfix_delayed.eml",
        "exim_delay_warning.eml",
    ],
)
def test_mail_that_is_no_bounce_changes_nothing(client, runtime, listener, corpus_file):
    sent = send_campaign(client, runtime, ["gone@example.com"])
    message = sent["gone@example.com"]
    deliver(listener, bounce_for(corpus_file, message, "slow@example.com"), verp(message))
    deliver(listener, b"\x00\xffnot even a mail\r\n", verp(message))
    detail = message_detail(client, message)
    assert detail["status"] == "DELIVERED"
    assert [h["type"] for h in detail["history"]] == ["created", "sent", "delivered"]
    assert client.get("/api/v1/suppressions").json()["items"] == []


def test_a_bounce_for_an_unknown_message_or_another_tenants_changes_nothing(client, runtime, listener):
    sent = send_campaign(client, runtime, ["gone@example.com"])
    ours = sent["gone@example.com"]
    dsn = bounce_for("postfix_user_unknown.eml", ours, "nobody@example.com")
    deliver(listener, dsn, decorate.return_path(uuid.uuid4(), "news@sender.example.com", listener))

    other = new_tenant(runtime)
    client.headers["X-API-Key"] = other.api_key
    theirs = send_campaign(client, runtime, ["gone@example.com"])["gone@example.com"]
    deliver(listener, dsn, verp(theirs))  # their return path, but the returned headers name our message

    assert message_detail(client, theirs)["status"] == "DELIVERED"
    assert client.get("/api/v1/suppressions").json()["items"] == []


def test_only_bounce_addresses_are_accepted(listener):
    with smtplib.SMTP(listener.inbound_host, listener.inbound_port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail(
                "someone@example.com", ["postmaster@bounces.sender.example.com"], b"Subject: hi\r\n\r\nhi\r\n"
            )
    code, _ = refused.value.recipients["postmaster@bounces.sender.example.com"]
    assert code == 550


def test_mail_to_the_list_unsubscribe_mailto_unsubscribes_the_recipient(client, runtime, listener):
    sent = send_campaign(client, runtime, ["reader@example.com"])
    message = sent["reader@example.com"]
    mail = email.message_from_bytes(
        client.get(f"/api/v1/outbox/{message['message_id']}.eml").content, policy=email.policy.default
    )
    mailto = re.search(r"<mailto:([^>]+)>", mail["List-Unsubscribe"])[1]
    deliver(listener, b"Subject: unsubscribe\r\n\r\nplease\r\n", mailto)

    entry = client.get("/api/v1/suppressions/reader@example.com").json()
    assert entry["reason"] == "unsubscribe" and entry["message_id"] == message["message_id"]
    forged = mailto.replace("unsubscribe+", "unsubscribe+x")
    with smtplib.SMTP(listener.inbound_host, listener.inbound_port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("", [forged], b"Subject: x\r\n\r\nx\r\n")


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    """Campaigns go out over SMTP to a relay on loopback, which keeps what it receives."""
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    return runtime


@pytest.mark.parametrize(
    ("corpus_file", "corpus_recipient", "action"),
    [
        ("postfix_success_dsn.eml", "reader@partner.example", "delivered"),
        ("sendmail_relayed_dsn.eml", "lead@oldcorp.example", "relayed"),
    ],
)
def test_a_success_dsn_from_the_relay_marks_the_message_delivered(
    client, smtp_runtime, smtp_sink, listener, corpus_file, corpus_recipient, action
):
    sent = send_campaign(client, smtp_runtime, ["reader@example.com", "other@example.com"])
    message = sent["reader@example.com"]
    assert message["status"] == "SENT"
    (relayed,) = smtp_sink.by_recipient()["reader@example.com"]
    assert bounces.message_id_from_address(relayed.mail_from) == uuid.UUID(message["message_id"])

    notice = bounce_for(corpus_file, message, corpus_recipient)  # the relay's notice, to the return path it was given
    deliver(listener, notice, relayed.mail_from)
    deliver(listener, notice, relayed.mail_from)  # the same notice twice is one event

    detail = message_detail(client, message)
    assert detail["status"] == "DELIVERED"
    delivered = [h for h in detail["history"] if h["type"] == "delivered"]
    assert len(delivered) == 1
    assert delivered[0]["details"] | {"diagnostic": None} == {
        "source": "dsn",
        "action": action,
        "reason": "delivered",
        "hard": False,
        "status": "2.0.0",
        "smtp_code": 250 if action == "delivered" else None,
        "recipient": "reader@example.com",
        "diagnostic": None,
    }
    assert message_detail(client, sent["other@example.com"])["status"] == "SENT"
    assert client.get("/api/v1/suppressions").json()["items"] == []


@pytest.mark.parametrize(
    ("corpus_file", "corpus_recipient"),
    [
        ("arf_yahoo_abuse.eml", "angry@yahoo.com"),
        ("arf_redacted_recipient.eml", "annoyed@isp.example"),  # no Original-Rcpt-To: the return path names the message
    ],
)
def test_an_arf_feedback_report_records_a_complaint_and_suppresses_the_address(
    client, runtime, listener, corpus_file, corpus_recipient
):
    sent = send_campaign(client, runtime, ["reader@example.com"])
    message = sent["reader@example.com"]
    deliver(listener, bounce_for(corpus_file, message, corpus_recipient), verp(message))

    detail = message_detail(client, message)
    assert detail["status"] == "COMPLAINED"
    complaints = [h["details"] for h in detail["history"] if h["type"] == "complained"]
    assert complaints == [
        {"source": "arf", "reason": "feedback", "feedback_type": "abuse", "recipient": "reader@example.com"}
    ]
    assert [h["type"] for h in detail["history"]].count("bounced") == 0
    entry = client.get("/api/v1/suppressions/reader@example.com").json()
    assert (entry["reason"], entry["message_id"]) == ("complaint", message["message_id"])


@pytest.mark.parametrize(
    ("corpus_file", "corpus_recipient", "hard"),
    [
        ("postfix_multi_recipient.eml", "ann@shop.example", True),
        ("exim_multi_recipient.eml", "carol@firm.example", False),
        ("domino_not_listed.eml", "h.tanaka@lotus-corp.example", True),
        ("postfix_greylist_gave_up.eml", "grey@cautious.example", False),
    ],
)
def test_each_format_bounces_the_right_recipient_and_only_a_hard_one_suppresses(
    client, runtime, listener, corpus_file, corpus_recipient, hard
):
    sent = send_campaign(client, runtime, ["reader@example.com"])
    message = sent["reader@example.com"]
    deliver(listener, bounce_for(corpus_file, message, corpus_recipient), verp(message))

    detail = message_detail(client, message)
    assert detail["status"] == "BOUNCED"
    (bounced,) = [h["details"] for h in detail["history"] if h["type"] == "bounced"]
    assert (bounced["recipient"], bounced["hard"]) == ("reader@example.com", hard)
    suppressed = client.get("/api/v1/suppressions").json()["items"]
    assert [(s["email"], s["reason"]) for s in suppressed] == ([("reader@example.com", "hard_bounce")] if hard else [])
