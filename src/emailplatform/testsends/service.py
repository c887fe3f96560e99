"""Test sends: a template, a campaign not yet released, or a campaign not yet created, sent to a few seed addresses
before anyone else gets it. Each test is marked (a "[TEST] " subject, an X-Emailplatform-Test header) and recorded
nowhere: no message row, no event, no count, no webhook; its unsubscribe link leads to no message, so it unsubscribes
no one."""

import asyncio
import re
import uuid
from dataclasses import dataclass
from itertools import cycle

import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from emailplatform.campaigns import recipients
from emailplatform.campaigns import service as campaign_service
from emailplatform.errors import Conflict, Invalid
from emailplatform.models import File, Transaction, TransactionStatus
from emailplatform.runtime import Runtime, Storage
from emailplatform.sending.transports import OutgoingMessage, SendResult, SendStatus, create_transport
from emailplatform.storage import service as file_service
from emailplatform.suppressions import service as suppression
from emailplatform.templates import service as template_service
from emailplatform.tenants import service as tenant_service
from emailplatform.testsends.compose import Composed, Composer, Draft

log = structlog.get_logger("emailplatform.testsends")
MAX_SEEDS = 10
MAX_ROWS = 10
SUPPRESSED = ("suppressed", "not sent: the address is on the suppression list")  # a seed result's status, response
BEFORE_RELEASE = {TransactionStatus.ACCEPT, TransactionStatus.PROCESSING, TransactionStatus.SCHEDULED}


@dataclass(frozen=True)
class Sample:
    """The data one seed's message is rendered with: a row of the recipients file, or data given."""

    row_number: int | None
    data: dict[str, str]


@dataclass(frozen=True)
class SeedResult:
    to: str
    row_number: int | None
    message_id: uuid.UUID
    subject: str
    status: str
    response: str | None


def send_template_test(
    session: Session,
    runtime: Runtime,
    tenant_id: uuid.UUID,
    template_id: uuid.UUID,
    *,
    to: list[str],
    data: dict[str, str],
    version: int | None = None,
    sender: tuple[str, str | None] | None = None,
    reply_to: str | None = None,
) -> list[SeedResult]:
    """A template version sent to the seeds with the data given."""
    found = template_service.get_version(session, tenant_id, template_id, version)
    from_email, from_name = sender or default_sender(session, tenant_id)
    draft = Draft(found, from_email, from_name, reply_to)
    return send(session, runtime, tenant_id, draft, _seeds(to), [Sample(None, data)])


def send_campaign_test(
    session: Session,
    runtime: Runtime,
    tenant_id: uuid.UUID,
    transaction_id: uuid.UUID,
    *,
    to: list[str],
    rows: list[int] | None = None,
) -> list[SeedResult]:
    """A campaign not yet released (ACCEPT, PROCESSING or SCHEDULED) sent to the seeds, with its file's rows."""
    transaction = campaign_service.get(session, tenant_id, transaction_id)
    if transaction.status not in BEFORE_RELEASE or transaction.recipients_layout is None:
        raise Conflict(
            f"a campaign that is {transaction.status} has started sending or ended: test sends are for campaigns not "
            "yet released (ACCEPT, PROCESSING, SCHEDULED)",
            field="transaction_id",
        )
    seeds = _seeds(to)
    draft = campaign_draft(session, transaction)
    file = session.get_one(File, transaction.file_id)
    layout = recipients.Layout.from_dict(transaction.recipients_layout)
    samples = sample_rows(runtime.storage, file, layout, rows, count=len(seeds))
    return send(session, runtime, tenant_id, draft, seeds, samples)


def send_new_campaign_test(
    session: Session,
    runtime: Runtime,
    tenant_id: uuid.UUID,
    body,
    *,
    to: list[str],
    rows: list[int] | None = None,
) -> list[SeedResult]:
    """A campaign not created yet (template, recipients file, sender, as a campaign request has them) sent to the
    seeds with the file's rows."""
    seeds = _seeds(to)
    version = template_service.get_version(session, tenant_id, body.template_id, body.template_version)
    file = file_service.get_by_url(session, tenant_id, body.csv_file_url, field="csv_file_url")
    file_service.uploaded_size(runtime.storage, runtime.settings, file, field="csv_file_url")
    with runtime.storage.open(file.storage_key) as stream:
        layout = recipients.read_layout(stream, version.placeholders, body.columns, field="csv_file_url")
    sender = (str(body.sender.email), body.sender.name) if body.sender else default_sender(session, tenant_id)
    draft = Draft(version, sender[0], sender[1], str(body.reply_to) if body.reply_to else None)
    samples = sample_rows(runtime.storage, file, layout, rows, count=len(seeds))
    return send(session, runtime, tenant_id, draft, seeds, samples)


