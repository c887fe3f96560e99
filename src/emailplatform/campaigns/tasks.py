import asyncio
import uuid

from emailplatform.campaigns import service, splitting
from emailplatform.models import Transaction, TransactionStatus


async def split_file(ctx, payload: dict) -> None:
    await asyncio.to_thread(splitting.split_file, ctx.runtime, uuid.UUID(payload["transaction_id"]))


async def release_campaign(ctx, payload: dict) -> None:
    def release():
        with ctx.runtime.db.session() as session:
            transaction = session.get(Transaction, uuid.UUID(payload["transaction_id"]))
            if transaction is not None and transaction.status == TransactionStatus.SCHEDULED:
                service.release(session, transaction)

    await asyncio.to_thread(release)


HANDLERS = {"split_file": split_file, "release_campaign": release_campaign}
