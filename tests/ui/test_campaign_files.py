"""The new-campaign page with files as people export them: the check says how the file is read and how many it
sends to, columns that do not match by name are matched by hand, and the campaign sends everyone their own name."""

import html
import io
import re

import openpyxl
import pytest

from emailplatform.campaigns import recipients
from tests.campaigns.test_real_files import GERMAN, POLISH, REAL_FILES, csv_file
from tests.conftest import run_jobs
from tests.helpers import create_template
from tests.ui.conftest import make_user, sign_in

SUBJECT = "Hello {{ first_name }}"
HTML = "<p>Dear {{ first_name }},</p><p>the offer for {{ company }}.</p>"


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    return runtime


def upload(ui_client, token: str, filename: str, content: bytes) -> str:
    target = ui_client.post("/ui/campaigns/upload-url", data={"filename": filename, "csrf_token": token})
    assert target.status_code == 200, target.text
    assert ui_client.put(target.json()["upload_url"], content=content).status_code == 200
    return target.json()["file_url"]


def check(ui_client, token: str, template_id: str, file_url: str, columns: dict[str, str] | None = None) -> str:
    data = {"template_id": template_id, "file_url": file_url, "csrf_token": token}
    if columns:
        data |= {"column_key": list(columns), "column_value": list(columns.values())}
    response = ui_client.post("/ui/campaigns/check", data=data)
    assert response.status_code == 200, response.text
    return response.text


