"""Aggregations over campaigns and their messages' statuses, for the dashboard, the analytics page and exports.

Counts come from one grouped query over messages' (transaction_id, status) index for a set of campaigns found by
the transactions' (tenant_id, created_at) index: no scan of a tenant's whole message table. A campaign's messages
are counted on the day it was meant to go (its send time, else its creation)."""

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emailplatform.campaigns.service import DELIVERED, SENT_OUT
from emailplatform.models import UNSENT_MESSAGE_STATUSES, Message, MessageStatus, Transaction, utcnow

OPENED = {MessageStatus.OPENED, MessageStatus.CLICKED}
OUTCOMES = ("sent", "delivered", "bounced", "complained", "opened", "clicked")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Counts:
    """Cumulative counts a sender reads: an opened message was delivered, a delivered one was sent."""

    total: int = 0
    pending: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    opened: int = 0
    clicked: int = 0
    failed: int = 0

    def add(self, status: str, count: int) -> None:
        self.total += count
        self.pending += count if status in UNSENT_MESSAGE_STATUSES else 0
        self.sent += count if status in SENT_OUT else 0
        self.delivered += count if status in DELIVERED else 0
        self.bounced += count if status == MessageStatus.BOUNCED else 0
        self.complained += count if status == MessageStatus.COMPLAINED else 0
        self.opened += count if status in OPENED else 0
        self.clicked += count if status == MessageStatus.CLICKED else 0
        self.failed += count if status == MessageStatus.FAILED else 0

    def merge(self, other: "Counts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def done(self) -> int:
        return self.total - self.pending

    def rate(self, outcome: str) -> float | None:
        """The share of sent messages with this outcome (of sent for delivered/bounced/complained, of delivered
        for opened/clicked); None before anything was sent."""
        base = self.delivered if outcome in ("opened", "clicked") else self.sent
        return getattr(self, outcome) / base if base else None


@dataclass
class Overview:
    days: int
    totals: Counts
    per_day: list[tuple[date, Counts]] = field(default_factory=list)
    campaigns: int = 0


def counts_by_campaign(session: Session, transaction_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Counts]:
    ids = list(transaction_ids)
    result: dict[uuid.UUID, Counts] = {tid: Counts() for tid in ids}
    if not ids:
        return result
    rows = session.execute(
        select(Message.transaction_id, Message.status, func.count())
        .where(Message.transaction_id.in_(ids))
        .group_by(Message.transaction_id, Message.status)
    )
    for transaction_id, status, count in rows:
        result[transaction_id].add(status, count)
    return result


def recent_campaigns(session: Session, tenant_id: uuid.UUID, limit: int = 10) -> list[tuple[Transaction, Counts]]:
    stmt = (
        select(Transaction).where(Transaction.tenant_id == tenant_id)
        .order_by(Transaction.created_at.desc(), Transaction.id.desc()).limit(limit)
    )
    campaigns = list(session.scalars(stmt))
    counts = counts_by_campaign(session, (c.id for c in campaigns))
    return [(c, counts[c.id]) for c in campaigns]


def overview(session: Session, tenant_id: uuid.UUID, days: int, now: datetime | None = None) -> Overview:
    """Counts of the campaigns of the last `days` days, in total and per day (UTC), oldest day first."""
    now = now or utcnow()
    first_day = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    campaigns = session.execute(
        select(Transaction.id, Transaction.send_at, Transaction.created_at)
        .where(Transaction.tenant_id == tenant_id, Transaction.created_at >= since - timedelta(days=days))
    ).all()
    in_window = {cid: (send_at or created).date() for cid, send_at, created in campaigns if (send_at or created) >= since}
    counts = counts_by_campaign(session, in_window)
    per_day: dict[date, Counts] = defaultdict(Counts)
    totals = Counts()
    for campaign_id, day in in_window.items():
        per_day[day].merge(counts[campaign_id])
        totals.merge(counts[campaign_id])
    series = [(first_day + timedelta(days=i), per_day[first_day + timedelta(days=i)]) for i in range(days)]
    return Overview(days=days, totals=totals, per_day=series, campaigns=len(in_window))


def sends_today(session: Session, tenant_id: uuid.UUID, now: datetime | None = None) -> int:
    return overview(session, tenant_id, 1, now).totals.sent


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def campaigns_csv(session: Session, tenant_id: uuid.UUID, days: int) -> str:
    """Every campaign of the last `days` days with its counts and rates, as CSV safe to open in a spreadsheet."""
    since = utcnow() - timedelta(days=days)
    campaigns = list(session.scalars(
        select(Transaction)
        .where(Transaction.tenant_id == tenant_id, Transaction.created_at >= since)
        .order_by(Transaction.created_at.desc())
    ))
    counts = counts_by_campaign(session, (c.id for c in campaigns))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["campaign_id", "name", "status", "created_at", "from", "recipients", *OUTCOMES, "failed",
                     *(f"{o}_rate" for o in OUTCOMES[1:])])
    for campaign in campaigns:
        c = counts[campaign.id]
        rates = [f"{r:.4f}" if (r := c.rate(o)) is not None else "" for o in OUTCOMES[1:]]
        row = [campaign.id, campaign.name, campaign.status, campaign.created_at.isoformat(), campaign.from_email,
               c.total, *(getattr(c, o) for o in OUTCOMES), c.failed, *rates]
        writer.writerow([spreadsheet_safe(v) for v in row])
    return out.getvalue()
