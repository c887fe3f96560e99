"""Shared fixtures: a fresh PostgreSQL database and a SQLite file per test module (copies of one migrated per run),
a real SMTP server on loopback, and an API client acting for a tenant of its own (so tests never see each other's
objects)."""

import asyncio
import email
import email.policy
import itertools
import json
import os
import random
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import delete

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.config import Settings
from emailplatform.job_kinds import new_worker
from emailplatform.logs import configure_logging
from emailplatform.migrations import upgrade
from emailplatform.models import Job
from emailplatform.runtime import Runtime
from emailplatform.tenants import service as tenant_service
from tests.openapi_traffic import ApiTraffic

POSTGRES_URL = os.environ.get("EMAILPLATFORM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PUBLIC_URL = "http://testserver"
TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LW9mLXRoZS10ZXN0LXN1aXQ="  # 32 bytes, base64


def clean_env(**settings: str) -> dict:
    """The environment of a process a test starts: none of ours but the tests' master key and `settings`.

    The key lets a worker or server read what the tests' runtimes encrypted."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAILPLATFORM_")}
    return env | {"EMAILPLATFORM_MASTER_KEYS": json.dumps([TEST_MASTER_KEY])} | settings


@pytest.fixture(scope="session", autouse=True)
def plain_logs():
    configure_logging(Settings(log_level="WARNING"))


@pytest.fixture(scope="session")
def postgres_admin():
    """A connection to the real server. Unreachable PostgreSQL fails the run; it never skips."""
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for the tests and is not reachable at {POSTGRES_URL}: {exc}")
    yield admin
    admin.close()


@pytest.fixture(scope="session")
def postgres_template(postgres_admin):
    """This run's migrated database, never used itself: each test module gets a copy."""
    name = f"emailplatform_template_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(f'CREATE DATABASE "{name}"')
    upgrade(Settings(database_url=_postgres_database(name)).resolved_database_url)
    yield name
    postgres_admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_url(postgres_admin, postgres_template):
    """A database of this test module's own, so no module sees another's rows."""
    name = f"emailplatform_test_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield _postgres_database(name)
    postgres_admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _postgres_database(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="module")
def sqlite_url(sqlite_template, tmp_path_factory):
    """A copy of the migrated SQLite file for this test module alone."""
    path = tmp_path_factory.mktemp("sqlite") / "emailplatform.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param])


def make_settings(database_url: str, data_dir, **overrides) -> Settings:
    values = dict(
        database_url=database_url,
        data_dir=data_dir,
        public_url=PUBLIC_URL,
        secret_key="test-secret",
        transport="capture",
        job_lease_seconds=30,
        allow_unverified_domains=True,
        master_keys=[TEST_MASTER_KEY],  # one for every test's runtime: they share their module's database
    )
    return Settings(**(values | overrides))


@pytest.fixture
def runtime(database_url, tmp_path):
    runtime = build_runtime(make_settings(database_url, tmp_path / "data"))
    with runtime.db.session() as session:  # jobs of earlier tests are not this test's business
        session.execute(delete(Job))
    yield runtime
    runtime.close()


def run_jobs(runtime: Runtime) -> None:
    """Run every due job until the queue is idle, as a worker process would."""

    async def main():
        try:
            await new_worker(runtime).run_until_idle()
        finally:
            await runtime.aclose()

    asyncio.run(main())


@dataclass
class TenantKey:
    tenant_id: uuid.UUID
    name: str
    api_key: str


def new_tenant(runtime: Runtime) -> TenantKey:
    with runtime.db.session() as session:
        tenant = tenant_service.create_tenant(session, f"tenant-{uuid.uuid4().hex[:8]}")
        _, plain = tenant_service.create_api_key(session, tenant.id)
        return TenantKey(tenant.id, tenant.name, plain)


@pytest.fixture
def tenant(runtime) -> TenantKey:
    return new_tenant(runtime)


@pytest.fixture
def api_traffic():
    """Every answer of the clients it watches, checked against the OpenAPI spec when the test ends."""
    traffic = ApiTraffic()
    yield traffic
    mismatches = traffic.mismatches()
    assert not mismatches, "answers that do not match /openapi.json:\n" + "\n".join(mismatches)


@pytest.fixture
def client(runtime, tenant, api_traffic):
    """An API client for a tenant of this test's own (no worker runs: tests call run_jobs); its answers are
    checked against the spec."""
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = tenant.api_key
        api_traffic.watch(client)
        yield client


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(items):
    """Under xdist (scripts/test.sh runs `-n 3 --dist loadgroup`) a test file runs whole in one worker, so its
    module fixtures are built once; a module marked `xdist_group(name)` runs in the worker of that group."""
    for item in items:
        if not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


# Loopback ports for the servers the tests start: below Linux's ephemeral range (32768-60999), so no outgoing
# connection takes one between free_port() and the server's bind, and a block of their own for each xdist worker,
# so no two workers of a run get the same one. A random start in the block keeps two runs at once apart.
_PORTS_PER_WORKER = 2000
_block = 20000 + _PORTS_PER_WORKER * (int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % 6)
_start = random.Random().randrange(_PORTS_PER_WORKER)
_ports = itertools.cycle([*range(_block + _start, _block + _PORTS_PER_WORKER), *range(_block, _block + _start)])


def free_port() -> int:
    """A port no one listens on, not handed out again before the worker's other 1,999 are."""
    for _ in range(_PORTS_PER_WORKER):
        port = next(_ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or still in TIME_WAIT
            return port
    raise RuntimeError("no free port left in this worker's block")


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


@dataclass
class SmtpSink:
    """A real SMTP server on loopback that keeps what it receives and answers per recipient as told."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[ReceivedMail] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply for RCPT, e.g. "550 5.1.1 no"
    delay_seconds: float = 0.0  # how long DATA takes to answer: a slow server
    on_message: Callable[[ReceivedMail], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def by_recipient(self) -> dict[str, list[ReceivedMail]]:
        result: dict[str, list[ReceivedMail]] = {}
        with self.lock:
            for mail in self.received:
                for rcpt in mail.rcpt_tos:
                    result.setdefault(rcpt, []).append(mail)
        return result

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        mail = ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        with self.lock:
            self.received.append(mail)
        if self.on_message:
            self.on_message(mail)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink():
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()
