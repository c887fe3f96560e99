"""Files in a local directory; upload URLs signed by the app, behaving as S3 presigned URLs do.

A file is written whole or not at all: into a temporary file in PARTIAL_DIR, then renamed into place. A process
killed mid-write leaves its temporary file there, for the housekeeping job to remove (storage/tasks.py)."""

import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from itsdangerous import BadSignature, URLSafeSerializer

from emailplatform.errors import Forbidden, TooLarge
from emailplatform.models import utcnow
from emailplatform.storage.base import PresignedUpload, StoredFileMissing

UPLOAD_PATH = "/uploads/"
PARTIAL_DIR = ".partial"  # under the root: on its filesystem, so a finished file is renamed into place


class LocalStorage:
    receives_uploads = True

    def __init__(self, root: Path, public_url: str, secret_key: str):
        self.root = root.resolve()
        self.public_url = public_url.rstrip("/")
        self.signer = URLSafeSerializer(secret_key, salt="emailplatform.upload")

    def _path(self, key: str) -> Path:
        path = os.path.normpath(os.path.join(self.root, key))  # no filesystem calls: this runs for every file
        if not path.startswith(f"{self.root}{os.sep}"):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return Path(path)

    def _partial(self):
        """A temporary file to write a file into, before it is renamed into place."""
        partial = self.root / PARTIAL_DIR
        partial.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=partial, delete=False)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._partial() as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)

    def remove_partial(self, older_than: timedelta) -> int:
        """Remove the temporary files not written to for `older_than`: of writes that never finished. How many."""
        partial = self.root / PARTIAL_DIR
        if not partial.is_dir():
            return 0
        removed, oldest = 0, time.time() - older_than.total_seconds()
        for entry in os.scandir(partial):
            try:
                if entry.stat().st_mtime < oldest:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # renamed into place or removed meanwhile
        return removed

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise StoredFileMissing(key) from None

    def head(self, key: str, size: int) -> bytes:
        with self.open(key) as stream:
            return stream.read(size)

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not key.startswith(f"{PARTIAL_DIR}/"):  # not a write still going on
                yield key

    def url_for(self, key: str) -> str:
        return f"local://files/{key}"

    def presigned_upload(self, key: str, *, max_bytes: int, ttl_seconds: int) -> PresignedUpload:
        expires_at = utcnow() + timedelta(seconds=ttl_seconds)
        token = self.signer.dumps({"key": key, "max": max_bytes, "exp": int(expires_at.timestamp())})
        return PresignedUpload(url=f"{self.public_url}{UPLOAD_PATH}{token}", expires_at=expires_at)

    def check_upload_token(self, token: str) -> tuple[str, int]:
        """The key and size cap a signed upload URL grants; a 4xx error if it is tampered or expired."""
        try:
            claims = self.signer.loads(token)
        except BadSignature:
            raise Forbidden("the upload URL is not valid: its signature does not match", field="upload_url") from None
        if claims["exp"] < utcnow().timestamp():
            raise Forbidden("the upload URL has expired; ask for a new one", field="upload_url")
        return claims["key"], claims["max"]

    async def receive_upload(self, key: str, max_bytes: int, chunks: AsyncIterator[bytes]) -> int:
        """Write an uploaded stream under `key`, refusing it whole past `max_bytes`."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with self._partial() as tmp:
            try:
                async for chunk in chunks:
                    written += len(chunk)
                    if written > max_bytes:
                        raise TooLarge(f"the file is larger than the {max_bytes} bytes allowed", field="file")
                    tmp.write(chunk)
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, path)
        return written
