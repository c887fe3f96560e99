"""Where files live: templates, recipient CSVs, batch chunks, captured .eml. One small interface, two backends."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol



class StoredFileMissing(LookupError):
    pass


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    expires_at: datetime
    method: str = "PUT"


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the stored file; raises StoredFileMissing."""

    def size(self, key: str) -> int | None:
        """The file's size, or None when nothing was stored under `key`."""

    def delete(self, key: str) -> None: ...

    def url_for(self, key: str) -> str:
        """The stable address of a stored file, as a campaign names it (`s3://bucket/key`, `local://files/key`)."""

    def presigned_upload(self, key: str, *, max_bytes: int, ttl_seconds: int) -> PresignedUpload: ...

    def remove_partial(self, older_than: timedelta) -> int:
        """Remove what writes that never finished left behind, untouched for `older_than`; how many were."""
