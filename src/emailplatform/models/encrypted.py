"""A text column kept encrypted in the database (DKIM private keys, webhook signing secrets): sealed with the
master keys of the engine that writes it, opened by any engine that has the key it was sealed with. A value
written before encryption was turned on is read as it is, and sealed when next written."""

import base64
import io
from collections.abc import Iterable

from sqlalchemy import Engine, Text
from sqlalchemy.types import TypeDecorator

from emailplatform.crypto import envelope
from emailplatform.crypto.envelope import KeyWrapper, Unreadable

SEALED = "enc1:"
_KEYS_ATTRIBUTE = "emailplatform_master_keys"


def use_keys(engines: Iterable[Engine], keys: KeyWrapper | None) -> None:
    """Seal and open this database's encrypted columns with `keys` (None: write them in the clear)."""
    for engine in engines:
        setattr(engine.dialect, _KEYS_ATTRIBUTE, keys)


def is_sealed(value: str | None) -> bool:
    return value is not None and value.startswith(SEALED)


def seal(value: str, keys: KeyWrapper) -> str:
    return SEALED + base64.b64encode(envelope.encrypt(value.encode(), keys)).decode()


def unseal(value: str, keys: KeyWrapper) -> str:
    return envelope.decrypt(_sealed_bytes(value), keys).decode()


def sealed_with(value: str) -> bytes | None:
    """The id of the master key a sealed value is under (None: stored in the clear)."""
    return envelope.sealed_with(io.BytesIO(_sealed_bytes(value))) if is_sealed(value) else None


def _sealed_bytes(value: str) -> bytes:
    return base64.b64decode(value[len(SEALED) :])


class EncryptedText(TypeDecorator):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        keys = getattr(dialect, _KEYS_ATTRIBUTE, None)
        if value is None or keys is None:
            return value
        return seal(value, keys)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        if value is None or not is_sealed(value):
            return value
        keys = getattr(dialect, _KEYS_ATTRIBUTE, None)
        if keys is None:
            raise Unreadable("an encrypted column was read with encryption turned off: configure its master keys")
        return unseal(value, keys)
