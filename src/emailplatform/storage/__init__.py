"""Where files live: one small interface (base), two backends (local, s3), chosen by one setting."""

from emailplatform.config import Settings
from emailplatform.crypto.envelope import KeyWrapper
from emailplatform.storage.base import PresignedUpload, Storage, StoredFileMissing
from emailplatform.storage.encrypted import EncryptedStorage
from emailplatform.storage.local import LocalStorage


def create_storage(settings: Settings, secret_key: str, keys: KeyWrapper | None) -> Storage:
    """The configured backend; every file encrypted when there are master keys (`keys`)."""
    backend = _backend(settings, secret_key)
    return EncryptedStorage(backend, keys) if keys is not None else backend


def _backend(settings: Settings, secret_key: str) -> Storage:
    if settings.storage_backend == "s3":
        from emailplatform.storage.s3 import S3Storage  # boto3 is heavy to import: only where it is used

        return S3Storage(settings)
    return LocalStorage(settings.data_dir / "files", settings.public_url, secret_key)


__all__ = ["PresignedUpload", "Storage", "StoredFileMissing", "create_storage"]
