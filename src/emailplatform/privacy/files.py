"""One person's rows in stored recipients files, redacted in place: every field of a row that names the address
becomes empty, and the row stays, so the row numbers of the file and the positions of a batch's messages still
point where they did."""

import csv
import io

from emailplatform.campaigns.recipients import Layout


def _names(value, email: str) -> bool:
    return isinstance(value, str) and value.strip().lower() == email


def redact_csv(data: bytes, email: str, encoding: str = "utf-8", delimiter: str = ",") -> tuple[bytes, int]:
    """The CSV with each row naming `email` (lowercased) emptied, and how many rows were."""
    reader = csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=delimiter)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    redacted = 0
    for row in reader:
        if any(_names(value, email) for value in row):
            row, redacted = [""] * len(row), redacted + 1
        writer.writerow(row)
    return out.getvalue().encode(encoding), redacted


def redact_xlsx(data: bytes, email: str) -> tuple[bytes, int]:
    import openpyxl  # slow to import: only when a workbook comes

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    redacted = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            if any(_names(cell.value, email) for cell in row):
                redacted += 1
                for cell in row:
                    cell.value = None
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), redacted


def redact_recipients_file(data: bytes, layout: Layout | None, email: str) -> tuple[bytes, int]:
    """A campaign's source file, read as its layout says (UTF-8 CSV when it has none yet)."""
    if layout is not None and layout.format == "xlsx":
        return redact_xlsx(data, email)
    if layout is None:
        return redact_csv(data, email)
    return redact_csv(data, email, layout.encoding or "utf-8", layout.delimiter or ",")


def redact_positions(data: bytes, positions: set[int]) -> bytes:
    """A batch chunk (UTF-8 CSV, a header then one row per message) with the rows at `positions` emptied."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(rows[0])
    for position, row in enumerate(rows[1:]):
        writer.writerow([""] * len(row) if position in positions else row)
    return out.getvalue().encode()
