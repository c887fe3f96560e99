"""Page render times of the web UI with 100 campaigns and 1,000,000 messages in the database.

    .venv/bin/python -m bench.ui_bench [--campaigns 100] [--messages-per-campaign 10000] [--domains 50]
                                       [--database-url URL]

The last campaign's messages are kept in the outbox, as the capture transport keeps them. Prints JSON: each
page's median and worst time over a few requests (after one warm-up), beside a floor measured in the same run:
the same server answering /healthz, which does no work. Target: no page over 1 s.
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert
from uuid_utils import uuid7

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.campaigns import counts
from emailplatform.config import Settings
from emailplatform.migrations import upgrade
from emailplatform.models import Batch, Event, File, Message, Template, TemplateVersion, Transaction, utcnow
from emailplatform.runtime import Runtime
from emailplatform.sending.mime import MessageSkeleton, make_message_id
from emailplatform.sending.transports.capture import outbox_key
from emailplatform.tenants import service as tenant_service
from emailplatform.users import service as user_service

STATUSES = ["SENT", "DELIVERED", "OPENED", "CLICKED", "BOUNCED"]
PASSWORD = "bench password 1"
REPEATS = 5


def fill(runtime: Runtime, campaigns: int, per_campaign: int, domains: int) -> tuple[str, uuid.UUID]:
    now = utcnow()
    with runtime.db.session() as session:
        tenant = tenant_service.create_tenant(session, "bench")
        user_service.create_user(session, tenant.id, "owner@bench.example.com", PASSWORD, "owner")
        template = Template(tenant_id=tenant.id, name="bench", latest_version=1)
        session.add(template)
        session.flush()
        session.add(
            TemplateVersion(
                template_id=template.id,
                tenant_id=tenant.id,
                version=1,
                subject="Hi",
                html="<p>Hi {{ name }}</p>",
                text="Hi {{ name }}",
                placeholders=["name"],
            )
        )
        file = File(
            tenant_id=tenant.id, kind="recipients", filename="bench.csv", storage_key="bench", url="local://bench"
        )
        session.add(file)
        session.flush()
        tenant_id, template_id, file_id = tenant.id, template.id, file.id
    for number in range(campaigns):
        with runtime.db.session() as session:
            transaction = Transaction(
                tenant_id=tenant_id,
                template_id=template_id,
                template_version=1,
                file_id=file_id,
                name=f"Campaign {number}",
                from_email="news@example.com",
                batch_size=500,
                status="SENT",
                total_messages=per_campaign,
                created_at=now - timedelta(hours=number * 5),
            )
            session.add(transaction)
            session.flush()
            batch = Batch(
                tenant_id=tenant_id,
                transaction_id=transaction.id,
                seq=0,
                status="SENT",
                message_count=per_campaign,
                storage_key="bench",
            )
            session.add(batch)
            session.flush()
            messages = [
                {
                    "id": uuid.UUID(str(uuid7())),
                    "tenant_id": tenant_id,
                    "transaction_id": transaction.id,
                    "batch_id": batch.id,
                    "position": i,
                    "row_number": i + 2,
                    "email": f"user{i}@example{i % domains}.com",
                    "status": STATUSES[i % 5],
                    "attempts": 1,
                    "created_at": now,
                    "updated_at": now,
                    "sent_at": now,
                }
                for i in range(per_campaign)
            ]
            session.execute(insert(Message), messages)
            counts.record_moves(session, ((transaction.id, m["email"], None, m["status"]) for m in messages))
            session.execute(
                insert(Event),
                [
                    {
                        "tenant_id": tenant_id,
                        "transaction_id": transaction.id,
                        "message_id": m["id"],
                        "type": "clicked",
                        "occurred_at": now,
                        "details": {"url": f"https://example.com/{i % 7}"},
                    }
                    for i, m in enumerate(messages[:200])
                ],
            )
    rows = "".join(f"{m['email']},User {m['position']}\r\n" for m in messages)
    runtime.storage.put("bench", f"email,name\r\n{rows}".encode())  # every batch's chunk
    capture(runtime, tenant_id, messages)
    return "bench", transaction.id, messages[-1]["id"]


def capture(runtime: Runtime, tenant_id: uuid.UUID, messages: list[dict]) -> None:
    """Keep the last campaign's messages in the outbox, as the capture transport does."""
    skeleton = MessageSkeleton("news@example.com", "News", None)
    for m in messages:
        raw = skeleton.build(
            to=m["email"],
            subject="Hi",
            text="Hi there\n",
            html="<p>Hi there</p>",
            message_id=make_message_id(m["id"], "news@example.com"),
        )
        runtime.storage.put(outbox_key(tenant_id, m["id"]), raw)


def timed(client: TestClient, path: str) -> dict:
    client.get(path)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return {"median_ms": round(statistics.median(times), 1), "worst_ms": round(max(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--messages-per-campaign", type=int, default=10_000)
    parser.add_argument("--domains", type=int, default=50, help="recipient domains per campaign")
    parser.add_argument("--database-url", default="", help="empty: SQLite in a temporary directory")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ep-ui-bench-")
    settings = Settings(
        database_url=args.database_url, data_dir=f"{workdir}/data", secret_key="bench", log_level="WARNING"
    )
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings)
    tenant, last, last_message = fill(runtime, args.campaigns, args.messages_per_campaign, args.domains)
    with TestClient(create_app(runtime)) as client:
        page = client.get("/ui/sign-in").text
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post(
            "/ui/sign-in",
            data={"csrf_token": csrf, "tenant": tenant, "email": "owner@bench.example.com", "password": PASSWORD},
        )
        pages = {
            "dashboard": "/ui/",
            "campaigns": "/ui/campaigns",
            "campaign": f"/ui/campaigns/{last}",
            "progress": f"/ui/campaigns/{last}/progress",
            "message search": f"/ui/campaigns/{last}/messages?q=user9999",
            "messages": f"/ui/campaigns/{last}/messages",
            "message": f"/ui/messages/{last_message}",
            "outbox": "/ui/outbox",
            "analytics 90 days": "/ui/analytics?days=90",
            "campaigns CSV": "/ui/analytics/campaigns.csv?days=90",
        }
        report = {
            "benchmark": "ui",
            "database": runtime.db.dialect,
            "campaigns": args.campaigns,
            "messages": args.campaigns * args.messages_per_campaign,
            "recipient_domains": args.domains,
            "floor_healthz": timed(client, "/healthz"),
            "pages": {name: timed(client, path) for name, path in pages.items()},
        }
    report["slowest_page_ms"] = max(p["worst_ms"] for p in report["pages"].values())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