def campaign_draft(session: Session, transaction: Transaction) -> Draft:
    assert transaction.template_id is not None, "a campaign has a template"
    version = template_service.get_version(
        session, transaction.tenant_id, transaction.template_id, transaction.template_version
    )
    return Draft(version, transaction.from_email, transaction.from_name, transaction.reply_to)


def default_sender(session: Session, tenant_id: uuid.UUID) -> tuple[str, str | None]:
    sender = tenant_service.default_sender(session, tenant_id)
    if sender is None:
        raise Invalid("give `from`, or set the tenant's default sender (PUT /api/v1/tenant)", field="from")
    return sender


def sample_rows(
    storage: Storage, file: File, layout: recipients.Layout, rows: list[int] | None, count: int
) -> list[Sample]:
    """The data of the rows numbered `rows` (all must be good rows), or of the first `count` good rows, under the
    names a campaign's messages have it."""
    wanted = set(rows or [])
    found: dict[int, Sample] = {}
    with storage.open(file.storage_key) as stream:
        header, read = recipients.read_rows(stream, layout)
        names = recipients.data_columns(header, layout)
        for row in read:
            if (wanted and row.number not in wanted) or (not wanted and type(row) is not recipients.Row):
                continue
            if not isinstance(row, recipients.Row):
                raise Invalid(f"row {row.number} is not sent to: {row.reason}", field="rows")
            data = {name: row.values[index] for name, index in names} | {recipients.EMAIL_COLUMN: row.email}
            found[row.number] = Sample(row.number, data)
            if len(found) == (len(wanted) or count):
                break
    missing = sorted(wanted - found.keys())
    if missing:
        raise Invalid(f"the recipients file has no row {missing[0]}", field="rows")
    if not found:
        raise Invalid("the recipients file has no row to send to", field="csv_file_url")
    return [found[number] for number in rows] if rows else list(found.values())


def send(
    session: Session, runtime: Runtime, tenant_id: uuid.UUID, draft: Draft, seeds: list[str], samples: list[Sample]
) -> list[SeedResult]:
    """Each seed's test message, the first seed with the first sample and so on round, through a transport of its
    own (the runtime's belongs to the worker's event loop); a suppressed seed gets none, as in a campaign."""
    composer = Composer(session, runtime, tenant_id, draft, test=True)
    field = "data" if samples[0].row_number is None else "rows"
    pairs = list(zip(seeds, cycle(samples)))
    composed = [composer.compose(seed, sample.data, field) for seed, sample in pairs]
    blocked = suppression.suppressed(session, tenant_id, seeds)
    session.rollback()  # what was read is all a test needs: no connection is held while servers answer
    answers = asyncio.run(_deliver(runtime, tenant_id, [m for m in composed if m.to not in blocked]))
    results = []
    for (_, sample), message in zip(pairs, composed):
        status: str
        response: str | None
        if message.to in blocked:
            status, response = SUPPRESSED
        else:
            answer = answers.pop(0)
            status, response = answer.status, answer.response
        results.append(SeedResult(message.to, sample.row_number, message.message_id, message.subject, status, response))
        log.info(
            "test send",
            tenant_id=str(tenant_id),
            to=message.to,
            message_id=str(message.message_id),
            status=status,
        )
    return results


async def _deliver(runtime: Runtime, tenant_id: uuid.UUID, messages: list[Composed]) -> list[SendResult]:
    if not messages:
        return []
    transport = create_transport(runtime.settings, runtime.storage)
    try:
        return [
            await transport.send(OutgoingMessage(tenant_id, m.message_id, m.envelope_from, m.to, m.raw))
            for m in messages
        ]
    finally:
        await transport.close()


def accepted(results: list[SeedResult]) -> int:
    return sum(result.status == SendStatus.SENT for result in results)


def parse_seeds(text: str) -> list[str]:
    """Seed addresses as typed in a form: separated by commas, semicolons or spaces, each checked."""
    addresses = [part for part in re.split(r"[\s,;]+", text) if part]
    for address in addresses:
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            raise Invalid(f"{address!r} is not an email address: {exc}", field="test_to") from None
    return _seeds(addresses, field="test_to")


def _seeds(to: list[str], field: str = "to") -> list[str]:
    seeds = list(dict.fromkeys(address.strip() for address in to if address.strip()))
    if not seeds:
        raise Invalid("give at least one address to send the test to", field=field)
    if len(seeds) > MAX_SEEDS:
        raise Invalid(f"a test goes to at most {MAX_SEEDS} addresses, not {len(seeds)}", field=field)
    return seeds
