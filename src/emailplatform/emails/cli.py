"""`emailplatform submission`: the SMTP submission listener alone."""

import signal
import threading

from rich.console import Console

from emailplatform.config import get_settings
from emailplatform.logs import configure_logging
from emailplatform.runtime import Runtime

console = Console(stderr=True)


def submission():
    """Run the SMTP submission listener alone (whether or not EMAILPLATFORM_SUBMISSION_ENABLED is set): applications
    send mail by SMTP with an API key as the password, and it goes out as transactional email."""
    from emailplatform.emails.submission import NotConfigured, start_listeners

    settings = get_settings()
    configure_logging(settings)
    runtime = Runtime(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        listeners = start_listeners(runtime)
    except (NotConfigured, OSError) as exc:
        console.print(f"[red]SMTP submission cannot start: {exc}[/]")
        runtime.close()
        raise SystemExit(1) from None
    console.print(f"SMTP submission on {describe(settings)}")
    try:
        stop.wait()
    finally:
        for listener in listeners:
            listener.stop()
        runtime.close()


def describe(settings) -> str:
    ports = [f"{settings.submission_port} (STARTTLS)"] if settings.submission_port else []
    ports += [f"{settings.submission_tls_port} (TLS)"] if settings.submission_tls_port else []
    return f"{settings.submission_host}, port {' and '.join(ports) or 'none'}"
