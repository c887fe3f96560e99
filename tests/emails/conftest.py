"""Fixtures of the transactional email tests: a deployment that sends to the SMTP sink and allows the loopback
webhook receiver (the webhook tests' own)."""

import pytest

from tests.webhooks.conftest import receiver  # noqa: F401  (a fixture, used by name)


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    runtime.settings.webhook_allowed_hosts = ["127.0.0.1"]
    return runtime
