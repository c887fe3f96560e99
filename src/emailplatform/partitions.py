"""On PostgreSQL, messages and events are partitioned by month: messages by their id (a UUIDv7, whose first 48
bits are the millisecond it was made), events by their message's id. A month's messages and every event of them
share a month, whenever the event came: each month's indexes stay a month's size, and retention drops a month of
events whole once every campaign with messages in it is past its events' retention.

The months are made ahead (this one and the next MONTHS_AHEAD), by the migration and then by the retention job
each hour; a row of no month (an id that is not a UUIDv7) goes to each table's DEFAULT partition. SQLite has none
of this: its tables are plain."""

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import structlog
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = structlog.get_logger("emailplatform.partitions")

MONTHS_AHEAD = 2
PARTITIONED = ("messages", "events")  # by their id, and by their message's id
LOCK_TIMEOUT = "2s"  # a month not made because the table is busy is made on the next run
MONTH_NAME = re.compile(r"^(messages|events)_(\d{4})_(\d{2})$")
PARTITIONS_OF = text(
    "SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
    "JOIN pg_class parent ON parent.oid = pg_inherits.inhparent WHERE parent.relname = :table"
)


def start_of(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def first_id_of(month: date) -> uuid.UUID:
    """The smallest UUIDv7 of the month's first millisecond (UTC)."""
    return uuid.UUID(int=int(start_of(month).timestamp() * 1000) << 80)


def time_of(time_ordered: uuid.UUID) -> datetime:
    """When a UUIDv7 was made."""
    return datetime.fromtimestamp((time_ordered.int >> 80) / 1000, UTC)


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def name_of(table: str, month: date) -> str:
    return f"{table}_{month:%Y_%m}"


def is_partitioned(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql" and bool(
        connection.scalar(text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'messages'::regclass"))
    )


def months(connection: Connection, table: str) -> list[date]:
    """The months `table` has a partition of."""
    found = (MONTH_NAME.match(name) for name in connection.scalars(PARTITIONS_OF, {"table": table}))
    return sorted(date(int(m[2]), int(m[3]), 1) for m in found if m)


def make_months(connection: Connection, now: datetime, since: date | None = None) -> list[str]:
    """The partitions of each month from `since` (default: now's) to MONTHS_AHEAD after now's that are not made
    yet; the names of those made. A month whose rows are in the DEFAULT partition already is left there."""
    if not is_partitioned(connection):
        return []
    last = month_of(now)
    for _ in range(MONTHS_AHEAD):
        last = next_month(last)
    made = []
    for table in PARTITIONED:
        have = set(months(connection, table))
        month = since or month_of(now)
        while month <= last:
            if month not in have and _make(connection, table, month):
                made.append(name_of(table, month))
            month = next_month(month)
    return made


def _make(connection: Connection, table: str, month: date) -> bool:
    low, high = first_id_of(month), first_id_of(next_month(month))
    partition = f"{name_of(table, month)} PARTITION OF {table} FOR VALUES FROM ('{low}') TO ('{high}')"
    return _altered(connection, f"CREATE TABLE {partition}", "partition not made", table, month)


def drop(connection: Connection, table: str, month: date) -> bool:
    return _altered(connection, f"DROP TABLE {name_of(table, month)}", "partition not dropped", table, month)


def _altered(connection: Connection, statement: str, failed: str, table: str, month: date) -> bool:
    """Whether `statement` (which locks the whole table a moment) was done; it waits LOCK_TIMEOUT at most."""
    try:
        with connection.begin_nested():
            connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            connection.execute(text(statement))
        return True
    except DBAPIError as exc:  # busy, or (a new month) rows of that month in the DEFAULT partition already
        log.warning(failed, table=table, month=f"{month:%Y-%m}", error=str(exc.orig))
        return False


def ended_before(month: date, moment: datetime) -> bool:
    return start_of(next_month(month)) <= moment
