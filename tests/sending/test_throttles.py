"""The sending throttles, counted in the database (both kinds) or in the real Redis: a limit lets its number of
messages through a window and makes the next wait; a refused message takes nothing from the other limits;
connections to a provider are held while a message is in flight."""

import asyncio
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import pytest
import redis

from emailplatform.assembly import build_runtime
from emailplatform.config import DomainThrottle
from emailplatform.sending.throttles import PROVIDERS, Throttles, Waiting
from emailplatform.tenants import service as tenant_service
from tests.conftest import make_settings, new_tenant
from tests.test_cli import cli_env, run_cli

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required for the throttle tests and is not reachable at {REDIS_URL}: {exc}")
    prefix = f"eptest-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["database", "redis"])
def make_throttles(request, runtime, tmp_path):
    """make(**settings): Throttles counting in the database, or in Redis, with these settings."""
    counted_in = {}
    if request.param == "redis":
        counted_in = {"redis_url": REDIS_URL, "redis_key_prefix": request.getfixturevalue("redis_prefix")}

    def make(**overrides) -> Throttles:
        settings = make_settings(runtime.settings.database_url, tmp_path, **(counted_in | overrides))
        return Throttles(settings, runtime.db)

    return make


def a_domain() -> str:
    """A domain of the test's own: counters in a shared database or Redis never meet another test's."""
    return f"{uuid.uuid4().hex[:10]}.example"


def at_start_of_a_second():
    time.sleep(1.02 - time.time() % 1)


def test_a_tenant_limit_lets_that_many_through_a_second_and_the_next_waits_for_the_next_second(make_throttles, runtime):
    throttles = make_throttles(throttle_tenant_per_second=3, throttle_max_wait_seconds=0)
    tenant = new_tenant(runtime).tenant_id

    async def main():
        other = new_tenant(runtime).tenant_id
        at_start_of_a_second()
        second = int(time.time())
        answers = [await throttles.acquire(tenant, "example.com") for _ in range(4)]
        return second, answers, await throttles.acquire(other, "example.com")

    second, answers, other_tenant = asyncio.run(main())
    assert answers[:3] == [None, None, None]
    waiting = answers[3]
    assert isinstance(waiting, Waiting) and "3 messages a second" in waiting.reason
    assert waiting.until == datetime.fromtimestamp(second + 1, UTC)
    assert other_tenant is None, "another tenant counts on its own"


def test_a_wait_shorter_than_the_longest_is_waited_in_place(make_throttles, runtime):
    throttles = make_throttles(throttle_tenant_per_second=2, throttle_max_wait_seconds=2)
    tenant = new_tenant(runtime).tenant_id

    async def main():
        at_start_of_a_second()
        started = time.time()
        answers = [await throttles.acquire(tenant, "example.com") for _ in range(5)]
        return answers, time.time() - started

    answers, took = asyncio.run(main())
    assert answers == [None] * 5
    assert 1.9 < took < 3.5, "five at two a second take the rest of this second and two more"


def test_a_day_quota_used_up_sends_the_message_back_until_midnight_and_a_tenant_setting_replaces_the_default(
    make_throttles, runtime
):
    tenant = new_tenant(runtime)
    with runtime.db.session() as session:
        tenant_service.set_throttles(session, tenant.name, per_second=None, per_day=2)
    throttles = make_throttles(throttle_tenant_per_day=1000, throttle_tenant_per_second=100)

    async def main():
        return [await throttles.acquire(tenant.tenant_id, "example.com") for _ in range(3)]

    answers = asyncio.run(main())
    assert answers[:2] == [None, None]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert answers[2] == Waiting(tomorrow, "throttled: the tenant's 2 messages a day")


