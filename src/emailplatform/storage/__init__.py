from emailplatform.storage.base import PresignedUpload, Storage, StoredFileMissing, create_storage

__all__ = ["PresignedUpload", "Storage", "StoredFileMissing", "create_storage"]
