"""What privacy costs where it runs often or scans much. Prints JSON.

    .venv/bin/python -m bench.privacy_bench [--databases sqlite,postgresql] [--suppressed 100000] [--messages 200000]

- The suppression check of a slice of 1,000 claimed messages (what the pipeline asks before it sends), on a list of
  `--suppressed` entries of which a tenth are erased (hashes): it looks up each address and its hash. Floor: the
  same query on the addresses alone, as the check was before erasure existed; and the check of a tenant that
  never erased anyone (a primary-key read says so, and the addresses alone are looked up).
- Erasing one person of a tenant with `--messages` messages (in campaigns of 10,000, no files, events or webhooks):
  the messages have no index by address, so the erasure reads the tenant's messages once. Floor: counting the
  tenant's messages.
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.campaign_bench import fresh_database
from emailplatform.address_hashing import address_hash
from emailplatform.assembly import build_runtime
from emailplatform.config import Settings
from emailplatform.migrations import upgrade
from emailplatform.models import Batch, File, Message, Suppression, Template, TenantErasures, Transaction, utcnow
from emailplatform.privacy import service as privacy
from emailplatform.runtime import Runtime
from emailplatform.suppressions import service as suppression
from emailplatform.tenants import service as tenant_service

SLICE = 1000
CAMPAIGN = 10_000


def timed(fn, repeat: int = 5) -> float:
    """The median of `repeat` runs, in milliseconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(runs), 2)


def fill_suppressions(runtime: Runtime, tenant_id: uuid.UUID, count: int, erased: bool) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "reason": "manual",
            "created_at": utcnow(),
            "email": address_hash(tenant_id, f"s{i}@example.com") if erased and i % 10 == 0 else f"s{i}@example.com",
        }
        for i in range(count)
    ]
    with runtime.db.session() as session:
        session.execute(insert(Suppression), rows)


def fill_messages(runtime: Runtime, tenant_id: uuid.UUID, count: int) -> None:
    with runtime.db.session() as session:
        template = Template(tenant_id=tenant_id, name="bench")
        file = File(
            tenant_id=tenant_id,
            kind="recipients",
            filename="r.csv",
            storage_key=f"k/{uuid.uuid4()}",
            url=f"local://{uuid.uuid4()}",
        )
        session.add_all([template, file])
        session.flush()
        for start in range(0, count, CAMPAIGN):
            campaign = Transaction(
                tenant_id=tenant_id,
                template_id=template.id,
                template_version=1,
                file_id=file.id,
                from_email="news@example.com",
                batch_size=CAMPAIGN,
                status="COMPLETED",
            )
            session.add(campaign)
            session.flush()
            batch = Batch(
                tenant_id=tenant_id,
                transaction_id=campaign.id,
                seq=0,
                message_count=CAMPAIGN,
                storage_key=f"missing/{uuid.uuid4()}.csv",
            )
            session.add(batch)
            session.flush()
            session.execute(
                insert(Message),
                [
                    {
                        "id": uuid.uuid4(),
                        "tenant_id": tenant_id,
                        "transaction_id": campaign.id,
                        "batch_id": batch.id,
                        "position": i,
                        "row_number": i + 2,
                        "email": f"m{start + i}@example.com",
                        "status": "SENT",
                        "attempts": 1,
                        "created_at": utcnow(),
                        "updated_at": utcnow(),
                    }
                    for i in range(min(CAMPAIGN, count - start))
                ],
            )


def run(database: str, suppressed: int, messages: int, workdir: Path) -> dict:
    url, drop = fresh_database(database, workdir)
    try:
        upgrade(Settings(database_url=url).resolved_database_url)
        runtime = build_runtime(Settings(database_url=url, data_dir=workdir / f"data-{database}", secret_key="bench"))
        with runtime.db.session() as session:
            tenant_id = tenant_service.create_tenant(session, "bench").id
            never_erased = tenant_service.create_tenant(session, "bench-never-erased").id
        fill_suppressions(runtime, tenant_id, suppressed, erased=True)
        with runtime.db.session() as session:
            session.add(TenantErasures(tenant_id=tenant_id, erasures=suppressed // 10))
        fill_suppressions(runtime, never_erased, suppressed, erased=False)
        fill_messages(runtime, tenant_id, messages)
        asked = [f"s{i * 7}@example.com" for i in range(SLICE)]
        with runtime.db.session(write=False) as session:
            found = suppression.suppressed(session, tenant_id, asked)
            check = timed(lambda: suppression.suppressed(session, tenant_id, asked))
            check_never = timed(lambda: suppression.suppressed(session, never_erased, asked))
            plain = timed(
                lambda: set(
                    session.scalars(
                        select(Suppression.email).where(
                            Suppression.tenant_id == tenant_id, Suppression.email.in_([a.lower() for a in asked])
                        )
                    )
                )
            )
            count = timed(
                lambda: session.scalar(select(func.count()).select_from(Message).where(Message.tenant_id == tenant_id))
            )
        started = time.perf_counter()
        with runtime.db.session() as session:
            erased = privacy.erase(runtime.storage, session, tenant_id, f"m{messages // 2}@example.com")
        erase_ms = round((time.perf_counter() - started) * 1000, 2)
        runtime.close()
        assert len(found) == SLICE and erased.messages == 1
        return {
            "database": database,
            "suppression_check_of_1000_ms": check,
            "floor_plain_lookup_ms": plain,
            "suppression_check_ratio": round(check / plain, 2),
            "suppression_check_never_erased_ms": check_never,
            "never_erased_ratio": round(check_never / plain, 2),
            "erase_one_of_messages": messages,
            "erase_ms": erase_ms,
            "floor_count_messages_ms": count,
            "erase_ratio": round(erase_ms / count, 2),
        }
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--suppressed", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(db, args.suppressed, args.messages, Path(tmp)) for db in args.databases.split(",")]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
