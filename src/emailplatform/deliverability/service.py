"""The deliverability check: a template or a campaign composed as its first recipient would get it, then looked at
as receivers look at it: SpamAssassin's score and the rules it hit (spamd), the sender's DKIM, SPF and DMARC (DNS),
List-Unsubscribe, its links (HTTP), its images beside its text, its size and its plain-text part; each finding with
what to do about it. Nothing is sent or recorded."""

import asyncio
import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from emailplatform.campaigns import recipients
from emailplatform.campaigns import service as campaign_service
from emailplatform.config import Settings
from emailplatform.deliverability import authentication, content, links, spamd
from emailplatform.deliverability.findings import Finding, Severity
from emailplatform.models import File
from emailplatform.runtime import Runtime
from emailplatform.sending import decorate
from emailplatform.storage import service as file_service
from emailplatform.templates import service as template_service
from emailplatform.testsends import service as test_sends
from emailplatform.testsends.compose import Composed, Composer, Draft

SAMPLE_RECIPIENT = "recipient@example.com"
WORST_FIRST = [Severity.ERROR, Severity.WARNING, Severity.SKIPPED, Severity.INFO, Severity.PASS]
# What to do about the SpamAssassin rules a sender's own message most often hits
RULE_FIXES = {
    "HTML_IMAGE_ONLY": "write text beside the images",
    "HTML_IMAGE_RATIO": "write more text, or use fewer or smaller images",
    "MIME_HTML_ONLY": "give the message a plain-text part",
    "SUBJ_ALL_CAPS": "write the subject in sentence case",
    "HTML_FONT_LOW_CONTRAST": "make the text readable: dark text on a light background",
    "HTML_SHORT_LINK_IMG": "put text, not only an image, inside links",
    "MISSING_": "send it through the platform, which writes every header a message needs",
}


@dataclass(frozen=True)
class SpamScore:
    available: bool
    score: float | None = None
    threshold: float | None = None
    rules: list[spamd.Rule] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Report:
    subject: str
    from_email: str
    to: str
    row_number: int | None
    size_bytes: int
    spam: SpamScore
    findings: list[Finding]

    @property
    def worst(self) -> Severity:
        return min((f.severity for f in self.findings), key=WORST_FIRST.index, default=Severity.PASS)


def check_template(
    session: Session,
    runtime: Runtime,
    tenant_id: uuid.UUID,
    template_id: uuid.UUID,
    *,
    data: dict[str, str],
    version: int | None = None,
    sender: tuple[str, str | None] | None = None,
) -> Report:
    """A template version rendered with `data` (to `data["email"]`, else a sample address)."""
    found = template_service.get_version(session, tenant_id, template_id, version)
    from_email, from_name = sender or test_sends.default_sender(session, tenant_id)
    composer = Composer(session, runtime, tenant_id, Draft(found, from_email, from_name), test=False)
    message = composer.compose(data.get("email") or SAMPLE_RECIPIENT, data)
    session.rollback()  # spamd, DNS and the links' servers may take seconds: no connection is held meanwhile
    return inspect(runtime.settings, message, None)


