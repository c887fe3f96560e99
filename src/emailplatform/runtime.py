"""What one process shares: settings, the database, storage and the transport, built once."""

import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from emailplatform.config import Settings, get_settings
from emailplatform.db import Database, create_database
from emailplatform.storage import Storage, create_storage


@dataclass
class Runtime:
    settings: Settings = field(default_factory=get_settings)

    @cached_property
    def db(self) -> Database:
        return create_database(self.settings)

    @cached_property
    def secret_key(self) -> str:
        return self.settings.secret_key or _load_or_create_secret(self.settings.data_dir / "secret_key")

    @cached_property
    def storage(self) -> Storage:
        return create_storage(self.settings, self.secret_key)

    @cached_property
    def transport(self):
        from emailplatform.sending.transports import create_transport

        return create_transport(self.settings, self.storage)

    @cached_property
    def limiter(self):
        from emailplatform.ratelimits.service import Limiter

        return Limiter(self.settings)

    @cached_property
    def api_keys(self):
        from emailplatform.tenants.key_cache import ApiKeyCache

        return ApiKeyCache(self.settings.api_key_cache_seconds)

    @cached_property
    def oidc(self):
        """The issuer of the bearer tokens the API accepts; None: API keys only."""
        from emailplatform.tenants.tokens import OidcIssuer

        return OidcIssuer(self.settings) if self.settings.oidc_issuer else None

    async def aclose(self) -> None:
        """Close what belongs to the running event loop: the transport's connections and the webhook clients."""
        from emailplatform.webhooks.sender import aclose_senders

        transport = self.__dict__.pop("transport", None)
        if transport is not None:
            await transport.close()
        await aclose_senders()

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