def send(ui_client, token: str, template_id: str, file_url: str, columns: dict[str, str] | None = None) -> str:
    data = {
        "template_id": template_id,
        "file_url": file_url,
        "from_email": "news@sender.example.com",
        "idempotency_key": f"ui-{file_url}",
        "csrf_token": token,
    }
    if columns:
        data |= {"column_key": list(columns), "column_value": list(columns.values())}
    response = ui_client.post("/ui/campaigns", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def assert_everyone_got_their_name(smtp_sink, people):
    received = smtp_sink.by_recipient()
    assert sorted(received) == sorted(address for address, _, _ in people)
    for address, first_name, company in people:
        message = received[address][0].message
        assert message["Subject"] == f"Hello {first_name}"
        assert f"the offer for {company.replace('&', '&amp;')}." in message.get_body(("html",)).get_content()


@pytest.mark.parametrize("case", list(REAL_FILES))
def test_each_real_world_file_is_checked_and_sent_from_the_new_campaign_page(
    ui_client, client, smtp_runtime, smtp_sink, tenant, case
):
    real = REAL_FILES[case]
    token = sign_in(ui_client, make_user(smtp_runtime, tenant, "editor"))
    template_id = create_template(client, SUBJECT, HTML)["template_id"]
    file_url = upload(ui_client, token, real.filename, real.content)
    layout = recipients.Layout(
        "xlsx" if real.filename.endswith(".xlsx") else "csv", real.encoding, real.delimiter, real.columns
    )

    page = text_of(check(ui_client, token, template_id, file_url, real.explicit))
    assert f"Read as {recipients.describe(layout)}." in page
    assert "Send to 3 recipients" in page and real.people[1][1] in page

    send(ui_client, token, template_id, file_url, real.explicit)
    run_jobs(smtp_runtime)
    assert_everyone_got_their_name(smtp_sink, real.people)


def test_a_polish_excel_file_is_read_counted_and_sent(ui_client, client, smtp_runtime, smtp_sink, tenant):
    token = sign_in(ui_client, make_user(smtp_runtime, tenant, "editor"))
    template_id = create_template(client, SUBJECT, HTML)["template_id"]
    rows = [list(p) for p in POLISH] + [["zepsuty", "Nikt", "X"], [POLISH[0][0].upper(), "Łukasz", "again"]]
    file_url = upload(
        ui_client, token, "klienci.csv", csv_file(["E-Mail", "First Name", "Company"], rows, ";", "cp1250")
    )

    page = text_of(check(ui_client, token, template_id, file_url))
    assert "Read as CSV, Windows-1250 (Central European), fields separated by semicolons." in page
    assert "3 recipients; skipped: 1 invalid row and 1 duplicate address (sent once)." in page
    assert "Send to 3 recipients" in page
    assert "Małgorzata Śliwińska" in page and "'zepsuty' is not a valid email address" in page

    campaign_page = send(ui_client, token, template_id, file_url)
    run_jobs(smtp_runtime)
    assert_everyone_got_their_name(smtp_sink, POLISH)
    shown = text_of(ui_client.get(campaign_page).text)
    assert "2 rows skipped: 1 invalid, 1 duplicate address (sent once)." in shown
    assert "read as CSV, Windows-1250 (Central European)" in shown
    bad_table = ui_client.get(campaign_page).text.split('class="list compact bad"')[1].split("</table>")[0]
    assert bad_table.count("<tr><td>") == 2  # as many rows listed as the count says
    assert " 5 zepsuty " in shown and " 6 LUKASZ@example.pl a duplicate: this address is on an earlier row" in shown


def test_columns_that_do_not_match_by_name_are_matched_by_hand(ui_client, client, smtp_runtime, smtp_sink, tenant):
    token = sign_in(ui_client, make_user(smtp_runtime, tenant, "editor"))
    template_id = create_template(client, SUBJECT, HTML)["template_id"]
    content = csv_file(["Work E-Mail", "Vorname", "Firma"], [list(p) for p in GERMAN], ";", "utf-8")
    file_url = upload(ui_client, token, "crm.csv", content)

    refused = check(ui_client, token, template_id, file_url)
    assert "This file cannot be used: the file has no &#39;email&#39; column" in refused
    assert (
        'id="column-email"' in refused and '<option value="Work E-Mail"' in refused and 'id="column-company"' in refused
    )
    assert "Fix the file to continue" in refused

    columns = {"email": "Work E-Mail", "first_name": "Vorname", "company": "Firma"}
    page = check(ui_client, token, template_id, file_url, columns)
    assert "Send to 3 recipients" in page
    assert '<option value="Vorname" selected>' in page

    send(ui_client, token, template_id, file_url, columns)
    run_jobs(smtp_runtime)
    assert_everyone_got_their_name(smtp_sink, GERMAN)


def test_an_xlsx_upload_sends_its_numbers_as_written(ui_client, client, smtp_runtime, smtp_sink, tenant):
    token = sign_in(ui_client, make_user(smtp_runtime, tenant, "editor"))
    template_id = create_template(client, SUBJECT, HTML)["template_id"]
    workbook = openpyxl.Workbook()
    for row in [
        ["Email Address", "first_name", "company"],
        ["ada@example.com", "Ada", 12345],
        [None, None, None],
        ["grace@example.org", "Grâce", "Navy"],
        ["nobody", "No", "One"],
    ]:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    file_url = upload(ui_client, token, "people.xlsx", out.getvalue())

    page = text_of(check(ui_client, token, template_id, file_url))
    assert "Read as an Excel workbook (.xlsx), its first sheet." in page
    assert "2 recipients; skipped: 1 invalid row" in page and "Send to 2 recipients" in page
    assert " 5 nobody " in page  # the bad row by its spreadsheet row number

    send(ui_client, token, template_id, file_url)
    run_jobs(smtp_runtime)
    assert_everyone_got_their_name(
        smtp_sink, [("ada@example.com", "Ada", "12345"), ("grace@example.org", "Grâce", "Navy")]
    )


def test_the_check_reports_a_value_past_the_field_limit_as_a_bad_row(ui_client, client, runtime, tenant):
    from tests.campaigns.test_bad_input import LONG_FIELD_LATE

    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    template_id = create_template(client, "Hi", "<p>{{ first_name }}</p>")["template_id"]
    page = text_of(check(ui_client, token, template_id, upload(ui_client, token, "people.csv", LONG_FIELD_LATE)))
    assert "Send to 1201 recipients" in page
    assert "the 'first_name' value has 200000 characters; at most 131072 are allowed" in page
