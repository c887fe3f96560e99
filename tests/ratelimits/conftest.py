"""Runtimes with small rate limits, counted in memory or in the real Redis on loopback (each test under a key
prefix of its own, so tests never see each other's counters)."""

import uuid

import pytest
import redis

from emailplatform.assembly import build_runtime
from emailplatform.runtime import Runtime
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis. Unreachable Redis fails the run; it never skips."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required for the rate limit tests and is not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url):
    prefix = f"eptest-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def counted_in(request) -> dict:
    """The settings that put the counters in this process's memory, or in Redis."""
    if request.param == "memory":
        return {}
    return {
        "redis_url": request.getfixturevalue("redis_url"),
        "redis_key_prefix": request.getfixturevalue("redis_prefix"),
    }


@pytest.fixture
def limited_runtime(database_url, tmp_path, counted_in):
    """make(**settings): a runtime with these settings beside the counters' place."""
    made = []

    def make(**overrides) -> Runtime:
        runtime = build_runtime(make_settings(database_url, tmp_path / f"data{len(made)}", **(counted_in | overrides)))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
