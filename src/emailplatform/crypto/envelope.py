"""Envelope encryption of stored files: each file has a data key of its own, wrapped by a master key and kept in
the file's header; the body is AES-256-GCM in 64 KiB segments, each its own authenticated message, so a file of
any size is encrypted and decrypted as a stream and read from any offset, and a truncated, reordered or altered
file fails to decrypt rather than read short.

    header:  MAGIC | key id (8) | wrapped key length (2) | wrapped data key | nonce prefix (7)
    segment: AES-GCM(data key, nonce prefix | segment number (4) | last (1), plaintext ≤ 64 KiB,
                     aad = MAGIC | nonce prefix)

The wrapped key is outside the segments' associated data, so a new master key rewraps a file's data key by
rewriting its header alone (`Header.rewrapped`).
"""

import io
import os
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"EPENC1"
SEGMENT = 64 * 1024
TAG = 16
NONCE_PREFIX = 7
_FIXED = struct.Struct(">8sH")  # key id, wrapped key length


class Unreadable(ValueError):
    """The data is not an encrypted file of ours, was altered, or its master key is not configured."""


class KeyWrapper(Protocol):
    def wrap(self, data_key: bytes) -> tuple[bytes, bytes]:
        """(key id, wrapped key) for a new data key, under the current master key."""

    def unwrap(self, key_id: bytes, wrapped: bytes) -> bytes: ...


class Keyring(KeyWrapper, Protocol):
    """The master keys of a deployment (crypto.master_keys, or crypto.kms): which wraps, which still unwrap."""

    def is_current(self, key_id: bytes) -> bool: ...
    def opens(self, key_id: bytes) -> bool: ...


HEADER_PREFIX = len(MAGIC) + _FIXED.size  # what tells the header's size


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)


def header_size(prefix: bytes) -> int | None:
    """The size of the header that `prefix` (the first HEADER_PREFIX bytes) starts; None if not encrypted."""
    if not is_encrypted(prefix) or len(prefix) < HEADER_PREFIX:
        return None
    return HEADER_PREFIX + _FIXED.unpack(prefix[len(MAGIC) : HEADER_PREFIX])[1] + NONCE_PREFIX


@dataclass(frozen=True)
class Header:
    raw: bytes
    key_id: bytes
    data_key: bytes
    nonce_prefix: bytes

    @classmethod
    def new(cls, keys: KeyWrapper) -> "Header":
        data_key = AESGCM.generate_key(256)
        key_id, wrapped = keys.wrap(data_key)
        prefix = os.urandom(NONCE_PREFIX)
        raw = MAGIC + _FIXED.pack(key_id, len(wrapped)) + wrapped + prefix
        return cls(raw, key_id, data_key, prefix)

    @classmethod
    def read(cls, stream: BinaryIO, keys: KeyWrapper) -> "Header":
        fixed = stream.read(HEADER_PREFIX)
        if header_size(fixed) is None:
            raise Unreadable("not an encrypted file")
        key_id, wrapped_length = _FIXED.unpack(fixed[len(MAGIC) :])
        rest = stream.read(wrapped_length + NONCE_PREFIX)
        if len(rest) != wrapped_length + NONCE_PREFIX:
            raise Unreadable("the header is cut short")
        data_key = keys.unwrap(key_id, rest[:wrapped_length])
        return cls(fixed + rest, key_id, data_key, rest[wrapped_length:])

    def rewrapped(self, keys: KeyWrapper) -> bytes:
        """This header with its data key wrapped under `keys`' current master key."""
        key_id, wrapped = keys.wrap(self.data_key)
        return MAGIC + _FIXED.pack(key_id, len(wrapped)) + wrapped + self.nonce_prefix

    def seal(self, number: int, chunk: bytes, last: bool) -> bytes:
        return AESGCM(self.data_key).encrypt(self._nonce(number, last), chunk, MAGIC + self.nonce_prefix)

    def open(self, number: int, sealed: bytes, last: bool) -> bytes:
        try:
            return AESGCM(self.data_key).decrypt(self._nonce(number, last), sealed, MAGIC + self.nonce_prefix)
        except InvalidTag:
            raise Unreadable(f"segment {number} of the file does not decrypt: altered, cut or reordered") from None

    def _nonce(self, number: int, last: bool) -> bytes:
        return self.nonce_prefix + struct.pack(">I?", number, last)


