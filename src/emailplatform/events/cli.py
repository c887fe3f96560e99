"""Commands of the events domain: `bounces parse` (what the platform reads from a bounce)."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emailplatform.events import bounces

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
