"""Verified API keys, kept for a few seconds in the process, so a request checks its key without reading the
database. A key revoked through this process is dropped at once (once the revocation is committed); revoked in
another process, it goes on working here until its entry expires (`api_key_cache_seconds`)."""

import threading

from cachetools import TTLCache
from sqlalchemy import event
from sqlalchemy.orm import Session

from emailplatform.models import ApiKey

MAX_KEYS = 10_000


class ApiKeyCache:
    def __init__(self, ttl_seconds: float):
        self.enabled = ttl_seconds > 0
        self.keys: TTLCache[str, ApiKey] = TTLCache(maxsize=MAX_KEYS, ttl=ttl_seconds or 1)
        self.lock = threading.Lock()  # TTLCache is not thread-safe, and sync routes run in a thread pool

    def get(self, key_hash: str) -> ApiKey | None:
        with self.lock:
            return self.keys.get(key_hash)

    def put(self, key: ApiKey) -> None:
        if self.enabled:
            with self.lock:
                self.keys[key.key_hash] = key

    def forget(self, key_hash: str) -> None:
        with self.lock:
            self.keys.pop(key_hash, None)

    def forget_after_commit(self, session: Session, key: ApiKey) -> None:
        """Drop the key once `session` commits: dropped earlier, a request in between could read the key as it
        was before the commit and keep it."""
        key_hash = key.key_hash
        self.forget(key_hash)
        event.listen(session, "after_commit", lambda _session: self.forget(key_hash), once=True)
