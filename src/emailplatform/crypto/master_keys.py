"""Master keys: the first one wraps new data keys; every one listed still unwraps, so a new master key can be put
first, and the old one kept until `emailplatform keys rotate` has rewrapped everything under the new one."""

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emailplatform.crypto.envelope import Unreadable

KEY_BYTES = 32
NONCE = 12


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"emailplatform master key" + key).digest()[:8]


class MasterKeys:
    def __init__(self, keys: Sequence[bytes]):
        if not keys:
            raise ValueError("at least one master key is needed")
        self.keys = {key_id(key): key for key in keys}
        self.current = key_id(keys[0])

    @classmethod
    def from_text(cls, encoded: Sequence[str]) -> "MasterKeys":
        return cls([decode_key(text, f"master key {n}") for n, text in enumerate(encoded, start=1)])

    def wrap(self, data_key: bytes) -> tuple[bytes, bytes]:
        nonce = os.urandom(NONCE)
        return self.current, nonce + AESGCM(self.keys[self.current]).encrypt(nonce, data_key, self.current)

    def unwrap(self, wrapped_by: bytes, wrapped: bytes) -> bytes:
        key = self.keys.get(wrapped_by)
        if key is None:
            raise Unreadable(f"the master key {wrapped_by.hex()} that encrypted this is not configured")
        try:
            return AESGCM(key).decrypt(wrapped[:NONCE], wrapped[NONCE:], wrapped_by)
        except InvalidTag:
            raise Unreadable("the data key does not unwrap: the header was altered") from None

    def is_current(self, wrapped_by: bytes) -> bool:
        return wrapped_by == self.current

    def opens(self, wrapped_by: bytes) -> bool:
        return wrapped_by in self.keys


def new_key_text() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def decode_key(text: str, name: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} is not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{name} is {len(key)} bytes; a master key is {KEY_BYTES} bytes, base64-encoded")
    return key
