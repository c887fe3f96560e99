"""Aggregations over campaigns, their messages' statuses and their events, for the dashboard, the analytics page
and exports.

Counts come from the message counts that every status change keeps (campaigns/counts.py), by campaign and by
recipient domain, for the campaigns found by the transactions' (tenant_id, created_at) index: no query here reads
the messages themselves. A campaign's messages are counted on the day it was meant to go (its send time, else its
creation). The breakdowns (bounce reasons, clicked links, recipient domains) cover the same campaigns: one, or
those of a period."""

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from emailplatform.campaigns import counts
from emailplatform.campaigns import service as campaign_service
from emailplatform.campaigns.counts import DELIVERED, SENT_OUT
from emailplatform.emails import service as email_service
from emailplatform.models import (
    UNSENT_MESSAGE_STATUSES,
    DomainMessageCount,
    Event,
    MessageCount,
    MessageStatus,
    Transaction,
    TransactionKind,
    utcnow,
)
from emailplatform.pagination import paginate

OPENED = {MessageStatus.OPENED, MessageStatus.CLICKED}
PENDING = {*UNSENT_MESSAGE_STATUSES, counts.PENDING}
OUTCOMES = ("sent", "delivered", "bounced", "complained", "opened", "clicked")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BREAKDOWN_ROWS = 20
UNKNOWN_REASON = "unknown"
BREAKDOWNS = ("bounce-reasons", "links", "domains")
DOMAIN_OUTCOMES = ("sent", "delivered", "bounced", "opened", "clicked")


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
        self.pending += count if status in PENDING else 0
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
    campaign_ids: list[uuid.UUID] = field(default_factory=list)
    measures: dict[str, "Measure"] = field(default_factory=dict)  # how each rate is known (see `measures`)


# --- what each rate measures --------------------------------------------------------------------------------

MEASURED, ESTIMATE, NOT_MEASURED = "measured", "estimate", "not measured"
RATES = ("delivered", "bounced", "complained", "opened", "clicked")


@dataclass(frozen=True)
class Measure:
    """How a rate is known: measured, an estimate, or not measured at all (its figure then means nothing)."""

    kind: str
    note: str

    @property
    def known(self) -> bool:
        return self.kind != NOT_MEASURED


OPENS = Measure(ESTIMATE, "counted when the tracking image loads: many mail apps block it, some load it unasked")
CLICKS = Measure(MEASURED, "counted through the tracked links, in campaigns sent with tracking on")
CAPTURED = {
    "delivered": Measure(MEASURED, "the capture transport keeps every message: each is delivered to the outbox"),
    "bounced": Measure(NOT_MEASURED, "captured messages reach no mail server that could refuse them"),
    "complained": Measure(NOT_MEASURED, "captured messages reach no recipient who could complain"),
}


def measures(session: Session, transport: str, campaign_ids: list[uuid.UUID]) -> dict[str, Measure]:
    """How each rate of these campaigns is known when they go out through `transport`. Over SMTP a message is
    delivered only by a delivery notice (DSN) of the relay, over SES by SES's delivery event: with none in these
    campaigns, the delivered rate is not measured."""
    if transport == "capture":
        return CAPTURED | {"opened": OPENS, "clicked": CLICKS}

    def any_event(kind: str) -> bool:
        return (
            bool(campaign_ids)
            and session.scalar(
                select(Event.id).where(Event.transaction_id.in_(campaign_ids), Event.type == kind).limit(1)
            )
            is not None
        )

    if transport == "ses":
        delivered = (
            Measure(MEASURED, "from SES's delivery events")
            if any_event("delivered")
            else Measure(
                NOT_MEASURED, "no SES delivery event has arrived: are SES's events published to the SNS endpoint?"
            )
        )
        bounced = Measure(MEASURED, "from SES's bounce events")
        complained = Measure(MEASURED, "from the complaints mailbox providers pass on to SES")
    else:
        delivered = (
            Measure(MEASURED, "from the delivery notices (DSN) the relay sends back")
            if any_event("delivered")
            else Measure(NOT_MEASURED, "the SMTP relay sends no delivery notices: an accepted message stays sent")
        )
        bounced = Measure(MEASURED, "from the relay's refusals and the bounces that come back to the inbound listener")
        complained = (
            Measure(MEASURED, "from the feedback reports that reach the inbound listener")
            if any_event("complained")
            else Measure(NOT_MEASURED, "no feedback report (complaint) has reached the inbound listener")
        )
    return {"delivered": delivered, "bounced": bounced, "complained": complained, "opened": OPENS, "clicked": CLICKS}


def counts_by_campaign(session: Session, transaction_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Counts]:
    ids = list(transaction_ids)
    result: dict[uuid.UUID, Counts] = {tid: Counts() for tid in ids}
    if not ids:
        return result
    rows = session.execute(
        select(MessageCount.transaction_id, MessageCount.status, func.sum(MessageCount.count))
        .where(MessageCount.transaction_id.in_(ids))
        .group_by(MessageCount.transaction_id, MessageCount.status)
    )
    for transaction_id, status, count in rows:
        result[transaction_id].add(status, count)
    return result


