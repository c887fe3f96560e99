"""Commands of the events domain: `bounces parse` (what the platform reads from a bounce) and
`inbound` (the bounce listener alone)."""

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emailplatform.config import get_settings
from emailplatform.events import bounces
from emailplatform.logs import configure_logging
from emailplatform.runtime import Runtime

bounces_app = typer.Typer(help="Bounce messages: what the platform reads from them.", no_args_is_help=True)
console = Console(stderr=True)


@bounces_app.callback()
def bounces_group():
    """Bounce messages: what the platform reads from them."""


@bounces_app.command("parse")
def parse_files(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Bounce messages (.eml).")],
):
    """Print, as one JSON object per file, what the mail is (a bounce, a delay or delivery notice, a
    feedback report, an auto-reply or challenge-response, or none of these) and each recipient it names,
    with the DSN action, status code (x.y.z), SMTP reply code, diagnostic, reason (one of the README's
    taxonomy) and whether the bounce is hard (the address itself is bad)."""
    for path in files:
        report = bounces.parse(path.read_bytes())
        print(json.dumps({"file": str(path)} | report.to_dict(), ensure_ascii=False), flush=True)


def inbound():
    """Run the inbound SMTP listener alone: it receives bounces and marks their messages BOUNCED."""
    from emailplatform.events.inbound import start_listener

    settings = get_settings()
    configure_logging(settings)
    runtime = Runtime(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    controller = start_listener(runtime)
    console.print(f"Receiving bounces on {settings.inbound_host}:{settings.inbound_port}")
    try:
        stop.wait()
    finally:
        controller.stop()
        runtime.close()
