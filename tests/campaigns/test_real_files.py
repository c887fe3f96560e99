"""Recipients files as people's tools write them (Excel in a German, Polish or French locale, Excel's "Unicode
text", .xlsx…), each checked, then sent end to end to a real SMTP server: every recipient gets their own name."""

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date

import openpyxl
import pytest

from emailplatform.campaigns import recipients
from tests.conftest import run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, upload_file

SUBJECT = "Hello {{ first_name }}"
HTML = "<p>Dear {{ first_name }},</p><p>the offer for {{ company }}.</p>"


@dataclass
class RealFile:
    filename: str
    content: bytes
    people: list[tuple[str, str, str]]  # address, first name, company: as they must arrive
    encoding: str | None
    delimiter: str | None
    columns: dict[str, str]
    explicit: dict[str, str] | None = None


def csv_file(header: list[str], rows: list[list[str]], delimiter: str, encoding: str, newline: str = "\r\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows([header, *rows])
    return out.getvalue().encode(encoding)


def xlsx_file(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("Notes").append(["not", "read"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


GERMAN = [
    ("juergen@example.de", "Jürgen", "Müller & Söhne; GmbH"),
    ("zoe@example.de", "Zoë", "Straße 1"),
    ("anna@example.at", "Anna", "Groß AG"),
]
POLISH = [
    ("lukasz@example.pl", "Łukasz", "Zakład Łódź"),
    ("malgosia@example.pl", "Małgorzata Śliwińska", "Żabka"),
    ("zaneta@example.pl", "Żaneta", "Gdańsk sp. z o.o."),
]
FRENCH = [
    ("rene@example.fr", "René", "Café Noël"),
    ("hans@example.ch", "Hans Groß", "Zürich AG"),
    ("francois@example.fr", "François", "Hélène & Cie"),
]
UNICODE = [
    ("zoe@example.com", "Zoë", "Ελληνική Α.Ε."),
    ("ivan@example.ru", "Иван", "ООО Рога"),
    ("mei@example.cn", "美玲", "北京"),
]
PLAIN = [
    ("ada@example.com", "Ada", "Analytical"),
    ("grace@example.org", "Grace", "Navy"),
    ("linus@example.net", "Linus", "Kernel"),
]

REAL_FILES = {
    "excel-de-semicolon-bom-crlf": RealFile(
        "kunden.csv",
        b"\xef\xbb\xbf" + csv_file(["email", "first_name", "company"], [list(p) for p in GERMAN], ";", "utf-8"),
        GERMAN,
        "utf-8-sig",
        ";",
        {"email": "email", "first_name": "first_name", "company": "company"},
    ),
    "cp1250-polish": RealFile(
        "klienci.csv",
        csv_file(["Email", "First_Name", "Company"], [list(p) for p in POLISH], ";", "cp1250"),
        POLISH,
        "cp1250",
        ";",
        {"email": "Email", "first_name": "First_Name", "company": "Company"},
    ),
    "cp1252-email-address": RealFile(
        "clients.csv",
        csv_file(["Email Address", "First Name", "company"], [list(p) for p in FRENCH], ",", "cp1252"),
        FRENCH,
        "cp1252",
        ",",
        {"email": "Email Address", "first_name": "First Name", "company": "company"},
    ),
    "utf16-unicode-text-tab": RealFile(
        "unicode.txt",
        b"\xff\xfe" + csv_file(["E-Mail", "first_name", "company"], [list(p) for p in UNICODE], "\t", "utf-16-le"),
        UNICODE,
        "utf-16-le",
        "\t",
        {"email": "E-Mail", "first_name": "first_name", "company": "company"},
    ),
    "e-mail-header-pipe": RealFile(
        "export.csv",
        csv_file(["E-Mail", "FIRST-NAME", "Company"], [list(p) for p in PLAIN], "|", "utf-8", "\n"),
        PLAIN,
        "utf-8",
        "|",
        {"email": "E-Mail", "first_name": "FIRST-NAME", "company": "Company"},
    ),
    "explicit-columns": RealFile(
        "crm.csv",
        csv_file(["Work E-Mail", "Vorname", "Firma", "email"], [[*p, "old@example.com"] for p in GERMAN], ";", "utf-8"),
        GERMAN,
        "utf-8",
        ";",
        {"email": "Work E-Mail", "first_name": "Vorname", "company": "Firma"},
        explicit={"email": "Work E-Mail", "first_name": "Vorname", "company": "Firma"},
    ),
    "xlsx": RealFile(
        "kunden.xlsx",
        xlsx_file(
            [
                ["E-Mail", "First name", "Company", "Since"],
                ["juergen@example.de", "Jürgen", 12345, date(2024, 3, 1)],
                ["zoe@example.de", "Zoë", 12.5, None],
                ["anna@example.at", "Anna", "Groß AG", date(2025, 1, 2)],
            ]
        ),
        [
            ("juergen@example.de", "Jürgen", "12345"),
            ("zoe@example.de", "Zoë", "12.5"),
            ("anna@example.at", "Anna", "Groß AG"),
        ],
        None,
        None,
        {"email": "E-Mail", "first_name": "First name", "company": "Company"},
    ),
}


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    return runtime


@pytest.mark.parametrize("case", list(REAL_FILES))
def test_a_real_world_file_is_checked_and_sent_to_everyone_with_their_own_name(client, smtp_runtime, smtp_sink, case):
    real = REAL_FILES[case]
    template = create_template(client, SUBJECT, HTML)
    file = upload_file(client, real.content, real.filename)
    explicit = {"columns": real.explicit} if real.explicit else {}
    layout = {
        "format": "xlsx" if real.filename.endswith(".xlsx") else "csv",
        "encoding": real.encoding,
        "delimiter": real.delimiter,
        "columns": real.columns,
    }

    check = client.post(
        "/api/v1/email/campaigns/check",
        json={
            "template_id": template["template_id"],
            "csv_file_url": file["file_url"],
            **explicit,
        },
    )
    assert check.status_code == 200, check.text
    assert check.json()["layout"] == layout
    assert (check.json()["total_messages"], check.json()["invalid_rows"], check.json()["duplicate_rows"]) == (3, 0, 0)
    first = check.json()["first_rows"][0]
    assert first[real.columns["first_name"]] == real.people[0][1]

    accepted = create_campaign(client, template["template_id"], file["file_url"], **explicit)
    run_jobs(smtp_runtime)

    result = campaign(client, accepted["transaction_id"])
    assert result["status"] == "SENT", result["status_reason"]
    assert result["recipients_layout"] == layout
    assert (result["total_messages"], result["invalid_rows"], result["duplicate_rows"]) == (3, 0, 0)
    received = smtp_sink.by_recipient()
    assert sorted(received) == sorted(address for address, _, _ in real.people)
    for address, first_name, company in real.people:
        [mail] = received[address]
        message = mail.message
        assert message["Subject"] == f"Hello {first_name}"
        html = message.get_body(("html",)).get_content()
        assert f"Dear {first_name}," in html
        assert f"the offer for {company.replace('&', '&amp;')}." in html
    messages = all_pages(client, f"/api/v1/email/campaigns/{accepted['transaction_id']}/messages")
    detail = client.get(f"/api/v1/email/messages/{messages[0]['message_id']}").json()
    assert {k: detail["data"][k] for k in ("email", "first_name", "company")} == dict(
        zip(("email", "first_name", "company"), real.people[0])
    )


def test_the_check_the_campaign_and_its_bad_rows_agree_on_every_count(client, smtp_runtime, smtp_sink):
    template = create_template(client, SUBJECT, HTML)
    rows = [
        ["ada@example.com", "Ada", "A"],
        ["broken", "Bob", "B"],
        ["ADA@example.com", "Ada again", "A"],
        ["grace@example.org", "Grace", "G"],
        ["grace@example.org", "Grace", "G"],
        ["linus@example.net", "Linus"],
        ["", "Nobody", "N"],
        ["ken@example.com", "Ken", "K"],
    ]
    file = upload_file(client, csv_file(["Email", "first_name", "company"], rows, ";", "utf-8"))
    check = client.post(
        "/api/v1/email/campaigns/check", json={"template_id": template["template_id"], "csv_file_url": file["file_url"]}
    )
    assert check.status_code == 200, check.text
    report = check.json()
    assert (report["total_messages"], report["invalid_rows"], report["duplicate_rows"]) == (3, 3, 2)
    expected_bad = [(3, "broken"), (4, "ADA@example.com"), (6, "grace@example.org"), (7, "linus@example.net"), (8, "")]
    assert [(r["row_number"], r["email"]) for r in report["bad_rows"]] == expected_bad

    accepted = create_campaign(client, template["template_id"], file["file_url"])
    run_jobs(smtp_runtime)
    result = campaign(client, accepted["transaction_id"])
    assert (result["total_messages"], result["invalid_rows"], result["duplicate_rows"]) == (3, 3, 2)
    assert result["summary"]["sent"] == 3 and len(smtp_sink.received) == 3
    errors = all_pages(client, f"/api/v1/email/campaigns/{accepted['transaction_id']}/errors")
    assert [(e["row_number"], e["email"]) for e in errors] == expected_bad
    assert [e["reason"] for e in errors] == [r["reason"] for r in report["bad_rows"]]


@pytest.mark.parametrize(
    ("columns", "field", "reason"),
    [
        ({"email": "Work Mail"}, "columns.email", "the file has no column 'Work Mail'"),
        ({"nickname": "Vorname"}, "columns.nickname", "the template has no placeholder 'nickname'"),
        ({"email": ""}, "columns.email", "at least 1 character"),
    ],
)
def test_a_bad_column_mapping_is_refused_naming_it(client, columns, field, reason):
    template = create_template(client, SUBJECT, HTML)
    file = upload_file(client, csv_file(["Work E-Mail", "Vorname", "Firma"], [list(GERMAN[0])], ";", "utf-8"))
    body = {
        "template_id": template["template_id"],
        "csv_file_url": file["file_url"],
        "columns": columns,
        "from": {"email": "news@sender.example.com"},
    }
    for path in ("/api/v1/email/campaigns/check", "/api/v1/email/campaigns"):
        response = client.post(path, json={k: v for k, v in body.items() if path.endswith("campaigns") or k != "from"})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert field in (error.get("field") or "") + str(error.get("details")), error
        assert reason in error["message"] + str(error.get("details")), error
    assert all_pages(client, "/api/v1/email/campaigns") == []


def test_without_a_mapping_a_file_whose_columns_do_not_match_says_what_to_do(client):
    template = create_template(client, SUBJECT, HTML)
    file = upload_file(client, csv_file(["Work E-Mail", "Vorname", "Firma"], [list(GERMAN[0])], ";", "utf-8"))
    response = client.post(
        "/api/v1/email/campaigns/check", json={"template_id": template["template_id"], "csv_file_url": file["file_url"]}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "csv_file_url"
    assert "no 'email' column (its columns: Work E-Mail, Vorname, Firma)" in response.json()["error"]["message"]
    assert "columns.email" in response.json()["error"]["message"]


def test_an_xlsx_that_states_a_wrong_size_is_read_whole(client):
    template = create_template(client, SUBJECT, HTML)
    workbook = xlsx_file([["email", "first_name", "company"], *[list(p) for p in PLAIN]])
    stated = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(stated, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:A2"', data)
            target.writestr(item, data)
    file = upload_file(client, stated.getvalue(), "small.xlsx")
    check = client.post(
        "/api/v1/email/campaigns/check", json={"template_id": template["template_id"], "csv_file_url": file["file_url"]}
    )
    assert check.status_code == 200, check.text
    assert check.json()["total_messages"] == 3
    assert check.json()["first_rows"][2] == dict(zip(["email", "first_name", "company"], PLAIN[2]))


@pytest.mark.parametrize(
    ("sample", "delimiter"),
    [
        ('email,name\na@example.com,"Doe; John"\nb@example.com,Roe; Jane\n', ","),
        ("email;name;company\na@example.com;Ada;ACME, Inc.\nb@example.com;Bob;X, Y, Z\n", ";"),
        ("email\tname\na@example.com\tAda, Countess\n", "\t"),
        ("email|name|note\na@example.com|Ada|a;b,c\n", "|"),
        ("email\na@example.com\nb@example.com\n", ","),
        ('"e;mail",name\n"a@example.com","x;y;z"\n', ","),
    ],
)
def test_the_delimiter_is_the_one_the_header_and_rows_agree_on(sample, delimiter):
    assert recipients.detect_delimiter(sample) == delimiter


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("email;imię\nlukasz@example.pl;Łukasz Żółć\nkasia@example.pl;Kasia Ślęzak\n", "cp1250"),
        ("email;imię\nb@example.pl;Paweł\n", "cp1250"),
        ("email,name\nb@example.cz,Jiří Dvořák\nc@example.cz,Petr Novák\n", "cp1250"),
        ("email,name\nzoe@example.com,Zoë\nhans@example.de,Hans Groß\n", "cp1252"),
        ("email,name\nx@example.fr,François à Noël\ny@example.fr,Hélène Müller\n", "cp1252"),
        ("email,name,city\nx@example.es,José Núñez,Málaga\ny@example.es,Iñigo,Cádiz\n", "cp1252"),
        ("email,name\nb@example.ru,Иван Петров\nc@example.ru,Мария Иванова\n", "cp1251"),
    ],
)
def test_a_windows_code_page_is_told_from_the_text(text, encoding):
    assert recipients.detect_encoding(text.encode(encoding), complete=True, field="file") == encoding


@pytest.mark.parametrize(
    ("value", "text"),
    [(12345, "12345"), (12345.0, "12345"), (0.5, "0.5"), (True, "TRUE"), (None, ""), (date(2026, 12, 1), "2026-12-01")],
)
def test_spreadsheet_cells_read_as_they_show(value, text):
    assert recipients.cell_text(value) == text
