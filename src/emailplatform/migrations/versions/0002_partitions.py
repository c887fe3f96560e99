"""partitions: on PostgreSQL, messages and events partitioned by month (emailplatform/partitions.py)

Written by hand, kept by scripts/regen-migration.sh. The tables are made again as partitioned tables, with the
same columns, keys and indexes (events' keys hold its message's id, as a partitioned table's unique keys must),
their rows copied over; SQLite's stay as they are.

Revision ID: 0002
Revises: 0001
"""

from datetime import date

from alembic import op
from sqlalchemy import text

from emailplatform import partitions
from emailplatform.models import utcnow

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SET_ASIDE = """
ALTER TABLE events DROP CONSTRAINT fk_events_message_id_messages;
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE events_unpartitioned RENAME CONSTRAINT pk_events TO pk_events_unpartitioned;
ALTER TABLE events_unpartitioned RENAME CONSTRAINT uq_events_dedup_key_message_id TO uq_events_unpartitioned;
ALTER INDEX ix_events_message_id_occurred_at RENAME TO ix_events_unpartitioned_message_id;
ALTER INDEX ix_events_transaction_id_type RENAME TO ix_events_unpartitioned_transaction_id;
ALTER TABLE messages RENAME TO messages_unpartitioned;
ALTER TABLE messages_unpartitioned RENAME CONSTRAINT pk_messages TO pk_messages_unpartitioned;
ALTER INDEX ix_messages_batch_id_status RENAME TO ix_messages_unpartitioned_batch_id;
ALTER INDEX ix_messages_transaction_id_status_id RENAME TO ix_messages_unpartitioned_transaction_id;
ALTER INDEX ix_messages_transaction_id_id RENAME TO ix_messages_unpartitioned_transaction_id_id;
"""

PARTITIONED = """
CREATE TABLE messages (LIKE messages_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE) PARTITION BY RANGE (id);
ALTER TABLE messages ADD CONSTRAINT pk_messages PRIMARY KEY (id);
CREATE INDEX ix_messages_batch_id_status ON messages (batch_id, status);
CREATE INDEX ix_messages_transaction_id_status_id ON messages (transaction_id, status, id);
CREATE INDEX ix_messages_transaction_id_id ON messages (transaction_id, id);
CREATE TABLE messages_default PARTITION OF messages DEFAULT;

CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE)
    PARTITION BY RANGE (message_id);
ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id, message_id);
ALTER TABLE events ADD CONSTRAINT uq_events_dedup_key_message_id UNIQUE (dedup_key, message_id);
CREATE INDEX ix_events_message_id_occurred_at ON events (message_id, occurred_at);
CREATE INDEX ix_events_transaction_id_type ON events (transaction_id, type);
ALTER TABLE events ADD CONSTRAINT fk_events_message_id_messages FOREIGN KEY (message_id) REFERENCES messages (id);
ALTER TABLE events ADD CONSTRAINT fk_events_tenant_id_tenants FOREIGN KEY (tenant_id) REFERENCES tenants (id);
ALTER TABLE events ADD CONSTRAINT fk_events_transaction_id_transactions
    FOREIGN KEY (transaction_id) REFERENCES transactions (id);
CREATE TABLE events_default PARTITION OF events DEFAULT;
"""

MOVED = """
INSERT INTO messages SELECT * FROM messages_unpartitioned;
INSERT INTO events SELECT * FROM events_unpartitioned;
ALTER SEQUENCE events_id_seq OWNED BY events.id;
DROP TABLE events_unpartitioned;
DROP TABLE messages_unpartitioned;
"""

EARLIEST = date(2025, 1, 1)  # months of older ids are not made: such ids are not UUIDv7s (the DEFAULT has them)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for statements in (SET_ASIDE, PARTITIONED):
        connection.execute(text(statements))
    first = connection.scalar(
        text("SELECT id FROM messages_unpartitioned WHERE id >= :earliest AND id < :now ORDER BY id LIMIT 1"),
        {"earliest": partitions.first_id_of(EARLIEST), "now": partitions.first_id_of(partitions.month_of(utcnow()))},
    )
    since = partitions.month_of(partitions.time_of(first)) if first else None
    partitions.make_months(connection, utcnow(), since=since)
    connection.execute(text(MOVED))


def downgrade() -> None:
    raise NotImplementedError("the partitioned tables are not made plain again")
