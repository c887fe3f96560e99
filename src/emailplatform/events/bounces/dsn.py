"""RFC 3464 delivery status notifications (and RFC 6533's global ones): one field block per recipient."""

import re
from email.message import Message

from emailplatform.events.bounces.classify import classify, clean, code_in, status_in
from emailplatform.events.bounces.report import BouncedRecipient
from emailplatform.events.bounces.text import payload_bytes, sub_messages

STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
# A status block pasted into a text part, as some servers send it.
INLINE_BLOCK = re.compile(r"^(Final|Original)-Recipient:.*?(?=^\s*$|\Z)", re.IGNORECASE | re.MULTILINE | re.DOTALL)


def status_blocks(msg: Message) -> list[dict[str, str]] | None:
    """The per-recipient field blocks of the delivery-status part; None when there is none."""
    for part in msg.walk():
        if part.get_content_type() in STATUS_TYPES:
            return [b for b in field_blocks(_part_text(part)) if "final-recipient" in b or "original-recipient" in b]
    return None


def inline_blocks(text: str) -> list[dict[str, str]]:
    """Status blocks written into the human text (a broken report's text/plain part)."""
    if not re.search(r"^Action:\s*\w+", text, re.IGNORECASE | re.MULTILINE):
        return []
    return [b for b in field_blocks(text) if ("final-recipient" in b or "original-recipient" in b) and "action" in b]


def _part_text(part: Message) -> str:
    """The stdlib splits well-formed parts into sub-messages; broken ones stay a string."""
    if isinstance(part.get_payload(), list):
        return "\n\n".join("\n".join(f"{k}: {v}" for k, v in sub.items()) for sub in sub_messages(part))
    return payload_bytes(part).decode("utf-8", "replace")


def field_blocks(text: str) -> list[dict[str, str]]:
    """Blocks of `Name: value` fields separated by blank lines, values unfolded, names lowercased."""
    blocks = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text):
        fields: dict[str, str] = {}
        name = None
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and name:
                fields[name] += " " + line.strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                fields[name] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def action(block: dict[str, str]) -> str:
    return block.get("action", "").strip().lower()


def recipient(block: dict[str, str], *, human_reply: str = "") -> BouncedRecipient | None:
    """One block's recipient, status, reply and reason. `human_reply`: what the report's text says
    beside the address, read when the block gives no diagnostic."""
    address = typed_value(block.get("final-recipient") or block.get("original-recipient", "")).strip("<> ")
    if "@" not in address:
        return None
    diagnostic = clean(typed_value(block.get("diagnostic-code", ""))) or clean(human_reply)
    status = status_in(block.get("status", "")) or status_in(diagnostic)
    kind = action(block)
    if kind in ("delivered", "relayed", "expanded"):
        return BouncedRecipient(
            email=address.lower(),
            action=kind,
            status=status,
            smtp_code=code_in(diagnostic),
            diagnostic=diagnostic,
            reason="delivered",
            hard=False,
        )
    classified = classify(
        status, code_in(diagnostic), diagnostic, permanent=kind == "failed", given_up=kind == "failed"
    )
    return BouncedRecipient(email=address.lower(), action=kind or "failed", **classified.details())


def typed_value(value: str) -> str:
    """`rfc822; a@b` -> `a@b`, `smtp; 550 …` -> `550 …`, `X-Postfix; …` -> `…`."""
    kind, semicolon, rest = value.partition(";")
    return (rest if semicolon and " " not in kind.strip() else value).strip()
