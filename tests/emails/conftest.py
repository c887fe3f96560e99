"""Fixtures of the transactional email tests: a deployment that sends to the SMTP sink and allows the loopback
webhook receiver."""

import threading
from http.server import ThreadingHTTPServer

import pytest

from tests.webhooks.webhook_helpers import Receiver, handler_for


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    runtime.settings.webhook_allowed_hosts = ["127.0.0.1"]
    return runtime


@pytest.fixture
def receiver():
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
