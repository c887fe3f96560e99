"""`emailplatform alerts`: the Prometheus alert rules that ship with the package."""

from importlib import resources
from typing import Annotated

import typer

RULES = resources.files("emailplatform.metrics") / "alerts.yml"


def alerts(
    path: Annotated[bool, typer.Option("--path", help="Print where the rules file is, not the rules.")] = False,
):
    """Print the Prometheus alert rules (failed deliveries, bounce and complaint rates, API errors, processing
    delays); load them with `rule_files:` in prometheus.yml."""
    typer.echo(str(RULES) if path else RULES.read_text(), nl=path)
