"""Reading a recipients CSV: the header checked up front, then each row validated as it streams past."""

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from email_validator import EmailNotValidError, validate_email

from emailplatform.errors import Invalid

EMAIL_COLUMN = "email"
PROVIDED_PLACEHOLDERS = {"unsubscribe_url"}  # filled in by the platform for each message, not by the file
CHECK_CHUNK_BYTES = 1 << 20

# Plain ASCII addresses, by far the most common, are checked by this pattern; anything else by email-validator,
# which is exact but ~25 µs an address. The pattern accepts nothing email-validator would refuse.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE_TLDS = {"arpa", "invalid", "local", "localhost", "onion", "test"}


class BadRow(ValueError):
    pass


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet numbers it: the header is row 1
    email: str
    values: list[str]


def normalize_address(raw: str) -> str:
    """The address to send to, with its domain lowercased; BadRow with the reason if it is not one."""
    address = raw.strip()
    if not address:
        raise BadRow("the email column is empty")
    match = _PLAIN_ADDRESS.fullmatch(address)
    if match and len(address) <= 254 and len(match[1]) <= 64 and match[2].rsplit(".", 1)[1].lower() not in _SPECIAL_USE_TLDS:
        return f"{match[1]}@{match[2].lower()}"
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise BadRow(f"{address!r} is not a valid email address: {exc}") from None


def text_stream(binary: BinaryIO) -> io.TextIOWrapper:
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def read_header(binary: BinaryIO, placeholders: list[str], field: str) -> list[str]:
    """The column names; a 422 naming `field` if the file is not a recipients CSV for these placeholders.

    Reads the whole stream once, to refuse a file that is not UTF-8 before anything is accepted."""
    header, has_rows = _first_rows(binary, field)
    if EMAIL_COLUMN not in header:
        raise Invalid(f"the file has no {EMAIL_COLUMN!r} column (its columns: {', '.join(header)})", field=field)
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise Invalid(f"the file names a column twice: {', '.join(duplicated)}", field=field)
    missing = [name for name in placeholders if name not in header and name not in PROVIDED_PLACEHOLDERS]
    if missing:
        raise Invalid(f"the template needs columns the file does not have: {', '.join(missing)}", field=field)
    if not has_rows:
        raise Invalid("the file has a header but no recipient rows", field=field)
    _check_utf8(binary, field)
    return header


def _first_rows(binary: BinaryIO, field: str) -> tuple[list[str], bool]:
    reader = csv.reader(text_stream(_Unclosing(binary)))
    try:
        header = [name.strip() for name in next(reader, [])]
        has_rows = any(any(cell.strip() for cell in row) for row in _take(reader, 1000))
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is not UTF-8 text (byte {exc.start} of a line cannot be read)", field=field) from None
    except csv.Error as exc:
        raise Invalid(f"the file is not a readable CSV: {exc}", field=field) from None
    if not any(header):
        raise Invalid("the file is empty: it needs a header row with an 'email' column", field=field)
    return header, has_rows


def _check_utf8(binary: BinaryIO, field: str) -> None:
    binary.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        while chunk := binary.read(CHECK_CHUNK_BYTES):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is not UTF-8 text (at byte {offset + exc.start})", field=field) from None


def read_rows(binary: BinaryIO) -> tuple[list[str], Iterator[Row | tuple[int, str | None, str]]]:
    """The header, and each data row: a Row, or (row number, email if any, reason) for a bad one."""
    reader = csv.reader(text_stream(binary))
    header = [name.strip() for name in next(reader)]
    return header, _rows(reader, header)


def _rows(reader, header: list[str]):
    email_index = header.index(EMAIL_COLUMN)
    width = len(header)
    for number, values in enumerate(reader, start=2):
        if not any(values):
            continue  # a blank line is no recipient and no error
        raw_email = values[email_index] if email_index < len(values) else None
        if len(values) != width:
            missing = header[len(values):]
            reason = f"missing values for: {', '.join(missing)}" if missing else f"{len(values)} fields where the header has {width}"
            yield number, raw_email, reason
            continue
        try:
            yield Row(number, normalize_address(raw_email), values)
        except BadRow as exc:
            yield number, raw_email, str(exc)


def _take(iterator, n):
    for _, item in zip(range(n), iterator):
        yield item


class _Unclosing(io.RawIOBase):
    """Lets a TextIOWrapper read a stream without closing it when the wrapper goes away."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