def check_campaign(session: Session, runtime: Runtime, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> Report:
    """A campaign as the first good row of its file gets it."""
    transaction = campaign_service.get(session, tenant_id, transaction_id)
    composer = Composer(session, runtime, tenant_id, test_sends.campaign_draft(session, transaction), test=False)
    layout = recipients.Layout.from_dict(transaction.recipients_layout)
    return _first_row_report(session, runtime, composer, session.get_one(File, transaction.file_id), layout)


def check_new_campaign(session: Session, runtime: Runtime, tenant_id: uuid.UUID, body) -> Report:
    """A campaign not created yet (template, recipients file, sender, as a campaign request has them), as the first
    good row of its file would get it."""
    version = template_service.get_version(session, tenant_id, body.template_id, body.template_version)
    file = file_service.get_by_url(session, tenant_id, body.csv_file_url, field="csv_file_url")
    file_service.uploaded_size(runtime.storage, runtime.settings, file, field="csv_file_url")
    with runtime.storage.open(file.storage_key) as stream:
        layout = recipients.read_layout(stream, version.placeholders, body.columns, field="csv_file_url")
    sender = (str(body.sender.email), body.sender.name) if body.sender else None
    sender = sender or test_sends.default_sender(session, tenant_id)
    draft = Draft(version, sender[0], sender[1], str(body.reply_to) if body.reply_to else None)
    composer = Composer(session, runtime, tenant_id, draft, test=False)
    return _first_row_report(session, runtime, composer, file, layout)


def _first_row_report(
    session: Session, runtime: Runtime, composer: Composer, file: File, layout: recipients.Layout
) -> Report:
    sample = test_sends.sample_rows(runtime.storage, file, layout, None, count=1)[0]
    message = composer.compose(sample.data[recipients.EMAIL_COLUMN], sample.data, "rows")
    session.rollback()  # spamd, DNS and the links' servers may take seconds: no connection is held meanwhile
    return inspect(runtime.settings, message, sample.row_number)


def inspect(settings: Settings, composed: Composed, row_number: int | None) -> Report:
    """The report on one composed message."""
    message = content.parse(composed.raw)
    html = content.body_of(message, "html")
    facts = content.scan_html(html)
    sender = message["From"].addresses[0]
    own = decorate.base_url(settings)
    urls = [
        url for url in facts.links + facts.images if url.startswith(("http://", "https://")) and not url.startswith(own)
    ]
    urls = list(dict.fromkeys(urls))
    spam, dns_findings, link_results = asyncio.run(_ask_servers(settings, composed, sender.domain, urls))
    findings = [
        _spam_finding(spam, settings),
        *dns_findings,
        content.list_unsubscribe(message),
        _links_finding(link_results, len(urls)),
        content.http_links(facts.links),
        content.images(facts),
        content.size(composed.raw, html),
        content.plain_text(message, facts),
    ]
    findings = sorted((f for f in findings if f is not None), key=lambda f: WORST_FIRST.index(f.severity))
    return Report(composed.subject, sender.addr_spec, composed.to, row_number, len(composed.raw), spam, findings)


async def _ask_servers(settings: Settings, composed: Composed, from_domain: str, urls: list[str]):
    """spamd, DNS and the links' servers, asked at the same time."""
    return_path_domain = composed.envelope_from.rpartition("@")[2]
    return await asyncio.gather(
        _spam_score(settings, composed.raw),
        asyncio.to_thread(authentication.check, composed.raw, from_domain, return_path_domain, settings),
        links.check_links(urls, settings),
    )


async def _spam_score(settings: Settings, raw: bytes) -> SpamScore:
    if not settings.spamd_address:
        return SpamScore(False, error="no spamd is set (EMAILPLATFORM_SPAMD_ADDRESS is empty)")
    try:
        verdict = await spamd.report(settings.spamd_address, raw, settings.spamd_timeout_seconds)
    except spamd.SpamdUnavailable as exc:
        return SpamScore(False, error=str(exc))
    return SpamScore(True, verdict.score, verdict.threshold, verdict.rules)


def _spam_finding(spam: SpamScore, settings: Settings) -> Finding:
    if not spam.available or spam.score is None or spam.threshold is None:
        return Finding(
            "spamassassin",
            Severity.SKIPPED,
            f"SpamAssassin is not available, so there is no spam score: {spam.error}",
            "install Debian's spamd package and start it (apt-get install spamd; systemctl "
            "enable --now spamd), or set EMAILPLATFORM_SPAMD_ADDRESS to a running spamd",
        )
    told = f"SpamAssassin scores it {spam.score:g} (spam from {spam.threshold:g})"
    hits = [rule for rule in spam.rules if rule.score > 0]
    if spam.score < spam.threshold / 2:
        return Finding("spamassassin", Severity.PASS, told)
    fixes = [f"{rule.name} ({rule.description}): {_rule_fix(rule)}" for rule in hits[:3]]
    severity = Severity.ERROR if spam.score >= spam.threshold else Severity.WARNING
    return Finding(
        "spamassassin",
        severity,
        told + ("" if severity == Severity.ERROR else ": close to spam"),
        "fix what these rules saw: " + "; ".join(fixes) if fixes else None,
    )


def _rule_fix(rule: spamd.Rule) -> str:
    return next((fix for prefix, fix in RULE_FIXES.items() if rule.name.startswith(prefix)), "see its description")


def _links_finding(results: list[links.LinkResult], total: int) -> Finding:
    broken = [result for result in results if result.problem]
    unchecked = ""
    if total > len(results):
        unchecked = f"; the {total - len(results)} after the first {len(results)} were not checked"
    if broken:
        listed = "; ".join(f"{result.url}: {result.problem}" for result in broken[:5])
        told = f"{len(broken)} of {len(results)} links do not work: {listed}{unchecked}"
        return Finding(
            "links",
            Severity.ERROR,
            told,
            "correct or remove them: broken links make filters and readers distrust the message",
        )
    if not results:
        return Finding("links", Severity.PASS, "no links to check besides the unsubscribe link")
    return Finding("links", Severity.INFO if unchecked else Severity.PASS, f"all {len(results)} links work{unchecked}")
