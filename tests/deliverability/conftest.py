"""Real servers for the deliverability check: Debian's spamd (started once per test session: loading its rules takes
seconds), a DNS server, and an HTTP server whose pages the links of the messages point to."""

import asyncio
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.deliverability import spamd
from tests.conftest import PUBLIC_URL, free_port, make_settings
from tests.domains.conftest import BOUNCE_DOMAIN, SPF_INCLUDE
from tests.domains.dns_server import LoopbackDns

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
def dns_server():
    server = LoopbackDns()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def runtime(database_url, tmp_path, dns_server, spamd_address):
    """DNS questions go to the test's DNS server, spam scores come from the session's spamd, and links on loopback
    may be checked."""
    runtime = build_runtime(
        make_settings(
            database_url,
            tmp_path / "data",
            bounce_domain=BOUNCE_DOMAIN,
            dns_nameservers=[dns_server.address],
            spf_include=SPF_INCLUDE,
            spamd_address=spamd_address,
            webhook_allowed_hosts=["127.0.0.1"],
            tracking_url="https://links.platform.test",
        )
    )
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime, tenant, api_traffic):
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = tenant.api_key
        api_traffic.watch(client)
        yield client
