"""How a process's runtime is put together: the runtime container (emailplatform.runtime) with the platform's
own parts. The app, the CLI, tests and benchmarks build their runtime here."""

from emailplatform.config import Settings, get_settings
from emailplatform.crypto.envelope import KeyWrapper
from emailplatform.db import Database
from emailplatform.ratelimits.service import Limiter
from emailplatform.runtime import Runtime
from emailplatform.sending.throttles import Throttles
from emailplatform.sending.transports import Transport, create_transport
from emailplatform.storage import Storage, create_storage
from emailplatform.tenants.key_cache import ApiKeyCache
from emailplatform.tenants.tokens import OidcIssuer
from emailplatform.webhooks.sender import aclose_senders


class PlatformParts:
    def storage(self, settings: Settings, secret_key: str, keys: KeyWrapper | None) -> Storage:
        return create_storage(settings, secret_key, keys)

    def transport(self, settings: Settings, storage: Storage) -> Transport:
        return create_transport(settings, storage)

    def limiter(self, settings: Settings) -> Limiter:
        return Limiter(settings)

    def api_keys(self, settings: Settings) -> ApiKeyCache:
        return ApiKeyCache(settings.api_key_cache_seconds)

    def throttles(self, settings: Settings, db: Database) -> Throttles:
        return Throttles(settings, db)

    def oidc(self, settings: Settings) -> OidcIssuer:
        return OidcIssuer(settings)

    async def aclose(self) -> None:
        await aclose_senders()


def build_runtime(settings: Settings | None = None) -> Runtime:
    return Runtime(settings or get_settings(), PlatformParts())
