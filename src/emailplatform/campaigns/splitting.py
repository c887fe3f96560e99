"""The split: stream a recipients file once, write batch chunks and message rows in bulk, report bad rows.

Rows are committed in groups, each group first taking the campaign's row lock (updating its counts), so a cancel
either lands before a group (which then sees it and stops) or after it (and cancels what the group wrote).
"""

import csv
import io
import json
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session
from uuid_utils import uuid7

from emailplatform.campaigns import counts, recipients, status
from emailplatform.db import rowcount
from emailplatform.jobs import queue
from emailplatform.models import (
    Batch,
    BatchStatus,
    File,
    Message,
    MessageStatus,
    RowError,
    Transaction,
    TransactionStatus,
    utcnow,
)
from emailplatform.runtime import Runtime, Storage
from emailplatform.storage import StoredFileMissing

GROUP_ROWS = 20_000
MESSAGE_COLUMNS = (
    "id",
    "tenant_id",
    "transaction_id",
    "batch_id",
    "position",
    "row_number",
    "email",
    "status",
    "attempts",
    "created_at",
    "updated_at",
)


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class Cancelled(Exception):
    pass


@dataclass
class Split:
    runtime: Runtime
    transaction: Transaction
    columns: list[tuple[str, int]]  # the chunks' columns: each name and the file column it comes from
    message_status: MessageStatus
    batches: list[tuple[Batch, list[recipients.Row]]] = field(default_factory=list)
    current: list[recipients.Row] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    next_seq: int = 0
    total: int = 0
    invalid: int = 0
    duplicates: int = 0
    writer: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="split-writer"))
    pending: Future | None = None

    def add(self, row: recipients.Row) -> None:
        self.current.append(row)
        if len(self.current) == self.transaction.batch_size:
            self._close_batch()

    def skip(self, row: recipients.Skipped) -> None:
        if row.duplicate:
            self.duplicates += 1
        else:
            self.invalid += 1
        self._error(row.number, row.email, row.reason)

    def _error(self, number: int, email: str | None, reason: str) -> None:
        self.errors.append({"row_number": number, "email": email, "reason": reason})

    def _close_batch(self) -> None:
        if self.current:
            batch = Batch(
                id=uuid.uuid4(),
                tenant_id=self.transaction.tenant_id,
                transaction_id=self.transaction.id,
                seq=self.next_seq,
                message_count=len(self.current),
                status=BatchStatus.READY,
                storage_key=f"tenants/{self.transaction.tenant_id}/campaigns/{self.transaction.id}/batches/{self.next_seq:06d}.csv",
            )
            self.batches.append((batch, self.current))
            self.next_seq += 1
            self.current = []

    @property
    def pending_rows(self) -> int:
        return len(self.batches) * self.transaction.batch_size + len(self.current) + len(self.errors)

    def flush(self, final: bool = False) -> None:
        """Hand the rows read so far to the writer thread, which stores them while the next group is read:
        the database's own work overlaps ours. At most one group waits, so memory stays bounded."""
        if final:
            self._close_batch()
        self.total += sum(len(rows) for _, rows in self.batches)
        group = Group(self.batches, self.errors, self.total, self.invalid, self.duplicates)
        self.batches, self.errors = [], []
        if self.pending is not None:
            self.pending.result()  # re-raises the writer's Cancelled or error
        self.pending = self.writer.submit(self._store, group)
        if final:
            self.pending.result()

    def _store(self, group: "Group") -> None:
        for batch, rows in group.batches:
            self.runtime.storage.put(batch.storage_key, chunk_csv(self.columns, rows))
        with self.runtime.db.session() as session:
            locked = session.execute(  # the progress counts, written first: the update also takes the row lock
                update(Transaction)
                .where(Transaction.id == self.transaction.id, Transaction.status == TransactionStatus.PROCESSING)
                .values(
                    total_messages=group.total,
                    invalid_rows=group.invalid,
                    duplicate_rows=group.duplicates,
                    updated_at=utcnow(),
                )
            )
            if rowcount(locked) == 0:
                raise Cancelled()
            if group.batches:
                session.add_all([batch for batch, _ in group.batches])
                session.flush()
                insert_messages(session, self.transaction, group.batches, self.message_status)
                status.add_messages(session, self.transaction.id, _emails(group.batches), self.message_status)
            if group.errors:
                session.execute(
                    insert(RowError),
                    [
                        {"tenant_id": self.transaction.tenant_id, "transaction_id": self.transaction.id} | e
                        for e in group.errors
                    ],
                )


@dataclass(frozen=True)
class Group:
    batches: list[tuple[Batch, list[recipients.Row]]]
    errors: list[dict]
    total: int
    invalid: int
    duplicates: int


def _emails(batches: list[tuple[Batch, list[recipients.Row]]]):
    return (row.email for _, rows in batches for row in rows)


