"""SpamAssassin's verdict on a message, from spamd over its own protocol (SPAMC/1.5): one REPORT request, whose answer
carries the score, the threshold and the table of rules hit. aiospamc, the maintained client, pins an old typer, so
the few lines of the protocol are here."""

import asyncio
import re
from dataclasses import dataclass, field

PROTOCOL = b"SPAMC/1.5"
MAX_MESSAGE_BYTES = 512 * 1024  # spamc's own default limit: larger messages are not scanned
MAX_ANSWER_BYTES = 256 * 1024
STATUS_LINE = re.compile(rb"^SPAMD/\d\.\d+ (\d+) (.*)$")
SPAM_HEADER = re.compile(rb"^Spam: *(\w+) *; *(-?[\d.]+) */ *(-?[\d.]+)", re.IGNORECASE | re.MULTILINE)
RULE_LINE = re.compile(r"^ *(-?\d+(?:\.\d+)?) +([A-Z0-9_]+) +(.*)$")


class SpamdUnavailable(Exception):
    """spamd could not be reached, or answered with an error; the message says which."""


@dataclass(frozen=True)
class Rule:
    name: str
    score: float
    description: str


@dataclass(frozen=True)
class Verdict:
    score: float
    threshold: float
    rules: list[Rule] = field(default_factory=list)


def split_address(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port`; spamd's port, 783, when there is none."""
    if address.startswith("["):
        host, _, port = address[1:].partition("]")
        return host, int(port.lstrip(":") or 783)
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    return host, int(port or 783)


async def report(address: str, message: bytes, timeout: float) -> Verdict:
    """spamd's verdict on `message`; SpamdUnavailable when it cannot give one within `timeout` seconds."""
    host, port = split_address(address)
    try:
        answer = await asyncio.wait_for(_exchange(host, port, message[:MAX_MESSAGE_BYTES]), timeout)
    except TimeoutError:
        raise SpamdUnavailable(f"spamd at {address} did not answer within {timeout:g} seconds") from None
    except OSError as exc:
        raise SpamdUnavailable(f"spamd at {address} cannot be reached: {exc.strerror or exc}") from None
    return parse_answer(answer, address)


async def _exchange(host: str, port: int, message: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"REPORT " + PROTOCOL + b"\r\nContent-length: " + str(len(message)).encode() + b"\r\n\r\n")
        writer.write(message)
        await writer.drain()
        writer.write_eof()
        answer = b""
        while len(answer) < MAX_ANSWER_BYTES and (chunk := await reader.read(MAX_ANSWER_BYTES - len(answer))):
            answer += chunk  # spamd closes the connection after its answer
        return answer
    finally:
        writer.close()


def parse_answer(answer: bytes, address: str) -> Verdict:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = STATUS_LINE.match(head.split(b"\r\n", 1)[0])
    if status is None:
        raise SpamdUnavailable(f"{address} did not answer as spamd does")
    if status[1] != b"0":
        raise SpamdUnavailable(f"spamd at {address} refused the check: {status[2].decode('ascii', 'replace')}")
    spam = SPAM_HEADER.search(head)
    if spam is None:
        raise SpamdUnavailable(f"spamd at {address} gave no score")
    return Verdict(float(spam[2]), float(spam[3]), _rules(body.decode("utf-8", "replace")))


def _rules(report_text: str) -> list[Rule]:
    """The rules of the report's table (` pts rule name  description`); a description may go on over lines."""
    rules: list[Rule] = []
    in_table = False
    for line in report_text.splitlines():
        if line.startswith("----"):
            in_table = True
            continue
        if not in_table or not line.strip():
            continue
        match = RULE_LINE.match(line)
        if match:
            rules.append(Rule(match[2], float(match[1]), match[3].strip()))
        elif rules and line.startswith(" "):
            last = rules[-1]
            rules[-1] = Rule(last.name, last.score, f"{last.description} {line.strip()}")
    return sorted(rules, key=lambda rule: -rule.score)
