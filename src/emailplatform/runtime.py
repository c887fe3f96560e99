"""What one process shares: settings, the database, the master keys, storage, the transport, the rate limiter, the
sending throttles, the cache of verified API keys and the bearer tokens' issuer, each made when first used.

A container only: it knows the parts by the protocols below, and is given what makes them (`Parts`) by
emailplatform.assembly, so that every package may take a Runtime while the runtime imports none of them."""

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.crypto.envelope import Keyring, KeyWrapper
from emailplatform.crypto.kms import KmsKeys
from emailplatform.crypto.master_keys import MasterKeys, new_key_text
from emailplatform.db import Database, create_database
from emailplatform.models import ApiKey
from emailplatform.models.encrypted import use_keys


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    expires_at: datetime
    method: str = "PUT"


class Storage(Protocol):
    """Where files live (emailplatform.storage: local or S3, maybe encrypted)."""

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


class Transport(Protocol):
    """How mail leaves (emailplatform.sending.transports: capture, smtp or ses)."""

    async def send(self, message: Any, handover: Any = ...) -> Any: ...
    async def close(self) -> None: ...


class Limiter(Protocol):
    """Counts requests against rate limits (emailplatform.ratelimits.service), in memory or in Redis."""

    remote: bool

    def hit(self, *rules: Any) -> Any: ...


class ApiKeys(Protocol):
    """The API keys verified in the last few seconds (emailplatform.tenants.key_cache)."""

    def get(self, key_hash: str) -> ApiKey | None: ...
    def put(self, key: ApiKey) -> None: ...
    def forget_after_commit(self, session: Session, key: ApiKey) -> None: ...


class Parts(Protocol):
    """What makes a runtime's parts (emailplatform.assembly.PlatformParts)."""

    def storage(self, settings: Settings, secret_key: str, keys: KeyWrapper | None) -> Storage: ...
    def transport(self, settings: Settings, storage: Storage) -> Transport: ...
    def limiter(self, settings: Settings) -> Limiter: ...
    def api_keys(self, settings: Settings) -> ApiKeys: ...
    def throttles(self, settings: Settings, db: Database) -> Any: ...
    def oidc(self, settings: Settings) -> Any: ...
    async def aclose(self) -> None:
        """Close the clients the parts' packages keep for the running event loop (the webhook senders')."""


@dataclass
class Runtime:
    settings: Settings
    parts: Parts

    @cached_property
    def db(self) -> Database:
        db = create_database(self.settings)
        use_keys(db.engines, self.master_keys)
        return db

    @cached_property
    def secret_key(self) -> str:
        return self.settings.secret_key or _kept_in_file(self.settings.data_dir / "secret_key", secrets.token_urlsafe)

    @cached_property
    def master_keys(self) -> Keyring | None:
        """What encrypts stored files and secrets (the master keys, or a KMS key); None when encryption at rest is
        turned off."""
        if not self.settings.encrypt_at_rest:
            return None
        if self.settings.kms_key_id:  # the master keys, if any, still unwrap what they wrapped before
            return KmsKeys.from_settings(self.settings, self._own_master_keys(make=False))
        return self._own_master_keys(make=True)

    def _own_master_keys(self, make: bool) -> MasterKeys | None:
        """The settings' master keys; else the embedded default's, kept in the data dir (made if `make`)."""
        if self.settings.master_keys:
            return MasterKeys.from_text(self.settings.master_keys)
        path = self.settings.data_dir / "master_key"
        if make or path.exists():
            return MasterKeys.from_text([_kept_in_file(path, new_key_text)])
        return None

    @cached_property
    def storage(self) -> Storage:
        return self.parts.storage(self.settings, self.secret_key, self.master_keys)

    @cached_property
    def transport(self) -> Transport:
        return self.parts.transport(self.settings, self.storage)

    @cached_property
    def limiter(self) -> Limiter:
        return self.parts.limiter(self.settings)

    @cached_property
    def api_keys(self) -> ApiKeys:
        return self.parts.api_keys(self.settings)

    @cached_property
    def throttles(self):
        """The sending throttles (emailplatform.sending.throttles), one a process."""
        return self.parts.throttles(self.settings, self.db)

    @cached_property
    def oidc(self):
        """The issuer of the bearer tokens the API accepts (emailplatform.tenants.tokens); None: API keys only."""
        return self.parts.oidc(self.settings) if self.settings.oidc_issuer else None

    async def aclose(self) -> None:
        """Close what belongs to the running event loop: the transport's connections and the webhook clients."""
        transport = self.__dict__.pop("transport", None)
        if transport is not None:
            await transport.close()
        await self.parts.aclose()

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def _kept_in_file(path: Path, make: Callable[[], str]) -> str:
    """A key of the embedded deployment, made on first start beside its database (mode 0600)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = make()
    path.touch(mode=0o600)
    path.write_text(key)
    return key
