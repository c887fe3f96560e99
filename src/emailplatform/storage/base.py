"""Where files live: templates, recipient CSVs, batch chunks, captured .eml. One small interface, two backends."""

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from emailplatform.runtime import PresignedUpload, Storage  # the interface, which the runtime knows storage by

__all__ = ["PresignedUpload", "Storage", "StoredFileMissing", "UploadReceiver"]


class StoredFileMissing(LookupError):
    pass


@runtime_checkable
class UploadReceiver(Protocol):
    """A storage that takes uploads at its presigned URLs itself (when `receives_uploads`)."""

    def check_upload_token(self, token: str) -> tuple[str, int]:
        """The key and size cap a signed upload URL grants; a 4xx error if it is tampered or expired."""

    async def receive_upload(self, key: str, max_bytes: int, chunks: AsyncIterator[bytes]) -> int:
        """Store an uploaded stream under `key`, refusing it whole past `max_bytes`; its size."""
