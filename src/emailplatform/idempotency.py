"""Idempotency-Key: the first answer to a request sent with a key is kept, and a retry with the same key and body
gets it again instead of doing the work twice; the same key with another body is refused."""

import hashlib
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from emailplatform.errors import Invalid
from emailplatform.models import IdempotencyKey


def answer_once(
    session: Session, tenant_id: uuid.UUID, key: str | None, request_body: str, accept: Callable[[], dict]
) -> dict:
    """`accept()`'s answer, or, for a key seen before, the answer it gave then."""
    if key is None:
        return accept()
    request_hash = hashlib.sha256(request_body.encode()).hexdigest()
    stored = _stored_answer(session, tenant_id, key)
    if stored is None:
        try:
            with session.begin_nested():
                record = IdempotencyKey(
                    tenant_id=tenant_id, key=key, request_hash=request_hash, status_code=202, response={}
                )
                session.add(record)
                session.flush()
        except IntegrityError:  # the same key arrived at the same moment; its answer is committed now
            stored = _stored_answer(session, tenant_id, key)
            assert stored is not None, "the other request's answer is committed"
        else:
            record.response = accept()
            return record.response
    if stored.request_hash != request_hash:
        raise Invalid("this Idempotency-Key was used with a different request body", field="Idempotency-Key")
    return stored.response


def _stored_answer(session: Session, tenant_id: uuid.UUID, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key)
    )
