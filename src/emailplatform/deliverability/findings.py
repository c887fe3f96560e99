"""What a deliverability check found: one finding per thing looked at, with how bad it is and what to do."""

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    PASS = "pass"  # fine
    INFO = "info"  # worth knowing; no harm to delivery
    WARNING = "warning"  # may send the message to spam at some receivers
    ERROR = "error"  # likely to send it to spam, or to break it, at most receivers
    SKIPPED = "skipped"  # could not be checked: the message says why


@dataclass(frozen=True)
class Finding:
    check: str  # spamassassin, dkim, spf, dmarc, list_unsubscribe, links, https_links, images, size, plain_text
    severity: Severity
    message: str  # what was found, in plain words
    fix: str | None = None  # what to do about it; None when nothing needs doing
