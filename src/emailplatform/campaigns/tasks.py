import asyncio
import uuid

from emailplatform.campaigns import splitting, status
from emailplatform.models import Transaction, TransactionStatus, utcnow


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


HANDLERS = {"split_file": split_file, "release_campaign": release_campaign}
