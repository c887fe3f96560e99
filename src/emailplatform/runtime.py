"""What one process shares: settings, the database, storage and the transport, built once."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from emailplatform.config import Settings, get_settings
from emailplatform.db import Database, create_database
from emailplatform.crypto.master_keys import MasterKeys, new_key_text
from emailplatform.models.encrypted import use_keys
from emailplatform.storage import Storage, create_storage


@dataclass
class Runtime:
    settings: Settings = field(default_factory=get_settings)

    @cached_property
    def db(self) -> Database:
        db = create_database(self.settings)
        use_keys(db.engines, self.master_keys)
        return db

    @cached_property
    def secret_key(self) -> str:
        return self.settings.secret_key or _kept_in_file(self.settings.data_dir / "secret_key", secrets.token_urlsafe)

    @cached_property
    def master_keys(self) -> MasterKeys | None:
        """What encrypts stored files and secrets; None when encryption at rest is turned off."""
        if not self.settings.encrypt_at_rest:
            return None
        texts = self.settings.master_keys or [_kept_in_file(self.settings.data_dir / "master_key", new_key_text)]
        return MasterKeys.from_text(texts)

    @cached_property
    def storage(self) -> Storage:
        return create_storage(self.settings, self.secret_key, self.master_keys)

    @cached_property
    def transport(self):
        from emailplatform.sending.transports import create_transport

        return create_transport(self.settings, self.storage)

    @cached_property
    def limiter(self):
        from emailplatform.ratelimits.service import Limiter

        return Limiter(self.settings)

    @cached_property
    def throttles(self):
        from emailplatform.sending.throttles import Throttles

        return Throttles(self.settings, self.db)

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


def _kept_in_file(path: Path, make: Callable[[], str]) -> str:
    """A key of the embedded deployment, made on first start beside its database (mode 0600)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = make()
    path.touch(mode=0o600)
    path.write_text(key)
    return key