def chunk_csv(columns: list[tuple[str, int]], rows: list[recipients.Row]) -> bytes:
    """A batch's rows as UTF-8 CSV, under the names the template's placeholders use; the address normalised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([name for name, _ in columns])
    indexes = [index for _, index in columns[1:]]  # the first column is the address
    for row in rows:
        values = row.values
        writer.writerow([row.email, *[values[i] for i in indexes]])
    return out.getvalue().encode()


def read_chunk(storage: Storage, batch: Batch) -> list[dict[str, str]]:
    """The placeholder data of each message of a batch, by position (a transactional email's chunk is JSON)."""
    with storage.open(batch.storage_key) as stream:
        if batch.storage_key.endswith(".json"):
            return json.load(stream)["rows"]
        reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8", newline=""))
        header = next(reader)
        return [dict(zip(header, values)) for values in reader]


def message_data(storage: Storage, session: Session, message: Message) -> dict[str, str] | None:
    """The placeholder data of one message; None when its batch's file is no longer in storage."""
    try:
        return read_chunk(storage, session.get_one(Batch, message.batch_id))[message.position]
    except StoredFileMissing:
        return None


def insert_messages(session: Session, transaction: Transaction, batches: list[tuple[Batch, list]], status: str) -> None:
    """Bulk insert of the batches' messages, by the fastest path each database has: COPY on PostgreSQL,
    the driver's executemany on SQLite (the ORM's bulk insert costs four times as much). Message ids are
    time-ordered UUIDs (v7), so the primary key index grows at its end instead of everywhere."""
    connection = session.connection()
    now = utcnow()
    if connection.dialect.name == "postgresql":
        head = f"\t{transaction.tenant_id}\t{transaction.id}\t"
        tail = f"\t{status}\t0\t{now.isoformat()}\t{now.isoformat()}\n"
        text = "".join(
            f"{uuid7()}{head}{batch.id}\t{position}\t{row.number}\t{_copy_escape(row.email)}{tail}"
            for batch, rows in batches
            for position, row in enumerate(rows)
        )
        driver = connection.connection.driver_connection
        assert driver is not None, "a connection checked out of the pool"
        with driver.cursor().copy(f"COPY messages ({', '.join(MESSAGE_COLUMNS)}) FROM STDIN") as copy:
            copy.write(text)
        return
    bind = _sqlite_binder(connection.dialect)
    constants = (bind("tenant_id", transaction.tenant_id), bind("transaction_id", transaction.id))
    stamp = bind("created_at", now)
    values = [
        (uuid7().hex, *constants, batch_id, position, row.number, row.email, status, 0, stamp, stamp)
        for batch, rows in batches
        for batch_id in [bind("batch_id", batch.id)]
        for position, row in enumerate(rows)
    ]
    placeholders = ", ".join("?" * len(MESSAGE_COLUMNS))
    connection.exec_driver_sql(f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}) VALUES ({placeholders})", values)


def _sqlite_binder(dialect):
    """How SQLite stores a value of a messages column (the column type's own conversion)."""
    columns = Message.__table__.c

    def bind(name: str, value):
        processor = columns[name].type.bind_processor(dialect)
        return processor(value) if processor else value

    return bind


def _copy_escape(value: str) -> str:
    return value.translate(COPY_ESCAPES)


def start(runtime: Runtime, transaction_id: uuid.UUID) -> tuple[Transaction, File] | None:
    """Take the campaign into PROCESSING, clearing what an interrupted earlier attempt wrote."""
    with runtime.db.session() as session:
        transaction = session.get(Transaction, transaction_id)
        if transaction is None or transaction.status not in (TransactionStatus.ACCEPT, TransactionStatus.PROCESSING):
            return None
        for model in (Message, RowError, Batch):
            session.execute(delete(model).where(model.transaction_id == transaction.id))
        counts.forget(session, transaction.id)
        status.set_status(session, transaction, TransactionStatus.PROCESSING)
        file = session.get_one(File, transaction.file_id)
        return transaction, file


def split_file(runtime: Runtime, transaction_id: uuid.UUID) -> None:
    started = start(runtime, transaction_id)
    if started is None:
        return
    transaction, file = started
    waiting = transaction.send_at is not None and transaction.send_at > utcnow()
    status = MessageStatus.SCHEDULED if waiting else MessageStatus.READY_TO_SEND
    with runtime.storage.open(file.storage_key) as stream:
        layout = recipients.Layout.from_dict(transaction.recipients_layout)
        header, rows = recipients.read_rows(stream, layout)
        split = Split(runtime, transaction, recipients.data_columns(header, layout), status)
        try:
            for row in rows:
                if isinstance(row, recipients.Row):
                    split.add(row)
                else:
                    split.skip(row)
                if split.pending_rows >= GROUP_ROWS:
                    split.flush()
            split.flush(final=True)
        except Cancelled:
            return
        finally:
            split.writer.shutdown(wait=True)
    finish(runtime, transaction_id, split.total)


def finish(runtime: Runtime, transaction_id: uuid.UUID, total: int) -> None:
    with runtime.db.session() as session:
        # locked: a reschedule waits for this, or is read by it
        transaction = session.get_one(Transaction, transaction_id, with_for_update=True)
        if transaction.status != TransactionStatus.PROCESSING:
            return
        transaction.processed_at = utcnow()
        if total == 0:
            status.set_status(session, transaction, TransactionStatus.FAILED, "the file has no valid recipient rows")
        elif transaction.send_at is not None and transaction.send_at > utcnow():
            status.set_status(session, transaction, TransactionStatus.SCHEDULED)
            schedule_release(session, transaction, transaction.send_at)
        else:
            status.release(session, transaction)


def schedule_release(session: Session, transaction: Transaction, at: datetime) -> None:
    queue.enqueue(
        session, "release_campaign", {"transaction_id": str(transaction.id)}, tenant_id=transaction.tenant_id, run_at=at
    )
