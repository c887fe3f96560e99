"""On PostgreSQL, messages and events are partitioned by the month of the message's id: a campaign's rows land in
their month's partitions, a database migrated with rows in it keeps every one in its month, and retention drops a
month of events whole once every campaign with messages in that month is due, not before."""

import uuid
from datetime import timedelta

import psycopg
import pytest
from alembic import command
from sqlalchemy import text

from emailplatform import partitions
from emailplatform.migrations import alembic_config
from emailplatform.models import Transaction, utcnow
from emailplatform.privacy import retention
from tests.conftest import _postgres_database
from tests.privacy.helpers import record_event
from tests.privacy.test_erasure import PERSON, ROWS, send
from tests.privacy.test_retention import finished

ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
THIS_MONTH = partitions.month_of(utcnow())


def where_they_are(runtime, table: str, transaction_id) -> dict[str, int]:
    """How many of the campaign's rows of `table` each partition holds."""
    with runtime.db.session(write=False) as session:
        rows = session.execute(
            text(f"SELECT tableoid::regclass::text, count(*) FROM {table} WHERE transaction_id = :t GROUP BY 1"),
            {"t": uuid.UUID(str(transaction_id))},
        )
        return dict(rows.all())


@ON_POSTGRES
def test_a_campaigns_messages_and_events_are_in_the_partitions_of_their_month(client, runtime, tenant):
    done = send(client, runtime, ROWS, "capture")
    record_event(runtime, done, PERSON, "opened")

    month = partitions.name_of("messages", THIS_MONTH)
    assert where_they_are(runtime, "messages", done) == {month: 3}
    assert where_they_are(runtime, "events", done) == {partitions.name_of("events", THIS_MONTH): 4}
    with runtime.db.session(write=False) as session:
        made = partitions.months(session.connection(), "events")
    assert made[0] == THIS_MONTH and len(made) == 1 + partitions.MONTHS_AHEAD


@ON_POSTGRES
def test_retention_drops_a_month_of_events_once_every_campaign_of_it_is_due(client, runtime, tenant):
    done = send(client, runtime, ROWS, "capture")
    running = send(client, runtime, ROWS[:1], "capture")
    record_event(runtime, running, ROWS[0][0], "opened")
    finished(runtime, done)
    with runtime.db.session() as session:  # the other campaign still waits for outcomes
        session.get(Transaction, uuid.UUID(running)).status = "SENT"
    runtime.settings.retention_events_days = 30
    events_of_month = partitions.name_of("events", THIS_MONTH)
    # A month after this month ended, and the 30 days: every campaign that finished by now is due.
    later = partitions.start_of(partitions.next_month(THIS_MONTH)) + timedelta(days=31)

    assert retention.apply(runtime, now=later)["event_months"] == 0  # the running campaign keeps its month
    assert where_they_are(runtime, "events", done) == {}  # the due one lost its events, a row at a time
    assert where_they_are(runtime, "events", running) == {events_of_month: 2}

    finished(runtime, running)
    assert retention.apply(runtime, now=later)["event_months"] == 1
    assert where_they_are(runtime, "events", running) == {}
    assert where_they_are(runtime, "messages", running) == {partitions.name_of("messages", THIS_MONTH): 1}
    with runtime.db.session(write=False) as session:
        assert THIS_MONTH not in partitions.months(session.connection(), "events")
        assert THIS_MONTH in partitions.months(session.connection(), "messages")
        # the months up to two after `later`'s were made ahead
        assert len(partitions.months(session.connection(), "messages")) >= 3 + partitions.MONTHS_AHEAD

    record_event(runtime, running, ROWS[0][0], "clicked")  # a late event of that month is still kept
    assert where_they_are(runtime, "events", running) == {"events_default": 1}


@pytest.fixture
def database_at_0001(postgres_admin):
    name = f"emailplatform_partitions_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(f'CREATE DATABASE "{name}"')
    url = _postgres_database(name).replace("postgresql://", "postgresql+psycopg://", 1)
    command.upgrade(alembic_config(url), "0001")
    yield url
    postgres_admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_database_with_rows_is_partitioned_by_the_migration_and_keeps_every_row(database_at_0001):
    year_ago = THIS_MONTH.replace(year=THIS_MONTH.year - 1)
    a_year_ago = partitions.first_id_of(year_ago)
    random = uuid.UUID(int=0xFFFF << 112 | uuid.uuid4().int >> 16)  # not a UUIDv7: a millisecond far ahead
    now = utcnow()
    with psycopg.connect(database_at_0001.replace("+psycopg", "")) as db:
        tenant, transaction, batch = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        db.execute("INSERT INTO tenants (id, name, created_at) VALUES (%s, 'old', %s)", (tenant, now))
        db.execute(
            "INSERT INTO transactions (id, tenant_id, kind, from_email, batch_size, tracking, status, total_messages, "
            "invalid_rows, duplicate_rows, created_at, updated_at) "
            "VALUES (%s, %s, 'campaign', 'news@example.com', 250, true, 'COMPLETED', 2, 0, 0, %s, %s)",
            (transaction, tenant, now, now),
        )
        for number, message in enumerate((a_year_ago, random)):
            db.execute(
                "INSERT INTO messages (id, tenant_id, transaction_id, batch_id, position, row_number, email, status, "
                "attempts, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'a@example.com', 'SENT', 1, %s, %s)",
                (message, tenant, transaction, batch, number, number + 1, now, now),
            )
            db.execute(
                "INSERT INTO events (tenant_id, transaction_id, message_id, type, occurred_at, details, dedup_key) "
                "VALUES (%s, %s, %s, 'sent', %s, '{}', %s)",
                (tenant, transaction, message, now, f"sent:{message}"),
            )

    command.upgrade(alembic_config(database_at_0001), "head")

    with psycopg.connect(database_at_0001.replace("+psycopg", "")) as db:
        placed = db.execute("SELECT tableoid::regclass::text, id FROM messages ORDER BY id").fetchall()
        assert placed == [(partitions.name_of("messages", year_ago), a_year_ago), ("messages_default", random)]
        events = db.execute("SELECT tableoid::regclass::text, id FROM events ORDER BY id").fetchall()
        assert [where for where, _ in events] == [
            partitions.name_of("events", year_ago),
            "events_default",
        ]
        made = db.execute(
            "INSERT INTO events (tenant_id, transaction_id, message_id, type, occurred_at, details) "
            "VALUES (%s, %s, %s, 'opened', %s, '{}') RETURNING id",
            (tenant, transaction, a_year_ago, now),
        ).fetchone()
        assert made[0] > events[-1][1]  # the ids go on from where they were
        partitions_made = db.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass")
        # the oldest message's month to this one, the months ahead, and the DEFAULT
        assert partitions_made.fetchone()[0] == 13 + partitions.MONTHS_AHEAD + 1
        again = db.execute(
            "INSERT INTO events (tenant_id, transaction_id, message_id, type, occurred_at, details, dedup_key) "
            "VALUES (%s, %s, %s, 'sent', %s, '{}', %s) ON CONFLICT (dedup_key, message_id) DO NOTHING RETURNING id",
            (tenant, transaction, a_year_ago, now, f"sent:{a_year_ago}"),
        ).fetchone()
        assert again is None  # the same notification twice is one event
