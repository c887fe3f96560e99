"""emailplatform: a self-hostable email platform for B2B senders."""

__version__ = "0.1.0"
