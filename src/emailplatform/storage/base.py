"""Where files live: templates, recipient CSVs, batch chunks, captured .eml. One small interface, two backends."""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol, runtime_checkable


class StoredFileMissing(LookupError):
    pass


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    expires_at: datetime
    method: str = "PUT"


class Storage(Protocol):
    receives_uploads: bool  # its presigned upload URLs are this app's own (/uploads/…), not the backend's

    def put(self, key: str, data: bytes) -> None: ...

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the stored file; raises StoredFileMissing."""

    def size(self, key: str) -> int | None:
        """The file's size, or None when nothing was stored under `key`."""

    def head(self, key: str, size: int) -> bytes:
        """The file's first `size` bytes (fewer if it is shorter); raises StoredFileMissing."""

    def delete(self, key: str) -> None: ...

    def keys(self) -> Iterator[str]:
        """Every stored file's key."""

    def url_for(self, key: str) -> str:
        """The stable address of a stored file, as a campaign names it (`s3://bucket/key`, `local://files/key`)."""

    def presigned_upload(self, key: str, *, max_bytes: int, ttl_seconds: int) -> PresignedUpload: ...

    def remove_partial(self, older_than: timedelta) -> int:
        """Remove what writes that never finished left behind, untouched for `older_than`; how many were."""


@runtime_checkable
class UploadReceiver(Protocol):
    """A storage that takes uploads at its presigned URLs itself (when `receives_uploads`)."""

    def check_upload_token(self, token: str) -> tuple[str, int]:
        """The key and size cap a signed upload URL grants; a 4xx error if it is tampered or expired."""

    async def receive_upload(self, key: str, max_bytes: int, chunks: AsyncIterator[bytes]) -> int:
        """Store an uploaded stream under `key`, refusing it whole past `max_bytes`; its size."""
