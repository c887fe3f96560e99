"""SES events, as SNS delivers them (the route is ses_api.py; SNS's envelope and signature are sns.py).

Each SES record (event publishing's `eventType`, or the older `notificationType` of identity notifications)
becomes our events, one per recipient it names, found by the `message_id` tag the SES transport sets
(`mail.tags.message_id`). A record for a message we do not know is logged and answered 200, so SNS does not
send it again; one SNS message delivered twice is recorded once (the dedup key is its MessageId and the
recipient). A Send record is only acknowledged: the transport recorded the message SENT when SES took it.
"""

import json
import re
import uuid
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from emailplatform.errors import BadRequest
from emailplatform.events import service as event_service
from emailplatform.events import sns
from emailplatform.events.schemas import MESSAGE_ID_TAG
from emailplatform.events.service import NewEvent
from emailplatform.models import utcnow

log = structlog.get_logger("emailplatform.events.ses")

HARD_BOUNCE_TYPE = "Permanent"


def ses_events(record: dict, dedup_prefix: str) -> list[NewEvent]:
    """Our events for one SES event record; [] for a record of a kind we do not keep or of no message of ours.
    BadRequest when the record is not an SES event at all."""
    if not isinstance(record, dict) or not isinstance(record.get("mail"), dict):
        raise BadRequest("the SNS Message is not an SES event: it has no mail object", field="Message")
    kind = str(record.get("eventType") or record.get("notificationType"))
    mapper = MAPPERS.get(kind)
    message_id = _message_id(record["mail"])
    if mapper is None or message_id is None:
        log.info("ses event ignored", event_type=kind, known_message=message_id is not None)
        return []
    body = record.get(BODY_KEYS[kind])
    if not isinstance(body, dict):
        raise BadRequest(f"an SES {kind} event has a {BODY_KEYS[kind]} object", field="Message")
    return [
        NewEvent(message_id, event_type, _timestamp(body, record["mail"]), details, f"{dedup_prefix}:{recipient}"[:200])
        for event_type, recipient, details in mapper(body, record["mail"])
    ]


def receive(session: Session, verifier: sns.SnsVerifier, message: sns.SnsMessage) -> int:
    """Act on one verified SNS message; the number of events recorded."""
    if message.type == "SubscriptionConfirmation":
        verifier.confirm_subscription(message)
        return 0
    if message.type == "UnsubscribeConfirmation":
        log.warning("sns subscription ended", topic_arn=message.topic_arn)
        return 0
    try:
        record = json.loads(message.message)
    except ValueError:
        raise BadRequest("the SNS Message is not JSON", field="Message") from None
    events = ses_events(record, f"sns:{message.message_id}")
    recorded = event_service.record_many(session, events)
    if len(recorded) < len(events):
        log.info(
            "ses events not recorded (duplicate or unknown message)",
            sns_message_id=message.message_id,
            events=len(events),
            recorded=len(recorded),
        )
    return len(recorded)


# -- one SES record kind -> (our event type, recipient, details) for each recipient it names


def _bounce(bounce: dict, mail: dict):
    hard = bounce.get("bounceType") == HARD_BOUNCE_TYPE
    common = {
        "source": "ses",
        "hard": hard,
        "bounce_type": bounce.get("bounceType"),
        "bounce_subtype": bounce.get("bounceSubType"),
        "reason": _snake(bounce.get("bounceSubType")),
        "feedback_id": bounce.get("feedbackId"),
    }
    for recipient in _recipients(bounce.get("bouncedRecipients")):
        details = {
            "status": recipient.get("status"),
            "diagnostic": recipient.get("diagnosticCode"),
            "action": recipient.get("action"),
        }
        yield "bounced", recipient["emailAddress"], common | details


def _complaint(complaint: dict, mail: dict):
    details = {
        "source": "ses",
        "feedback_type": complaint.get("complaintFeedbackType"),
        "complaint_subtype": complaint.get("complaintSubType"),
        "user_agent": complaint.get("userAgent"),
        "feedback_id": complaint.get("feedbackId"),
    }
    for recipient in _recipients(complaint.get("complainedRecipients")):
        yield "complained", recipient["emailAddress"], details


def _delivery(delivery: dict, mail: dict):
    details = {
        "source": "ses",
        "smtp_response": delivery.get("smtpResponse"),
        "reporting_mta": delivery.get("reportingMTA"),
        "processing_time_ms": delivery.get("processingTimeMillis"),
    }
    for recipient in delivery.get("recipients") or []:
        if isinstance(recipient, str):
            yield "delivered", recipient, details


def _delivery_delay(delay: dict, mail: dict):
    common = {"source": "ses", "delay_type": delay.get("delayType"), "expiration_time": delay.get("expirationTime")}
    for recipient in _recipients(delay.get("delayedRecipients")):
        details = {"status": recipient.get("status"), "diagnostic": recipient.get("diagnosticCode")}
        yield "delivery_delayed", recipient["emailAddress"], common | details


def _reject(reject: dict, mail: dict):
    yield "rejected", _first_destination(mail), {"source": "ses", "reason": reject.get("reason")}


def _open(open_: dict, mail: dict):
    yield (
        "opened",
        _first_destination(mail),
        {
            "source": "ses",
            "ip": open_.get("ipAddress"),
            "user_agent": open_.get("userAgent"),
        },
    )


def _click(click: dict, mail: dict):
    yield (
        "clicked",
        _first_destination(mail),
        {
            "source": "ses",
            "url": click.get("link"),
            "ip": click.get("ipAddress"),
            "user_agent": click.get("userAgent"),
            "link_tags": click.get("linkTags"),
        },
    )


MAPPERS = {
    "Bounce": _bounce,
    "Complaint": _complaint,
    "Delivery": _delivery,
    "DeliveryDelay": _delivery_delay,
    "Reject": _reject,
    "Open": _open,
    "Click": _click,
}
BODY_KEYS = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "DeliveryDelay": "deliveryDelay",
    "Reject": "reject",
    "Open": "open",
    "Click": "click",
}


def _message_id(mail: dict) -> uuid.UUID | None:
    tags = mail.get("tags")
    values = tags.get(MESSAGE_ID_TAG) if isinstance(tags, dict) else None
    if not isinstance(values, list) or not values or not isinstance(values[0], str):
        return None
    try:
        return uuid.UUID(hex=values[0])
    except ValueError:
        return None


def _recipients(recipients) -> list[dict]:
    if not isinstance(recipients, list):
        return []
    return [r for r in recipients if isinstance(r, dict) and isinstance(r.get("emailAddress"), str)]


def _first_destination(mail: dict) -> str:
    destination = mail.get("destination")
    return destination[0] if isinstance(destination, list) and destination and isinstance(destination[0], str) else ""


def _timestamp(body: dict, mail: dict) -> datetime:
    for value in (body.get("timestamp"), mail.get("timestamp")):
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                continue
            if moment.tzinfo is not None:
                return moment
    return utcnow()


def _snake(name: str | None) -> str | None:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() if isinstance(name, str) else None
