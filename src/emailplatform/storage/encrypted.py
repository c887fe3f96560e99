"""Any storage backend, with every file encrypted before it is stored and decrypted as it is read (see
encryption/envelope.py). Files stored before encryption was turned on are read as they are."""

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import BinaryIO

from emailplatform.crypto import envelope
from emailplatform.crypto.envelope import KeyWrapper
from emailplatform.errors import TooLarge
from emailplatform.storage.base import PresignedUpload, Storage, UploadReceiver

HEADER_ALLOWANCE = 512  # room for the header over a size cap on the plaintext
# An upload of `max_bytes` is at most this much larger once encrypted: a tag per segment, and the header.
_OVERHEAD_PER_BYTE = envelope.TAG / envelope.SEGMENT


class EncryptedStorage:
    def __init__(self, backend: Storage, keys: KeyWrapper):
        self.backend, self.wrapper = backend, keys
        self.receives_uploads = backend.receives_uploads

    def put(self, key: str, data: bytes) -> None:
        self.backend.put(key, envelope.encrypt(data, self.wrapper))

    def open(self, key: str) -> BinaryIO:
        stream = self.backend.open(key)
        if not envelope.is_encrypted(stream.read(len(envelope.MAGIC))):
            stream.seek(0)
            return stream
        stream.seek(0)
        return envelope.decrypting_reader(stream, self.wrapper)

    def size(self, key: str) -> int | None:
        """The plaintext's size, from the stored size and the header's (read alone, not the whole file)."""
        stored = self.backend.size(key)
        if stored is None:
            return None
        header = envelope.header_size(self.backend.head(key, envelope.HEADER_PREFIX))
        return stored if header is None else envelope.plaintext_size(stored, header)

    def head(self, key: str, size: int) -> bytes:
        with self.open(key) as stream:
            return stream.read(size)

    def delete(self, key: str) -> None:
        self.backend.delete(key)

    def keys(self) -> Iterator[str]:
        return self.backend.keys()

    def remove_partial(self, older_than: timedelta) -> int:
        return self.backend.remove_partial(older_than)

    def url_for(self, key: str) -> str:
        return self.backend.url_for(key)

    def presigned_upload(self, key: str, *, max_bytes: int, ttl_seconds: int) -> PresignedUpload:
        """An upload straight to the backend (S3 keeps it with its own server-side encryption); through this
        app (the local backend), it is encrypted on the way in."""
        return self.backend.presigned_upload(key, max_bytes=max_bytes, ttl_seconds=ttl_seconds)

    def check_upload_token(self, token: str) -> tuple[str, int]:
        assert isinstance(self.backend, UploadReceiver)
        return self.backend.check_upload_token(token)

    async def receive_upload(self, key: str, max_bytes: int, chunks: AsyncIterator[bytes]) -> int:
        """The backend stores the encrypted stream; the size cap and the answer count the plaintext."""
        received = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal received
            async for chunk in chunks:
                received += len(chunk)
                if received > max_bytes:
                    raise TooLarge(f"the file is larger than the {max_bytes} bytes allowed", field="file")
                yield chunk

        encrypted_cap = max_bytes + int(max_bytes * _OVERHEAD_PER_BYTE) + envelope.TAG + HEADER_ALLOWANCE
        assert isinstance(self.backend, UploadReceiver)
        await self.backend.receive_upload(key, encrypted_cap, envelope.encrypt_stream(counted(), self.wrapper))
        return received