def recent_campaigns(session: Session, tenant_id: uuid.UUID, limit: int = 10) -> list[tuple[Transaction, Counts]]:
    stmt = (
        select(Transaction)
        .where(Transaction.tenant_id == tenant_id, Transaction.kind == TransactionKind.CAMPAIGN)
        .order_by(Transaction.created_at.desc(), Transaction.id.desc())
        .limit(limit)
    )
    campaigns = list(session.scalars(stmt))
    counts = counts_by_campaign(session, (c.id for c in campaigns))
    return [(c, counts[c.id]) for c in campaigns]


def overview(
    session: Session,
    tenant_id: uuid.UUID,
    days: int,
    now: datetime | None = None,
    transport: str | None = None,
    tag: str | None = None,
) -> Overview:
    """Counts of the campaigns and transactional emails (only the emails tagged `tag`) of the last `days` days, in
    total and per day (UTC), oldest day first; with the transport they went out through, how each rate is known."""
    now = now or utcnow()
    first_day = (now - timedelta(days=days - 1)).date()
    in_window = campaigns_in_period(session, tenant_id, days, now, tag)
    counts = counts_by_campaign(session, in_window)
    per_day: dict[date, Counts] = defaultdict(Counts)
    totals = Counts()
    for campaign_id, day in in_window.items():
        per_day[day].merge(counts[campaign_id])
        totals.merge(counts[campaign_id])
    series = [(first_day + timedelta(days=i), per_day[first_day + timedelta(days=i)]) for i in range(days)]
    ids = list(in_window)
    known = measures(session, transport, ids) if transport else {}
    return Overview(days=days, totals=totals, per_day=series, campaigns=len(ids), campaign_ids=ids, measures=known)


def campaigns_in_period(
    session: Session, tenant_id: uuid.UUID, days: int, now: datetime | None = None, tag: str | None = None
) -> dict[uuid.UUID, date]:
    """The campaigns and emails (those tagged `tag`) meant to go (send time, else creation) in the last `days` days
    (UTC), with that day."""
    now = now or utcnow()
    since = datetime.combine((now - timedelta(days=days - 1)).date(), datetime.min.time(), tzinfo=now.tzinfo)
    stmt = select(Transaction.id, Transaction.send_at, Transaction.created_at).where(
        Transaction.tenant_id == tenant_id, Transaction.created_at >= since - timedelta(days=days)
    )
    campaigns = session.execute(stmt.where(email_service.tagged(tag)) if tag else stmt).all()
    return {cid: (send_at or created).date() for cid, send_at, created in campaigns if (send_at or created) >= since}


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _created_since(tenant_id: uuid.UUID, days: int):
    """The tenant's campaigns created in the last `days` days (what the campaigns export lists)."""
    since = utcnow() - timedelta(days=days)
    return select(Transaction).where(
        Transaction.tenant_id == tenant_id,
        Transaction.kind == TransactionKind.CAMPAIGN,
        Transaction.created_at >= since,
    )


def campaigns_page(
    session: Session, tenant_id: uuid.UUID, days: int, *, cursor: str | None, limit: int
) -> tuple[list[tuple[Transaction, Counts]], str | None]:
    """A page of the campaigns export's rows, newest first: each campaign with its counts, read for the page."""
    campaigns, next_cursor = paginate(
        session,
        _created_since(tenant_id, days),
        (Transaction.created_at, Transaction.id),
        cursor=cursor,
        limit=limit,
        descending=True,
    )
    counts = counts_by_campaign(session, (c.id for c in campaigns))
    return [(c, counts[c.id]) for c in campaigns], next_cursor


def campaigns_csv(session: Session, tenant_id: uuid.UUID, days: int) -> str:
    """Every campaign of the last `days` days with its counts and rates, as CSV safe to open in a spreadsheet."""
    campaigns = list(
        session.scalars(_created_since(tenant_id, days).order_by(Transaction.created_at.desc(), Transaction.id.desc()))
    )
    counts = counts_by_campaign(session, (c.id for c in campaigns))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "campaign_id",
            "name",
            "status",
            "created_at",
            "from",
            "recipients",
            *OUTCOMES,
            "failed",
            *(f"{o}_rate" for o in OUTCOMES[1:]),
        ]
    )
    for campaign in campaigns:
        c = counts[campaign.id]
        rates = [f"{r:.4f}" if (r := c.rate(o)) is not None else "" for o in OUTCOMES[1:]]
        row = [
            campaign.id,
            campaign.name,
            campaign.status,
            campaign.created_at.isoformat(),
            campaign.from_email,
            c.total,
            *(getattr(c, o) for o in OUTCOMES),
            c.failed,
            *rates,
        ]
        writer.writerow([spreadsheet_safe(v) for v in row])
    return out.getvalue()


