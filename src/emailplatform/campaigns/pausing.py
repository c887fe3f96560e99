"""Pausing a campaign: by request, or by itself when its bounce or complaint rate passes the settings'
threshold (checked before each slice is sent, from the message counts); resuming sends the rest.

The defaults follow the large providers' published figures: Gmail's and Yahoo's sender guidelines (2024) ask
bulk senders to keep the spam complaint rate below 0.1% and never reach 0.3%; AWS SES puts an account under
review at a 5% bounce rate (and may pause its sending at 10%) and at a 0.1% complaint rate.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.campaigns import counts, service, status
from emailplatform.config import Settings
from emailplatform.errors import Conflict
from emailplatform.models import Batch, BatchStatus, Transaction, TransactionStatus


def rates_since_resumed(session: Session, transaction: Transaction) -> dict[str, int]:
    """Sent, bounced and complained messages since the campaign was last resumed (or since it started)."""
    summary = counts.summary(session, transaction)
    since = transaction.rates_since or {}
    return {what: summary[what] - since.get(what, 0) for what in ("sent", "bounced", "complained")}


def reason_to_pause(counted: dict[str, int], settings: Settings) -> str | None:
    sent = counted["sent"]
    if sent < settings.pause_min_sent:
        return None
    for what, threshold in (("bounced", settings.pause_bounce_rate), ("complained", settings.pause_complaint_rate)):
        if counted[what] / sent >= threshold:
            rate = "bounce" if what == "bounced" else "complaint"
            return (
                f"paused by itself: {counted[what]} of {sent} messages {what} ({counted[what] / sent:.2%}), "
                f"past the {rate} rate threshold of {threshold:.2%}; resume to send the rest"
            )
    return None


def still_sending(session: Session, settings: Settings, transaction_id: uuid.UUID) -> bool:
    """Whether the campaign goes on sending: it is READY_TO_SEND and its rates are under the thresholds (else
    it is paused, now, with the reason)."""
    transaction = session.get_one(Transaction, transaction_id, populate_existing=True)
    if transaction.status != TransactionStatus.READY_TO_SEND:
        return False
    reason = reason_to_pause(rates_since_resumed(session, transaction), settings)
    return reason is None or not status.move_campaign(
        session, transaction, TransactionStatus.READY_TO_SEND, TransactionStatus.PAUSED, reason
    )


def pause(session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> Transaction:
    transaction = service.get(session, tenant_id, transaction_id)
    if not status.move_campaign(
        session, transaction, TransactionStatus.READY_TO_SEND, TransactionStatus.PAUSED, "paused by request"
    ):
        raise Conflict(
            f"a campaign that is {transaction.status} cannot be paused: only one sending can", field="transaction_id"
        )
    return transaction


def resume(session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> Transaction:
    """Send the rest: every batch not sent yet gets its send job again. The rates that paused it count afresh."""
    transaction = service.get(session, tenant_id, transaction_id)
    summary = counts.summary(session, transaction)
    if not status.move_campaign(session, transaction, TransactionStatus.PAUSED, TransactionStatus.READY_TO_SEND, None):
        raise Conflict(
            f"a campaign that is {transaction.status} cannot be resumed: it is not paused", field="transaction_id"
        )
    transaction.rates_since = {what: summary[what] for what in ("sent", "bounced", "complained")}
    batches = session.scalars(select(Batch).where(Batch.transaction_id == transaction.id).order_by(Batch.seq)).all()
    ready = [b for b in batches if b.status == BatchStatus.READY]
    for batch in ready:
        status.enqueue_send(session, transaction.tenant_id, batch.id)
    if not ready and batches:  # all went out while it was paused
        status.finish_batch(session, batches[-1])
    return transaction
