"""A tenant's whole footprint of one person: every database row and stored file that mentions them."""

import uuid
from pathlib import Path

from sqlalchemy import select

from emailplatform.crypto import envelope
from emailplatform.crypto.master_keys import MasterKeys
from emailplatform.events import service as event_service
from emailplatform.models import Base, Message
from emailplatform.runtime import Runtime
from tests.conftest import TEST_MASTER_KEY

TEST_KEYS = MasterKeys.from_text([TEST_MASTER_KEY])


def rows_mentioning(runtime: Runtime, tenant_id: uuid.UUID, needles: list[str]) -> list[str]:
    """Every row of every table with a tenant_id, of this tenant, whose text holds one of the needles."""
    found = []
    with runtime.db.session(write=False) as session:
        for table in Base.metadata.sorted_tables:
            if "tenant_id" not in table.c:
                continue
            for row in session.execute(select(table).where(table.c.tenant_id == tenant_id)):
                text = str(tuple(row)).lower()
                found += [f"{table.name}: {row}" for needle in needles if needle.lower() in text]
    return found


def files_mentioning(root: Path, needles: list[str]) -> list[str]:
    """Every stored file whose plaintext (decrypted with the tests' master key) holds one of the needles."""
    return [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and any(needle.encode() in _plaintext(path) for needle in needles)
    ]


def _plaintext(path: Path) -> bytes:
    data = path.read_bytes()
    return envelope.decrypt(data, TEST_KEYS) if envelope.is_encrypted(data) else data


def record_event(runtime: Runtime, transaction_id: str, email: str, kind: str, **details) -> uuid.UUID:
    with runtime.db.session() as session:
        message_id = session.scalar(
            select(Message.id).where(Message.transaction_id == uuid.UUID(transaction_id), Message.email == email)
        )
        event_service.record(session, event_service.NewEvent(message_id, kind, details=details))
    return message_id
