"""The campaigns' jobs: split a file, release a scheduled campaign, and once an hour (or once an outcome window,
when shorter) close the outcome window of sent messages."""

import asyncio
import uuid
from datetime import datetime, timedelta

from emailplatform.campaigns import splitting, status
from emailplatform.models import Transaction, TransactionStatus, utcnow

OUTCOME_WINDOW_CLOSED_EVERY = timedelta(hours=1)


async def split_file(ctx, payload: dict) -> None:
    await asyncio.to_thread(splitting.split_file, ctx.runtime, uuid.UUID(payload["transaction_id"]))


async def release_campaign(ctx, payload: dict) -> None:
    def release():
        with ctx.runtime.db.session() as session:
            transaction = session.get(Transaction, uuid.UUID(payload["transaction_id"]), with_for_update=True)
            if transaction is None or transaction.status != TransactionStatus.SCHEDULED:
                return
            if transaction.send_at is not None and transaction.send_at > utcnow():  # rescheduled while it was claimed
                splitting.schedule_release(session, transaction, transaction.send_at)
            else:
                status.release(session, transaction)

    await asyncio.to_thread(release)


async def close_outcome_window(ctx, payload: dict) -> datetime:
    """A message SENT longer ago than the outcome window with no outcome is final as SENT, so its batch and
    campaign complete."""
    runtime = ctx.runtime
    window = timedelta(hours=runtime.settings.outcome_window_hours)

    def run():
        with runtime.db.session() as session:
            status.complete_finished(session, sent_before=utcnow() - window)

    await asyncio.to_thread(run)
    return utcnow() + min(OUTCOME_WINDOW_CLOSED_EVERY, window)


HANDLERS = {
    "split_file": split_file,
    "release_campaign": release_campaign,
    "close_outcome_window": close_outcome_window,
}
PERIODIC_KINDS = ("close_outcome_window",)  # one job of each is kept queued by every worker
