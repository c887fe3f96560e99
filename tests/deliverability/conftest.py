"""Real servers for the deliverability check: Debian's spamd (started once per test session: loading its rules takes
seconds), a DNS server, and an HTTP server whose pages the links of the messages point to."""

import asyncio
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emailplatform.assembly import build_runtime
from emailplatform.deliverability import spamd
from tests.conftest import free_port
from tests.domains.conftest import client, dns_server, domain_settings  # noqa: F401 (fixtures)

SPAMD_START_SECONDS = 90
PROBE = b"From: probe@example.com\r\nTo: probe@example.com\r\nSubject: probe\r\n\r\nIs spamd up?\r\n"


@pytest.fixture(scope="session")
def spamd_address(tmp_path_factory):
    binary = shutil.which("spamd") or shutil.which("/usr/sbin/spamd")
    if binary is None:
        pytest.fail("spamd is missing: apt-get install spamd (scripts/test.sh does it when run as root)")
    address = f"127.0.0.1:{free_port()}"
    log = tmp_path_factory.mktemp("spamd") / "spamd.log"
    process = subprocess.Popen(
        [
            binary,
            f"--listen={address}",
            "--allowed-ips=127.0.0.1",
            "--min-children=1",
            "--max-children=2",
            "--local",
            "--nouser-config",
            f"--syslog={log}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_spamd(process, address, log)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for_spamd(process: subprocess.Popen, address: str, log) -> None:
    """Until spamd scores a message (its first child loads the rules), SPAMD_START_SECONDS at most."""
    deadline = time.monotonic() + SPAMD_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"spamd exited with {process.returncode}: {log.read_text() if log.exists() else ''}")
        try:
            asyncio.run(spamd.report(address, PROBE, timeout=30))
            return
        except spamd.SpamdUnavailable:
            time.sleep(0.2)
    pytest.fail(f"spamd did not score a message within {SPAMD_START_SECONDS} s")


class Pages(BaseHTTPRequestHandler):
    """/ok answers 200, /gone 404, /moved redirects to /ok and /inward to localhost, /no-head refuses HEAD but
    serves GET."""

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/ok")
        elif self.path == "/inward":  # to the same server by a name webhook_allowed_hosts does not allow
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/ok")
        elif self.path == "/no-head" and head:
            self.send_response(405)
        elif self.path in ("/ok", "/no-head", "/logo.png"):
            self.send_response(200)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def pages():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def runtime(database_url, tmp_path, dns_server, spamd_address):
    """The domains tests' runtime, whose spam scores come from the session's spamd, and links on loopback may be
    checked."""
    settings = domain_settings(
        database_url,
        tmp_path / "data",
        dns_server,
        spamd_address=spamd_address,
        webhook_allowed_hosts=["127.0.0.1"],
        tracking_url="https://links.platform.test",
    )
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()
