"""Files in an S3 bucket (or an S3-compatible server); uploads go straight to S3 through presigned PUT URLs."""

import tempfile
from collections.abc import Iterator
from datetime import timedelta
from typing import BinaryIO, cast

import boto3
from botocore.exceptions import ClientError

from emailplatform.config import Settings
from emailplatform.models import utcnow
from emailplatform.storage.base import PresignedUpload, StoredFileMissing

SPOOL_BYTES = 8 * 1024 * 1024


class S3Storage:
    receives_uploads = False

    def __init__(self, settings: Settings):
        self.bucket = settings.s3_bucket
        self.client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None, region_name=settings.s3_region)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption="AES256")

    def keys(self) -> Iterator[str]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            yield from (item["Key"] for item in page.get("Contents", []))

    def head(self, key: str, size: int) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{size - 1}")["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                raise StoredFileMissing(key) from None
            raise

    def open(self, key: str) -> BinaryIO:
        """The object, spooled to a local temporary file: readers may seek (the CSV check reads it twice)."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        try:
            self.client.download_fileobj(self.bucket, key, spool)
        except ClientError as exc:
            spool.close()
            if _missing(exc):
                raise StoredFileMissing(key) from None
            raise
        spool.seek(0)
        return cast(BinaryIO, spool)

    def size(self, key: str) -> int | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def url_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def presigned_upload(self, key: str, *, max_bytes: int, ttl_seconds: int) -> PresignedUpload:
        """A presigned PUT cannot cap the size; a file over `max_bytes` is refused when it is used."""
        url = self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )
        return PresignedUpload(url=url, expires_at=utcnow() + timedelta(seconds=ttl_seconds))

    def remove_partial(self, older_than: timedelta) -> int:
        """Nothing to remove: an S3 PUT stores the whole object or none of it."""
        return 0


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")
