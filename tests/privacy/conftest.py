"""The webhook receiver of the webhook tests, for the erasure's webhook logs."""

from tests.webhooks.conftest import receiver, runtime  # noqa: F401