def test_a_message_refused_by_one_limit_takes_nothing_from_the_others(make_throttles, runtime):
    slow, other = a_domain(), a_domain()
    throttles = make_throttles(
        throttle_tenant_per_day=3, throttle_domains={slow: DomainThrottle(per_minute=1)}, throttle_max_wait_seconds=0
    )
    tenant = new_tenant(runtime).tenant_id

    async def main():
        return [await throttles.acquire(tenant, domain) for domain in (slow, slow, slow, other, other, other)]

    answers = asyncio.run(main())
    assert answers[0] is None
    assert all(f"1 messages a minute to {slow}" in a.reason for a in answers[1:3])
    assert answers[3:5] == [None, None], "the refused messages used none of the day's three"
    assert "3 messages a day" in answers[5].reason


def test_connections_to_a_provider_are_held_while_messages_are_in_flight(make_throttles, runtime):
    domain = a_domain()
    throttles = make_throttles(throttle_domains={domain: DomainThrottle(connections=2)}, throttle_max_wait_seconds=0.5)
    tenant = new_tenant(runtime).tenant_id

    async def main():
        async with AsyncExitStack() as stack:
            held = [await stack.enter_async_context(throttles.sending(tenant, domain)) for _ in range(2)]
            async with throttles.sending(tenant, domain) as third:
                refused = third
            waiting_one = asyncio.create_task(_send_one(throttles, tenant, domain))
            await asyncio.sleep(0.1)
        return held, refused, await waiting_one

    held, refused, waited = asyncio.run(main())
    assert held == [None, None]
    assert "2 connections to" in refused.reason
    assert waited is None, "a connection let go within the wait is taken"


def test_a_connection_another_process_holds_is_free_once_that_process_stops_using_it(make_throttles, runtime):
    domain = a_domain()
    settings = {"throttle_domains": {domain: DomainThrottle(connections=1)}, "throttle_max_wait_seconds": 0}
    first, second = make_throttles(**settings), make_throttles(**settings)
    tenant = new_tenant(runtime).tenant_id

    async def main():
        assert await _send_one(first, tenant, domain) is None
        assert await _send_one(first, tenant, domain) is None, "the process's lease serves its next message"
        refused = await _send_one(second, tenant, domain)
        await asyncio.sleep(1.2)  # the first process leaves its lease unused: it gives it back
        return refused, await _send_one(second, tenant, domain)

    refused, later = asyncio.run(main())
    assert "1 connections to" in refused.reason
    assert later is None


async def _send_one(throttles, tenant, domain):
    async with throttles.sending(tenant, domain) as waiting:
        return waiting


def test_the_large_providers_have_limits_and_their_domains_count_together():
    assert PROVIDERS["gmail.com"] == PROVIDERS["googlemail.com"]
    assert PROVIDERS["hotmail.com"][0] == PROVIDERS["outlook.com"][0] == "microsoft"
    assert all(limits.connections and limits.per_minute for _, limits in PROVIDERS.values())


def test_an_operator_sets_a_tenants_throttles_from_the_command_line(tmp_path, postgres_url):
    env = cli_env(tmp_path, postgres_url, EMAILPLATFORM_THROTTLE_TENANT_PER_DAY="5000")
    name = f"acme-{uuid.uuid4().hex[:8]}"
    assert run_cli(["tenants", "create", name], env).returncode == 0
    result = run_cli(["tenants", "throttle", name, "--per-second", "20"], env)
    assert result.returncode == 0, result.stderr
    assert "sends 20 a second, as the setting says a day" in " ".join(result.stderr.split())
    runtime = build_runtime(make_settings(postgres_url, tmp_path / "data", throttle_tenant_per_day=5000))
    with runtime.db.session() as session:
        tenant_id = tenant_service.get_tenant_by_name(session, name).id
    windows = asyncio.run(Throttles(runtime.settings, runtime.db).windows_of(tenant_id, "example.com"))
    assert [(w.limit, w.seconds) for w in windows] == [(20, 1), (5000, 86_400)]
    refused = run_cli(["tenants", "throttle", "no-such-tenant", "--per-day", "1"], env)
    assert refused.returncode != 0 and "no tenant named" in refused.stderr
    runtime.close()
