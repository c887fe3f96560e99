"""Helpers of the webhook tests: a real HTTP receiver on loopback, running jobs, campaign rows."""

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from sqlalchemy import update

from emailplatform.job_kinds import new_worker
from emailplatform.models import File, Job, JobState, Template, Transaction, utcnow
from emailplatform.runtime import Runtime
from emailplatform.webhooks import fanout, sender


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request and the most it had in hand at once; answers `status` (after `fail_next` answers
    of 500), `delay` seconds late."""

    port: int = 0
    status: int = 200
    fail_next: int = 0
    delay: float = 0.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    in_hand: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, request: Received) -> int:
        with self.lock:
            self.received.append(request)
            self.in_hand += 1
            self.most_at_once = max(self.most_at_once, self.in_hand)
            if self.fail_next:
                self.fail_next -= 1
                return 500
            return self.status

    def answered(self, request: Received) -> None:
        with self.lock:
            self.in_hand -= 1
            request.answered_at = time.monotonic()


def handler_for(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = Received(self.path, dict(self.headers.items()), body)
            status = receiver.answer(request)
            time.sleep(receiver.delay)
            self.send_response(status)
            for name, value in receiver.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            receiver.answered(request)

        def log_message(self, *args):
            pass

    return Handler


def run_deliveries(runtime: Runtime, *, due_now: bool = False) -> None:
    """Run every due job until idle, as a worker would; `due_now` first makes scheduled retries due."""
    if due_now:
        with runtime.db.session() as session:
            session.execute(update(Job).where(Job.state == JobState.QUEUED).values(run_at=utcnow()))

    async def main():
        try:
            await new_worker(runtime).run_until_idle()
        finally:
            await sender.aclose_senders()
            await runtime.aclose()

    asyncio.run(main())


def create_transaction(runtime: Runtime, tenant_id: uuid.UUID, callback_url: str | None) -> uuid.UUID:
    """A campaign row as the campaigns domain would leave it (its own API is not used here)."""
    with runtime.db.session() as session:
        template = Template(tenant_id=tenant_id, name="welcome", latest_version=1)
        key = f"{tenant_id}/{uuid.uuid4().hex}.csv"
        file = File(tenant_id=tenant_id, kind="recipients", filename="r.csv", storage_key=key, url=f"local://{key}")
        session.add_all([template, file])
        session.flush()
        transaction = Transaction(
            tenant_id=tenant_id,
            template_id=template.id,
            template_version=1,
            file_id=file.id,
            from_email="news@example.com",
            callback_url=callback_url,
            batch_size=500,
        )
        session.add(transaction)
        session.flush()
        return transaction.id


def change_status(runtime: Runtime, transaction_id: uuid.UUID, status: str, summary: dict) -> None:
    with runtime.db.session() as session:
        transaction = session.get(Transaction, transaction_id)
        transaction.status = status
        fanout.transaction_status_changed(session, transaction, summary)
