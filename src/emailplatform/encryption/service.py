"""Rotating the master key without downtime: with the new key listed first and the old ones after it, every
process already writes under the new key and still reads under the old; `rotate` then rewraps what the old keys
wrapped (a stored file's header, a secret's value) and encrypts what was stored before encryption was on. When it
is done, the old keys can be removed from the settings. What no configured key opens is counted and named, never
skipped in silence."""

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Text, select, type_coerce, update

from emailplatform.crypto import envelope
from emailplatform.crypto.envelope import Keyring, Unreadable
from emailplatform.db import Database
from emailplatform.models import CallbackSecret, SendingDomain, WebhookEndpoint
from emailplatform.models.encrypted import sealed_with, unseal
from emailplatform.storage.encrypted import EncryptedStorage

ENCRYPTED_COLUMNS = [
    (SendingDomain, SendingDomain.id, SendingDomain.dkim_private_key),
    (WebhookEndpoint, WebhookEndpoint.id, WebhookEndpoint.secret),
    (WebhookEndpoint, WebhookEndpoint.id, WebhookEndpoint.previous_secret),
    (CallbackSecret, CallbackSecret.tenant_id, CallbackSecret.secret),
    (CallbackSecret, CallbackSecret.tenant_id, CallbackSecret.previous_secret),
]


@dataclass
class Rotated:
    rewrapped: int = 0  # under an old key before, the current one now
    encrypted: int = 0  # stored in the clear before
    current: int = 0  # under the current key already
    unreadable: list[str] = field(default_factory=list)  # under no configured key

    def add(self, outcome: str, name: str) -> None:
        if outcome == "unreadable":
            self.unreadable.append(name)
        else:
            setattr(self, outcome, getattr(self, outcome) + 1)


def rotate(
    db: Database, storage: EncryptedStorage, keys: Keyring, advance: Callable[[], None]
) -> tuple[Rotated, Rotated]:
    """Stored files, then database secrets: what each rotation found."""
    files = Rotated()
    for key in storage.keys():
        files.add(_rotate_file(storage, keys, key), key)
        advance()
    return files, _rotate_secrets(db, keys)


def _rotate_file(storage: EncryptedStorage, keys: Keyring, key: str) -> str:
    with storage.backend.open(key) as raw:
        wrapped_by = envelope.sealed_with(raw)
        if wrapped_by is None:
            storage.put(key, raw.read())
            return "encrypted"
        if keys.is_current(wrapped_by):
            return "current"
        try:
            header = envelope.Header.read(raw, keys)
        except Unreadable:
            return "unreadable"
        storage.backend.put(key, header.rewrapped(keys) + raw.read())
        return "rewrapped"


def _rotate_secrets(db: Database, keys: Keyring) -> Rotated:
    done = Rotated()
    with db.session() as session:
        for model, key, column in ENCRYPTED_COLUMNS:
            stored = session.execute(select(key, type_coerce(column, Text)).where(column.is_not(None))).all()
            for row_key, value in stored:
                outcome = _outcome(value, keys)
                done.add(outcome, f"{model.__tablename__}.{column.key} of {row_key}")
                if outcome in ("rewrapped", "encrypted"):
                    plain = unseal(value, keys) if outcome == "rewrapped" else value
                    session.execute(update(model).where(key == row_key).values({column.key: plain}))
    return done


def _outcome(value: str, keys: Keyring) -> str:
    wrapped_by = sealed_with(value)
    if wrapped_by is None:
        return "encrypted"
    if keys.is_current(wrapped_by):
        return "current"
    return "rewrapped" if keys.opens(wrapped_by) else "unreadable"
