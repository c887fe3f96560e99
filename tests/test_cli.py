"""The command line as a user runs it: real processes, a real database and a real SMTP server."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openpyxl

from tests.conftest import clean_env, free_port

EMAILPLATFORM = [sys.executable, "-m", "emailplatform.cli"]


def cli_env(tmp_path: Path, database_url: str, **extra) -> dict:
    return clean_env(EMAILPLATFORM_DATA_DIR=str(tmp_path / "data"), EMAILPLATFORM_DATABASE_URL=database_url, **extra)


def run_cli(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(EMAILPLATFORM + args, env=env, capture_output=True, text=True, timeout=timeout)


def test_send_runs_a_whole_campaign_embedded(tmp_path, smtp_sink):
    template = tmp_path / "welcome.html"
    template.write_text("<h1>Welcome, {{ name }}!</h1>")
    recipients = tmp_path / "people.csv"
    recipients.write_text("email,name\nada@example.com,Ada\ngrace@example.com,Grace\nbroken,Nobody\n")
    env = cli_env(tmp_path, "", EMAILPLATFORM_TRANSPORT="smtp", EMAILPLATFORM_SMTP_URL=smtp_sink.url)

    result = run_cli(
        [
            "send",
            "--template",
            str(template),
            "--subject",
            "Hello {{ name }}",
            "--recipients",
            str(recipients),
            "--from",
            "Team <team@example.com>",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "SENT" in result.stderr
    received = smtp_sink.by_recipient()
    assert sorted(received) == ["ada@example.com", "grace@example.com"]
    assert received["grace@example.com"][0].message["Subject"] == "Hello Grace"
    said = " ".join(result.stderr.split())  # as Rich wraps it
    assert "2 recipients, 1 invalid rows" in said and "row 4: " in said and "'broken'" in said, result.stderr
    assert "EMAILPLATFORM_PUBLIC_URL is not set" in said  # its links die with it
    assert "duration_ms" not in result.stderr  # the embedded server's request lines stay out of its output


def test_send_embedded_links_to_the_public_url_not_to_its_own_port(tmp_path, smtp_sink):
    (tmp_path / "news.html").write_text("<p>News for {{ name }}</p>")
    (tmp_path / "people.csv").write_text("email,name\nada@example.com,Ada\n")
    env = cli_env(
        tmp_path,
        "",
        EMAILPLATFORM_TRANSPORT="smtp",
        EMAILPLATFORM_SMTP_URL=smtp_sink.url,
        EMAILPLATFORM_PUBLIC_URL="https://mail.example.com",
    )
    args = [
        "--template",
        str(tmp_path / "news.html"),
        "--subject",
        "News",
        "--recipients",
        str(tmp_path / "people.csv"),
    ]

    result = run_cli(["send", *args, "--from", "team@example.com"], env)

    assert result.returncode == 0, result.stderr
    assert "EMAILPLATFORM_PUBLIC_URL is not set" not in " ".join(result.stderr.split())
    message = smtp_sink.by_recipient()["ada@example.com"][0].message
    assert message["List-Unsubscribe"].startswith("<https://mail.example.com/u/"), message["List-Unsubscribe"]
    assert "https://mail.example.com/" in message.get_body(("html",)).get_content()


def test_send_reads_files_as_spreadsheets_save_them(tmp_path, smtp_sink):
    template = tmp_path / "welcome.html"
    template.write_text("<h1>Witaj, {{ first_name }}!</h1>")
    workbook = openpyxl.Workbook()
    for row in [
        ["E-Mail", "First Name"],
        ["lukasz@example.pl", "Łukasz"],
        ["zofia@example.pl", "Zofia"],
        ["zofia@example.pl", "Zofia"],
    ]:
        workbook.active.append(row)
    workbook.save(tmp_path / "people.xlsx")
    (tmp_path / "people.txt").write_bytes(
        b"\xff\xfe" + "Email Address\tfirst_name\r\nzoe@example.com\tZoë\r\n".encode("utf-16-le")
    )
    env = cli_env(tmp_path, "", EMAILPLATFORM_TRANSPORT="smtp", EMAILPLATFORM_SMTP_URL=smtp_sink.url)

    for recipients, read_as, counts in [
        ("people.xlsx", "read as an Excel workbook (.xlsx)", "2 recipients, 0 invalid rows, 1 duplicate rows"),
        ("people.txt", "read as CSV, UTF-16 (little-endian), fields separated by tabs", "1 recipients"),
    ]:
        result = run_cli(
            [
                "send",
                "--template",
                str(template),
                "--subject",
                "Cześć {{ first_name }}",
                "--recipients",
                str(tmp_path / recipients),
                "--from",
                "Team <team@example.com>",
            ],
            env,
        )
        assert result.returncode == 0, result.stderr
        said = " ".join(result.stderr.split())  # as Rich wraps it
        assert read_as in said and counts in said, result.stderr
    received = smtp_sink.by_recipient()
    assert sorted(received) == ["lukasz@example.pl", "zoe@example.com", "zofia@example.pl"]
    assert received["lukasz@example.pl"][0].message["Subject"] == "Cześć Łukasz"
    assert received["zoe@example.com"][0].message["Subject"] == "Cześć Zoë"
    assert "Witaj, Zofia!" in received["zofia@example.pl"][0].message.get_body(("html",)).get_content()


def test_send_sends_every_real_world_file_form(tmp_path, smtp_sink):
    from tests.campaigns.test_real_files import HTML, REAL_FILES, SUBJECT

    template = tmp_path / "offer.html"
    template.write_text(HTML)
    env = cli_env(tmp_path, "", EMAILPLATFORM_TRANSPORT="smtp", EMAILPLATFORM_SMTP_URL=smtp_sink.url)
    cases = list(REAL_FILES.values())
    for number, real in enumerate(cases):
        path = tmp_path / f"{number}-{real.filename}"
        path.write_bytes(real.content)
        columns = [f"--column={placeholder}={name}" for placeholder, name in (real.explicit or {}).items()]
        result = run_cli(
            [
                "send",
                "--template",
                str(template),
                "--subject",
                SUBJECT,
                "--recipients",
                str(path),
                "--from",
                "t@example.com",
                *columns,
            ],
            env,
        )
        assert result.returncode == 0, result.stderr
        assert "3 recipients, 0 invalid rows, 0 duplicate rows" in " ".join(result.stderr.split()), result.stderr
    received = smtp_sink.by_recipient()
    for real in cases:
        for address, first_name, company in real.people:
            mail = next(
                m.message
                for m in received[address]
                if company.replace("&", "&amp;") in m.message.get_body(("html",)).get_content()
            )
            assert mail["Subject"] == f"Hello {first_name}"


def test_send_refuses_a_column_that_is_not_placeholder_equals_column(tmp_path):
    (tmp_path / "t.html").write_text("<p>Hi {{ first_name }}</p>")
    (tmp_path / "people.csv").write_text("email,Vorname\nada@example.com,Ada\n")
    args = ["send", "--template", str(tmp_path / "t.html"), "--subject", "Hi", "--recipients"]

    result = run_cli(
        [*args, str(tmp_path / "people.csv"), "--from", "t@example.com", "--column", "Vorname"], cli_env(tmp_path, "")
    )

    assert result.returncode == 2
    said = " ".join(result.stderr.split())
    assert "--column" in said and "'Vorname' is not placeholder=column" in said, result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was set up


def test_tenants_and_api_keys(tmp_path, postgres_url):
    env = cli_env(tmp_path, postgres_url)
    name = f"acme-{time.time_ns()}"
    assert run_cli(["tenants", "create", name], env).returncode == 0
    result = run_cli(["api-keys", "create", "--tenant", name], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("ep_")
    missing = run_cli(["api-keys", "create", "--tenant", "no-such-tenant"], env)
    assert missing.returncode != 0 and "no tenant named" in missing.stderr


def test_serve_creates_the_default_tenant_and_prints_its_key_once(tmp_path):
    port = free_port()
    env = cli_env(tmp_path, "")
    server = subprocess.Popen(
        EMAILPLATFORM + ["serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        key = server.stdout.readline().strip()
        assert key.startswith("ep_")
        response = _when_it_answers(f"http://127.0.0.1:{port}/api/v1/email/campaigns", key)
        assert response.status_code == 200 and response.json()["items"] == []
    finally:
        server.terminate()
        server.wait(30)
    again = subprocess.Popen(
        EMAILPLATFORM + ["serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # it answers only once past the step that would print a key
        assert _when_it_answers(f"http://127.0.0.1:{port}/api/v1/email/campaigns", key).status_code == 200
    finally:
        again.terminate()
        out, _ = again.communicate(timeout=30)
    assert "ep_" not in out


def _when_it_answers(url: str, key: str) -> httpx.Response:
    for _ in range(300):
        try:
            return httpx.get(url, headers={"X-API-Key": key})
        except httpx.ConnectError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered at {url} within 30 s")


def test_serve_on_another_port_links_there_and_runs_without_its_bounce_port(tmp_path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = cli_env(tmp_path, "", EMAILPLATFORM_INBOUND_PORT=str(taken.getsockname()[1]))
        server = subprocess.Popen(
            EMAILPLATFORM + ["serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            key = server.stdout.readline().strip()
            for _ in range(300):
                try:
                    upload = httpx.post(
                        f"http://127.0.0.1:{port}/api/v1/files/upload-url",
                        json={"filename": "a.csv"},
                        headers={"X-API-Key": key},
                    )
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            assert upload.status_code == 201
            assert upload.json()["upload_url"].startswith(f"http://127.0.0.1:{port}/uploads/")
        finally:
            server.terminate()
            _, err = server.communicate(timeout=30)
    assert "Bounces are not received" in err


def test_version(tmp_path):
    from emailplatform import __version__

    result = run_cli(["--version"], cli_env(tmp_path, ""))
    assert result.returncode == 0 and result.stdout.strip() == f"emailplatform {__version__}"


def test_send_with_test_to_sends_only_the_tests(tmp_path, smtp_sink):
    template = tmp_path / "welcome.html"
    template.write_text("<h1>Welcome, {{ name }}!</h1>")
    recipients = tmp_path / "people.csv"
    recipients.write_text("email,name\nada@example.com,Ada\ngrace@example.com,Grace\n")
    env = cli_env(tmp_path, "", EMAILPLATFORM_TRANSPORT="smtp", EMAILPLATFORM_SMTP_URL=smtp_sink.url)

    result = run_cli(
        [
            "send",
            "--template",
            str(template),
            "--subject",
            "Hello {{ name }}",
            "--recipients",
            str(recipients),
            "--from",
            "team@example.com",
            "--test-to",
            "me@seed.example.com",
            "--test-to",
            "boss@seed.example.com",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "no campaign was created" in result.stderr
    subjects = {to: mails[0].message["Subject"] for to, mails in smtp_sink.by_recipient().items()}
    assert subjects == {"me@seed.example.com": "[TEST] Hello Ada", "boss@seed.example.com": "[TEST] Hello Grace"}
