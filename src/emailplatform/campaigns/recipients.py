"""Reading a recipients file as people's tools write it: CSV in the usual encodings and delimiters, or .xlsx.

How to read a file (its layout: format, encoding, delimiter, and which column is the address and which fills
each placeholder) is decided once, from its first 64 KiB, when a campaign is accepted; the split reads it again
with that same layout, row by row, never whole in memory. Each row is then validated as it streams past.
"""

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import BinaryIO, cast

import charset_normalizer
from email_validator import EmailNotValidError, validate_email

from emailplatform.errors import Invalid

EMAIL_COLUMN = "email"
PROVIDED_PLACEHOLDERS = {"unsubscribe_url"}  # filled in by the platform for each message, not by the file
CHECK_CHUNK_BYTES = 1 << 20
SAMPLE_BYTES = 64 << 10  # what the encoding and the delimiter are decided from
SAMPLE_ROWS = 50
DELIMITERS = ",;\t|"
DUPLICATE_REASON = "a duplicate: this address is on an earlier row, and is sent once"
SAVE_AS = 'save it from your spreadsheet as "CSV UTF-8" (or .xlsx) and upload it again'
MAX_COLUMNS = 1000
# A value longer than this makes its row a bad row; one that also runs over lines makes the file unreadable (most
# likely a quote never closed, which swallows the rows after it).
MAX_FIELD_CHARS = 128 * 1024
MAX_READ_FIELD_CHARS = 16 * 1024 * 1024  # past this a field is not read at all: the file is refused
csv.field_size_limit(MAX_READ_FIELD_CHARS)  # process-wide: every reader reads a long field, then its row is refused

# The names the address column goes by, normalised (see column_key); the first that a file has wins.
EMAIL_ALIASES = (
    "email",
    "emailaddress",
    "mail",
    "mailaddress",
    "recipient",
    "emailadresse",
    "mailadresse",  # en, de
    "adresseemail",
    "courriel",
    "correo",
    "correoelectronico",
    "adresemail",
    "indirizzoemail",  # fr, es, pl, it
)

# The single-byte Windows code pages a file may be in when it is not UTF-8, the most used first, each with the
# letters (beyond ASCII) of the languages it is written in. charset-normalizer proposes decodings of the sample;
# the likely one is made of these letters (not of symbols), and best of one language's.
CODE_PAGES = {
    "cp1252": (  # Western Europe and the Americas: fr, de, es, pt, it, nl, da/no, sv/fi, is
        "àâæçèéêëîïôœùûüÿ",
        "äöüß",
        "áéíñóúü¡¿",
        "àáâãçéêíóôõú",
        "àèéìíîòóù",
        "áéëïóöü",
        "æøåé",
        "åäöé",
        "áðéíóúýþæö",
    ),
    "cp1250": (  # Central Europe: pl, cs, sk, hu, ro, hr/sl/bs, de
        "ąćęłńóśźż",
        "áčďéěíňóřšťúůýž",
        "áäčďéíĺľňóôŕšťúýž",
        "áéíóöőúüű",
        "ăâîşţ",
        "čćđšž",
        "äöüß",
    ),
    "cp1251": ("абвгдеёжзийклмнопрстуфхцчшщъыьэюяієїґўђјљњћџѓќѕ",),  # Cyrillic
    "cp1253": ("αβγδεζηθικλμνξοπρστυφχψωάέήίόύώςϊϋΐΰ",),  # Greek
    "cp1254": ("çğıöşüâîû",),  # Turkish
    "cp1257": ("ąčęėįšųūž", "āčēģīķļņšūž", "äõöüšž"),  # Baltic: lt, lv, et
}
NON_LATIN = {"cp1251", "cp1253"}

# Plain ASCII addresses, by far the most common, are checked by this pattern; anything else by email-validator,
# which is exact but ~25 µs an address. The pattern accepts nothing email-validator would refuse.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE_TLDS = {"arpa", "invalid", "local", "localhost", "onion", "test"}
_KEY_NOISE = re.compile(r"[\s_\-]+")
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"


class BadRow(ValueError):
    pass


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet numbers it: the header is row 1
    email: str
    values: list[str]


@dataclass(frozen=True)
class Skipped:
    number: int
    email: str | None
    reason: str
    duplicate: bool = False