def encrypt(data: bytes, keys: KeyWrapper) -> bytes:
    return b"".join(encrypt_chunks(iter((data,)), keys))


def encrypt_chunks(chunks: Iterator[bytes], keys: KeyWrapper) -> Iterator[bytes]:
    """The encrypted file, header first, for plaintext arriving in chunks of any size."""
    sealer = _Sealer(Header.new(keys))
    yield sealer.header.raw
    for chunk in chunks:
        yield from sealer.add(chunk)
    yield sealer.finish()


async def encrypt_stream(chunks: AsyncIterator[bytes], keys: KeyWrapper) -> AsyncIterator[bytes]:
    sealer = _Sealer(Header.new(keys))
    yield sealer.header.raw
    async for chunk in chunks:
        for sealed in sealer.add(chunk):
            yield sealed
    yield sealer.finish()


class _Sealer:
    def __init__(self, header: Header):
        self.header, self.pending, self.number = header, bytearray(), 0

    def add(self, chunk: bytes) -> Iterator[bytes]:
        self.pending += chunk
        while len(self.pending) > SEGMENT:  # keep a full segment back: it may be the last
            yield self.header.seal(self.number, bytes(self.pending[:SEGMENT]), last=False)
            del self.pending[:SEGMENT]
            self.number += 1

    def finish(self) -> bytes:
        return self.header.seal(self.number, bytes(self.pending), last=True)


def plaintext_size(encrypted_size: int, header_size: int) -> int:
    body = encrypted_size - header_size
    full, rest = divmod(body, SEGMENT + TAG)
    return full * SEGMENT if rest == 0 else full * SEGMENT + rest - TAG


class DecryptingReader(io.RawIOBase):
    """A seekable plaintext view of an encrypted, seekable stream: a segment is decrypted when read."""

    def __init__(self, stream: BinaryIO, keys: KeyWrapper):
        self.stream = stream
        self.header = Header.read(stream, keys)
        self.size = plaintext_size(stream.seek(0, io.SEEK_END), len(self.header.raw))
        self.segments = max(1, -(-self.size // SEGMENT))
        self.position = 0
        self.cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.size:
            if self.size == 0:
                self._segment(0)  # an empty file is one empty last segment: checked, never assumed
            return 0
        number, offset = divmod(self.position, SEGMENT)
        plain = self._segment(number)[offset : offset + len(buffer)]
        buffer[: len(plain)] = plain
        self.position += len(plain)
        return len(plain)

    def _segment(self, number: int) -> bytes:
        if self.cached and self.cached[0] == number:
            return self.cached[1]
        self.stream.seek(len(self.header.raw) + number * (SEGMENT + TAG))
        sealed = self.stream.read(SEGMENT + TAG)
        plain = self.header.open(number, sealed, last=number == self.segments - 1)
        self.cached = (number, plain)
        return plain

    def close(self) -> None:
        self.stream.close()
        super().close()


def decrypting_reader(stream: BinaryIO, keys: KeyWrapper) -> BinaryIO:
    return io.BufferedReader(DecryptingReader(stream, keys), buffer_size=SEGMENT)


def decrypt(data: bytes, keys: KeyWrapper) -> bytes:
    with decrypting_reader(io.BytesIO(data), keys) as reader:
        return reader.read()


def sealed_with(stream: BinaryIO) -> bytes | None:
    """The id of the master key an encrypted stream's data key is wrapped with; None if it is not encrypted."""
    prefix = stream.read(HEADER_PREFIX)
    stream.seek(0)
    if header_size(prefix) is None:
        return None
    return _FIXED.unpack(prefix[len(MAGIC) :])[0]
