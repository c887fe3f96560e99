"""What one process shares: settings, the database, storage, the transport, the rate limiter and the cache of
verified API keys, each made when first used.

A container only: it knows the parts by the protocols below, and is given what makes them (`Parts`) by
emailplatform.assembly, so that every package may take a Runtime while the runtime imports none of them."""

import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.db import Database, create_database
from emailplatform.models import ApiKey


class Storage(Protocol):
    """Where files live (emailplatform.storage: local or S3)."""

    def put(self, key: str, data: bytes) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def size(self, key: str) -> int | None: ...
    def delete(self, key: str) -> None: ...
    def url_for(self, key: str) -> str: ...
    def presigned_upload(self, key: str, *, max_bytes: int, ttl_seconds: int) -> Any: ...


class Transport(Protocol):
    """How mail leaves (emailplatform.sending.transports: capture, smtp or ses)."""

    async def send(self, message: Any) -> Any: ...
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

    def storage(self, settings: Settings, secret_key: str) -> Storage: ...
    def transport(self, settings: Settings, storage: Storage) -> Transport: ...
    def limiter(self, settings: Settings) -> Limiter: ...
    def api_keys(self, settings: Settings) -> ApiKeys: ...
    async def aclose(self) -> None:
        """Close the clients the parts' packages keep for the running event loop (the webhook senders')."""


@dataclass
class Runtime:
    settings: Settings
    parts: Parts

    @cached_property
    def db(self) -> Database:
        return create_database(self.settings)

    @cached_property
    def secret_key(self) -> str:
        return self.settings.secret_key or _load_or_create_secret(self.settings.data_dir / "secret_key")

    @cached_property
    def storage(self) -> Storage:
        return self.parts.storage(self.settings, self.secret_key)

    @cached_property
    def transport(self) -> Transport:
        return self.parts.transport(self.settings, self.storage)

    @cached_property
    def limiter(self) -> Limiter:
        return self.parts.limiter(self.settings)

    @cached_property
    def api_keys(self) -> ApiKeys:
        return self.parts.api_keys(self.settings)

    async def aclose(self) -> None:
        """Close what belongs to the running event loop: the transport's connections and the webhook clients."""
        transport = self.__dict__.pop("transport", None)
        if transport is not None:
            await transport.close()
        await self.parts.aclose()

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def _load_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
