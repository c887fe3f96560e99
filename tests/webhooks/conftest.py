"""Fixtures of the webhook tests: the receiver, and a deployment that allows it."""

import threading
from http.server import ThreadingHTTPServer

import pytest

from tests.webhooks.webhook_helpers import Receiver, handler_for


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


@pytest.fixture
def runtime(runtime):
    """The deployment allows the loopback receiver, as tests and the embedded default need."""
    runtime.settings.webhook_allowed_hosts = ["127.0.0.1"]
    return runtime