@dataclass(frozen=True)
class Layout:
    """How to read a recipients file, as stored on its campaign."""

    format: str  # "csv" or "xlsx"
    encoding: str | None  # a Python codec name, for CSV
    delimiter: str | None  # for CSV
    columns: dict[str, str]  # "email" and each placeholder -> the file's column that holds it
    header: list[str] = field(default_factory=list, compare=False)

    def as_dict(self) -> dict:
        return {"format": self.format, "encoding": self.encoding, "delimiter": self.delimiter, "columns": self.columns}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Layout":
        assert data is not None, "a campaign keeps how its file is read from its creation on"
        return cls(data["format"], data.get("encoding"), data.get("delimiter"), dict(data["columns"]))


ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with a BOM",
    "utf-16-le": "UTF-16 (little-endian)",
    "utf-16-be": "UTF-16 (big-endian)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "cp1252": "Windows-1252 (Western European)",
    "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)",
    "cp1257": "Windows-1257 (Baltic)",
}
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}


def describe(layout: Layout) -> str:
    """How a file was read, in words: "CSV, Windows-1250 (Central European), fields separated by semicolons"."""
    if layout.format == "xlsx":
        return "an Excel workbook (.xlsx), its first sheet"
    encoding = ENCODING_NAMES.get(layout.encoding or "", layout.encoding)
    return f"CSV, {encoding}, fields separated by {DELIMITER_NAMES.get(layout.delimiter or '', layout.delimiter)}"


def column_key(name: str) -> str:
    """A column's name as matched: accents, case, spaces, `-` and `_` do not count ("E-Mail" is "email")."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return _KEY_NOISE.sub("", plain).casefold()


def normalize_address(raw: str) -> str:
    """The address to send to, with its domain lowercased; BadRow with the reason if it is not one."""
    address = raw.strip()
    if not address:
        raise BadRow("the email column is empty")
    match = _PLAIN_ADDRESS.fullmatch(address)
    if (
        match
        and len(address) <= 254
        and len(match[1]) <= 64
        and match[2].rsplit(".", 1)[1].lower() not in _SPECIAL_USE_TLDS
    ):
        return f"{match[1]}@{match[2].lower()}"
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise BadRow(f"{address!r} is not a valid email address: {exc}") from None


# -- the layout, decided up front ------------------------------------------------------------------------------


def read_layout(
    binary: BinaryIO,
    placeholders: list[str],
    columns: dict[str, str] | None,
    field: str,
    columns_field: str = "columns",
) -> Layout:
    """How to read this file for these placeholders; a 422 naming `field` (or `columns_field` for a bad mapping)
    if it is not a recipients file. A CSV is read whole once, so a file that cannot be read is refused before
    anything is accepted."""
    found = read_header(binary, field)
    mapping = match_columns(found.header, placeholders, columns or {}, field, columns_field)
    if not found.has_rows:
        raise Invalid("the file has a header but no recipient rows", field=field)
    if found.format == "csv":
        assert found.encoding and found.delimiter, "read_header names both for a CSV"
        binary.seek(0)
        check_csv(binary, found.encoding, found.delimiter, field)
    return Layout(found.format, found.encoding, found.delimiter, mapping, found.header)


@dataclass(frozen=True)
class Header:
    format: str
    encoding: str | None
    delimiter: str | None
    header: list[str]
    has_rows: bool


def read_header(binary: BinaryIO, field: str) -> Header:
    """The file's format, encoding and delimiter, told from its first bytes, and its header row."""
    sample = binary.read(SAMPLE_BYTES)
    complete = len(sample) < SAMPLE_BYTES
    binary.seek(0)
    if sample.startswith(_XLSX_MAGIC):
        found = Header("xlsx", None, None, *_xlsx_first_rows(binary, field))
    elif sample.startswith(_XLS_MAGIC):
        raise Invalid(f"the file is an Excel 97-2003 workbook (.xls), which cannot be read: {SAVE_AS}", field=field)
    else:
        encoding = detect_encoding(sample, complete, field)
        delimiter = detect_delimiter(_decode_sample(sample, encoding, complete))
        found = Header("csv", encoding, delimiter, *_csv_first_rows(binary, encoding, delimiter, field))
    if not any(found.header):
        raise Invalid("the file is empty: it needs a header row with an 'email' column", field=field)
    if len(found.header) > MAX_COLUMNS:
        raise Invalid(f"the file has {len(found.header)} columns; at most {MAX_COLUMNS} are allowed", field=field)
    return found