def overview_csv(ov: Overview) -> str:
    """The period's counts and rates day by day (UTC), as CSV."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "messages", *OUTCOMES, "failed", *(f"{o}_rate" for o in OUTCOMES[1:])])
    for day, c in ov.per_day:
        rates = [f"{r:.4f}" if (r := c.rate(o)) is not None else "" for o in OUTCOMES[1:]]
        writer.writerow([day.isoformat(), c.total, *(getattr(c, o) for o in OUTCOMES), c.failed, *rates])
    return out.getvalue()


# --- breakdowns --------------------------------------------------------------------------------------------


# What each count of a recipient domain's row adds up: the message statuses it counts.
_COUNTED: dict[str, Collection[str]] = {
    "pending": PENDING,
    "sent": SENT_OUT,
    "delivered": DELIVERED,
    "bounced": {MessageStatus.BOUNCED},
    "complained": {MessageStatus.COMPLAINED},
    "opened": OPENED,
    "clicked": {MessageStatus.CLICKED},
    "failed": {MessageStatus.FAILED},
}


@dataclass(frozen=True)
class Scope:
    """The campaigns a breakdown covers: one campaign, or every campaign of a period."""

    campaign_ids: list[uuid.UUID]
    days: int
    campaign: Transaction | None = None


def scope(session: Session, tenant_id: uuid.UUID, days: int, transaction_id: uuid.UUID | None = None) -> Scope:
    """One campaign of the tenant (NotFound for another's), or the tenant's campaigns of the last `days` days."""
    if transaction_id is not None:
        campaign = campaign_service.get(session, tenant_id, transaction_id)
        return Scope([campaign.id], days, campaign)
    return Scope(list(campaigns_in_period(session, tenant_id, days)), days)


def bounce_reasons(
    session: Session, where: Scope, limit: int | None = BREAKDOWN_ROWS, offset: int = 0
) -> list[tuple[str, int]]:
    """Bounces by their reason (the events' details["reason"]), most frequent first."""
    reason = func.coalesce(Event.details["reason"].as_string(), UNKNOWN_REASON)
    stmt = (
        select(reason, func.count())
        .where(Event.transaction_id.in_(where.campaign_ids), Event.type == "bounced")
        .group_by(reason)
        .order_by(func.count().desc(), reason)
        .limit(limit)
        .offset(offset)
    )
    return [(name, count) for name, count in session.execute(stmt)] if where.campaign_ids else []


def top_links(
    session: Session, where: Scope, limit: int | None = BREAKDOWN_ROWS, offset: int = 0
) -> list[tuple[str, int, int]]:
    """Clicked links (the events' details["url"]): clicks and the messages that clicked, most clicked first."""
    url = Event.details["url"].as_string()
    clicks, messages = func.count(), func.count(Event.message_id.distinct())
    stmt = (
        select(url, clicks, messages)
        .where(Event.transaction_id.in_(where.campaign_ids), Event.type == "clicked", url.is_not(None))
        .group_by(url)
        .order_by(clicks.desc(), url)
        .limit(limit)
        .offset(offset)
    )
    return [(link, c, m) for link, c, m in session.execute(stmt)] if where.campaign_ids else []


def by_recipient_domain(
    session: Session, where: Scope, limit: int | None = BREAKDOWN_ROWS, offset: int = 0
) -> list[tuple[str, Counts]]:
    """Messages by the domain of their address (the part after @), with their counts; the biggest first."""
    if not where.campaign_ids:
        return []
    domain, status, count = DomainMessageCount.domain, DomainMessageCount.status, DomainMessageCount.count
    total = func.sum(count)
    columns = {name: func.sum(case((status.in_(statuses), count), else_=0)) for name, statuses in _COUNTED.items()}
    stmt = (
        select(domain, total, *columns.values())
        .where(DomainMessageCount.transaction_id.in_(where.campaign_ids))
        .group_by(domain)
        .having(total > 0)
        .order_by(total.desc(), domain)
        .limit(limit)
        .offset(offset)
    )
    result = []
    for name, messages, *sums in session.execute(stmt):
        result.append((name, Counts(total=messages, **dict(zip(columns, (int(n or 0) for n in sums))))))
    return result


def breakdown_csv(session: Session, where: Scope, kind: str) -> str:
    """One breakdown ("bounce-reasons", "links" or "domains"), every row of it, as CSV safe in a spreadsheet."""
    if kind == "bounce-reasons":
        rows: Sequence[Sequence[object]]
        header, rows = ["reason", "bounces"], bounce_reasons(session, where, limit=None)
    elif kind == "links":
        header, rows = ["url", "clicks", "messages_clicked"], top_links(session, where, limit=None)
    elif kind == "domains":
        header = ["domain", "messages", *DOMAIN_OUTCOMES]
        rows = [
            [name, c.total, *(getattr(c, o) for o in DOMAIN_OUTCOMES)]
            for name, c in by_recipient_domain(session, where, limit=None)
        ]
    else:
        raise ValueError(f"unknown breakdown {kind!r}")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return out.getvalue()