def detect_encoding(sample: bytes, complete: bool, field: str) -> str:
    """The codec of a file from its first bytes: a BOM says it; else UTF-8 if the bytes are UTF-8; else the
    Windows code page its text reads best in."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    if b"\x00" in sample:
        raise Invalid(f"the file is not text (it holds NUL bytes, from byte {sample.index(0)}): {SAVE_AS}", field=field)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    matches = charset_normalizer.from_bytes(sample, cp_isolation=list(CODE_PAGES))
    candidates = [
        (code_page, str(match))
        for match in matches
        for code_page in match.could_be_from_charset
        if code_page in CODE_PAGES
    ]
    if not candidates:
        raise Invalid(f"the file's encoding cannot be told (it is not UTF-8 text): {SAVE_AS}", field=field)
    order = list(CODE_PAGES)
    return max(
        candidates, key=lambda c: (*_letter_scores(c[1], CODE_PAGES[c[0]], c[0] not in NON_LATIN), -order.index(c[0]))
    )[0]


def _letter_scores(text: str, alphabets: tuple[str, ...], latin: bool) -> tuple[float, float]:
    """The share of the text's non-ASCII characters that are letters of the code page's languages, and the best
    share that one of its languages has. A Cyrillic or Greek letter inside a Latin word does not count."""
    chars = [
        c.lower()
        for i, c in enumerate(text)
        if ord(c) > 127 and (latin or not (_ascii_letter(text[i - 1 : i]) or _ascii_letter(text[i + 1 : i + 2])))
    ]
    total = sum(ord(c) > 127 for c in text)
    if not total:
        return 1.0, 1.0
    every = set().union(*alphabets)
    return sum(c in every for c in chars) / total, max(sum(c in a for c in chars) for a in alphabets) / total


def _ascii_letter(c: str) -> bool:
    return c.isascii() and c.isalpha()


def _decode_sample(sample: bytes, encoding: str, complete: bool) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=complete)
    return text.removeprefix("\ufeff")


def detect_delimiter(text: str) -> str:
    """The delimiter of the first rows: the one that splits the header into most fields and the most rows into as
    many fields as the header; a comma when none splits the header."""
    if not text.endswith(("\n", "\r")) and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # the sample's last line may be cut short
    best, best_score = ",", (1, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [
                len(row)
                for _, row in zip(range(SAMPLE_ROWS), csv.reader(io.StringIO(text), delimiter=delimiter))
                if any(row)
            ]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        score = (sum(width == widths[0] for width in widths), widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def needed_columns(placeholders: list[str]) -> list[str]:
    """What a file must have a column for: the address ("email"), then each placeholder the platform does not fill."""
    others = [name for name in placeholders if name not in PROVIDED_PLACEHOLDERS and name != EMAIL_COLUMN]
    return [EMAIL_COLUMN, *dict.fromkeys(others)]


def match_columns(
    header: list[str], placeholders: list[str], explicit: dict[str, str], field: str, columns_field: str
) -> dict[str, str]:
    """Which column of the file holds the address ("email") and each placeholder: as `explicit` says, else by
    name (see column_key), the address column also by its usual aliases."""
    needed = needed_columns(placeholders)[1:]
    for key, _column in explicit.items():
        if key != EMAIL_COLUMN and key not in needed:
            known = ", ".join([EMAIL_COLUMN, *needed])
            raise Invalid(f"the template has no placeholder {key!r} (it has: {known})", field=f"{columns_field}.{key}")
    mapping = {key: _explicit_column(header, column, f"{columns_field}.{key}") for key, column in explicit.items()}
    if EMAIL_COLUMN not in mapping:
        mapping[EMAIL_COLUMN] = _email_column(header, field, columns_field)
    missing = []
    for name in needed:
        if name not in mapping:
            found = _named_column(header, name, field, columns_field)
            if found is None:
                missing.append(name)
            else:
                mapping[name] = found
    if missing:
        raise Invalid(
            f"the template needs columns the file does not have: {', '.join(missing)} (its columns: "
            f"{', '.join(header)});"
            f" rename them, or say which column fills each in {columns_field}",
            field=field,
        )
    duplicated = sorted({name for name in mapping.values() if header.count(name) > 1})
    if duplicated:
        raise Invalid(f"the file names a column twice: {', '.join(duplicated)}", field=field)
    return {EMAIL_COLUMN: mapping.pop(EMAIL_COLUMN)} | mapping


def _explicit_column(header: list[str], column: str, field: str) -> str:
    if column in header:
        return column
    loose = [name for name in header if column_key(name) == column_key(column)]
    if len(set(loose)) == 1:
        return loose[0]
    raise Invalid(f"the file has no column {column!r} (its columns: {', '.join(header)})", field=field)


def _email_column(header: list[str], field: str, columns_field: str) -> str:
    if EMAIL_COLUMN in header:
        return EMAIL_COLUMN
    keys = [column_key(name) for name in header]
    for alias in EMAIL_ALIASES:
        named = list(dict.fromkeys(name for name, key in zip(header, keys) if key == alias))
        if len(named) > 1:
            raise Invalid(
                f"the columns {' and '.join(map(repr, named))} both look like the address column: say which it is in"
                f" {columns_field}.email",
                field=field,
            )
        if named:
            return named[0]
    raise Invalid(
        f"the file has no 'email' column (its columns: {', '.join(header)}): name the address column 'email'"
        f" (or E-Mail, Email Address, …) or say which it is in {columns_field}.email",
        field=field,
    )


def _named_column(header: list[str], name: str, field: str, columns_field: str) -> str | None:
    if name in header:
        return name
    named = list(dict.fromkeys(column for column in header if column_key(column) == column_key(name)))
    if len(named) > 1:
        raise Invalid(
            f"the columns {' and '.join(map(repr, named))} could both fill {{{{ {name} }}}}: say which in"
            f" {columns_field}.{name}",
            field=field,
        )
    return named[0] if named else None


def check_csv(binary: BinaryIO, encoding: str, delimiter: str, field: str) -> None:
    """Read the whole file as CSV once, so the split meets nothing it cannot read; a 422 naming the line."""
    reader = _csv_reader_leaving_open(binary, encoding, delimiter)
    started = 1
    try:
        for row in reader:
            if row and max(map(len, row)) > MAX_FIELD_CHARS and reader.line_num - started > 0:
                raise csv.Error(
                    f"field larger than field limit ({MAX_FIELD_CHARS}), across lines {started} to {reader.line_num}"
                )
            started = reader.line_num + 1
    except UnicodeDecodeError:
        binary.seek(0)
        check_decodes(binary, encoding, field)
        raise
    except csv.Error as exc:
        raise _unreadable_csv(exc, field, started) from None


def _unreadable_csv(exc: csv.Error, field: str, started: int) -> Invalid:
    return Invalid(
        f"the file cannot be read as CSV from line {started}: {exc} (most likely a quote that is never closed);"
        f" {SAVE_AS}",
        field=field,
    )


def check_decodes(binary: BinaryIO, encoding: str, field: str) -> None:
    """Decode the whole stream once; a 422 naming the line and byte that cannot be read."""
    decoder = codecs.getincrementaldecoder(encoding.removesuffix("-sig"))()  # a BOM is text: offsets stay the file's
    offset = 0
    try:
        while chunk := binary.read(CHECK_CHUNK_BYTES):
            pending = len(decoder.getstate()[0])
            offset -= pending
            decoder.decode(chunk)
            offset += pending + len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        at = offset + exc.start
        binary.seek(0)
        line = _line_of(binary, at, encoding)
        name = _encoding_name(encoding)
        raise Invalid(
            f"the file is not {name} text: line {line} cannot be read (byte {at} of the file, "
            f"{exc.object[exc.start : exc.start + 1]!r});"
            f" {SAVE_AS}",
            field=field,
        ) from None


def _line_of(binary: BinaryIO, at: int, encoding: str) -> int:
    newline = "\n".encode(encoding.removesuffix("-sig"))
    before, count = at, 1
    while before > 0 and (chunk := binary.read(min(CHECK_CHUNK_BYTES, before))):
        count += chunk.count(newline)
        before -= len(chunk)
    return count


def _encoding_name(encoding: str) -> str:
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}.get(
        encoding, f"{encoding} (Windows code page)"
    )


# -- CSV ---------------------------------------------------------------------------------------------------------


def _csv_reader(binary: BinaryIO, encoding: str | None, delimiter: str | None):
    assert encoding and delimiter, "a CSV layout names its encoding and delimiter"
    return csv.reader(io.TextIOWrapper(binary, encoding=encoding, newline=""), delimiter=delimiter)


def _csv_reader_leaving_open(binary: BinaryIO, encoding: str, delimiter: str):
    return _csv_reader(cast(BinaryIO, _Unclosing(binary)), encoding, delimiter)


def _csv_header(reader) -> list[str]:
    header = [name.strip() for name in next(reader, [])]
    if header:
        header[0] = header[0].removeprefix("\ufeff").strip()
    return header


def _csv_first_rows(binary: BinaryIO, encoding: str, delimiter: str, field: str) -> tuple[list[str], bool]:
    reader = _csv_reader_leaving_open(binary, encoding, delimiter)
    started, has_rows = 1, False
    try:
        header = _csv_header(reader)
        started = reader.line_num + 1
        for _, row in zip(range(1000), reader):
            started = reader.line_num + 1
            if any(cell.strip() for cell in row):
                has_rows = True
                break
    except UnicodeDecodeError as exc:
        raise Invalid(
            f"the file is not {_encoding_name(encoding)} text near its start (byte {exc.start} of a line): {SAVE_AS}",
            field=field,
        ) from None
    except csv.Error as exc:
        raise _unreadable_csv(exc, field, started) from None
    return header, has_rows


# -- xlsx --------------------------------------------------------------------------------------------------------


def _open_sheet(binary: BinaryIO, field: str):
    import openpyxl  # slow to import: only when a workbook comes
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(binary, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the size a file states may be wrong: read every row there is
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, ())
    except (zipfile.BadZipFile, KeyError, IndexError, ValueError, TypeError, OSError, InvalidFileException) as exc:
        raise Invalid(
            f"the file is not a readable .xlsx workbook ({type(exc).__name__}: {exc}): {SAVE_AS}", field=field
        ) from None
    header = [cell_text(value).strip() for value in first]
    while header and not header[-1]:
        header.pop()
    return workbook, header, rows


def _xlsx_first_rows(binary: BinaryIO, field: str) -> tuple[list[str], bool]:
    workbook, header, rows = _open_sheet(binary, field)
    try:
        has_rows = any(
            any(value is not None and cell_text(value).strip() for value in row) for _, row in zip(range(1000), rows)
        )
    finally:
        workbook.close()
    return header, has_rows


def _xlsx_rows(workbook, rows, width: int) -> Iterator[tuple[int, list[str]]]:
    """Each row as text, as wide as the header (a spreadsheet's empty cell is an empty value, not a missing one)."""
    try:
        for number, row in enumerate(rows, start=2):
            values = [cell_text(value) for value in row]
            while len(values) > width and not values[-1]:
                values.pop()
            yield number, values + [""] * (width - len(values))
    finally:
        workbook.close()


def cell_text(value) -> str:
    """A cell as the spreadsheet shows it, plainly: 12345 not 12345.0, a date as 2026-12-01."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


# -- the rows ----------------------------------------------------------------------------------------------------


def read_rows(binary: BinaryIO, layout: Layout) -> tuple[list[str], Iterator[Row | Skipped]]:
    """The header, and each data row: a Row to send to, or a Skipped one (invalid, or a duplicate address)."""
    if layout.format == "xlsx":
        workbook, header, rows = _open_sheet(binary, field="file")
        numbered = _xlsx_rows(workbook, rows, len(header))
    else:
        reader = _csv_reader(binary, layout.encoding, layout.delimiter)
        header = _csv_header(reader)
        numbered = enumerate(reader, start=2)
    return header, _dedupe(_rows(numbered, header, header.index(layout.columns[EMAIL_COLUMN])))


def _rows(numbered, header: list[str], email_index: int) -> Iterator[Row | Skipped]:
    width = len(header)
    for number, values in numbered:
        if not any(values):
            continue  # a blank line is no recipient and no error
        if len(values) != width:
            missing = header[len(values) :]
            reason = (
                f"missing values for: {', '.join(missing)}"
                if missing
                else f"{len(values)} fields where the header has {width}"
            )
            yield Skipped(number, values[email_index] if email_index < len(values) else None, reason)
            continue
        raw_email = values[email_index]
        longest = max(map(len, values))
        if longest > MAX_FIELD_CHARS:
            column = header[next(i for i, value in enumerate(values) if len(value) == longest)]
            yield Skipped(
                number,
                raw_email if len(raw_email) <= 320 else None,
                f"the {column!r} value has {longest} characters; at most {MAX_FIELD_CHARS} are allowed",
            )
            continue
        try:
            yield Row(number, normalize_address(raw_email), values)
        except BadRow as exc:
            yield Skipped(number, raw_email, str(exc))


def _dedupe(rows: Iterator[Row | Skipped]) -> Iterator[Row | Skipped]:
    """An address sent to once: its later rows are Skipped as duplicates (a hash each, so memory stays small)."""
    seen: set[int] = set()
    for row in rows:
        if type(row) is Row:
            key = hash(row.email.lower())
            if key in seen:
                yield Skipped(row.number, row.email, DUPLICATE_REASON, duplicate=True)
                continue
            seen.add(key)
        yield row


def data_columns(header: list[str], layout: Layout) -> list[tuple[str, int]]:
    """The names a message's data goes by, each with the file column it comes from: the address as "email", each
    placeholder under its own name, then the file's other columns under theirs (when no name above has it)."""
    named = [(key, header.index(column)) for key, column in layout.columns.items()]
    taken = {key for key, _ in named}
    for index, name in enumerate(header):
        if name and name not in taken:
            named.append((name, index))
            taken.add(name)
    return named


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
