"""The `emailplatform` command: serve, worker, migrate, tenants, api-keys, send, settings."""

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from emailplatform.config import Settings, get_settings
from emailplatform.events.cli import bounces_app, inbound
from emailplatform.logs import configure_logging
from emailplatform.metrics.cli import alerts
from emailplatform.runtime import Runtime
from emailplatform.users.cli import app as users_app

app = typer.Typer(help="A self-hostable email platform for B2B senders.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants: each has its own templates, campaigns and API keys.")
keys_app = typer.Typer(help="API keys of a tenant.")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="api-keys")
app.add_typer(bounces_app, name="bounces")
app.add_typer(users_app, name="users")
app.command("inbound")(inbound)
app.command("alerts")(alerts)
console = Console(stderr=True)


def _runtime() -> Runtime:
    settings = get_settings()
    configure_logging(settings)
    return Runtime(settings)


def _migrate(runtime: Runtime) -> None:
    from emailplatform.migrations import upgrade

    runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(runtime.settings.resolved_database_url)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve the API alone; run workers apart.")] = False,
):
    """Run the API, and (unless --no-worker) a worker, the scheduler and the bounce listener, in this one process."""
    from emailplatform.app import create_app
    from emailplatform.events.inbound import start_listener
    from emailplatform.tenants import service as tenant_service
    from emailplatform.users.service import ensure_first_user

    runtime = _runtime()
    if "public_url" not in runtime.settings.model_fields_set:  # links and upload URLs point where we listen
        runtime.settings.public_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    _migrate(runtime)
    with runtime.db.session() as session:
        key = tenant_service.ensure_default_tenant(session)
    if key:
        console.print("[bold]Created the tenant 'default'.[/] Its API key, shown this once:")
        print(key, flush=True)
    first = ensure_first_user(runtime)
    if first:
        console.print(f"Sign in at {runtime.settings.public_url}/ as workspace 'default', {first[0]}, with the password (shown this once):")
        print(first[1], flush=True)
    console.print(f"emailplatform on http://{host}:{port} (database: {runtime.db.dialect}, transport: {runtime.settings.transport})")
    listener = None if no_worker else _start_bounce_listener(runtime, start_listener)
    try:
        uvicorn.run(create_app(runtime, with_worker=not no_worker), host=host, port=port, log_level="warning")
    finally:
        if listener:
            listener.stop()


def _start_bounce_listener(runtime: Runtime, start_listener):
    settings = runtime.settings
    try:
        listener = start_listener(runtime)
    except OSError as exc:
        console.print(f"[yellow]Bounces are not received: {exc}. Set EMAILPLATFORM_INBOUND_PORT to a free port.[/]")
        return None
    console.print(f"Bounces are received by SMTP on {settings.inbound_host}:{settings.inbound_port}")
    return listener


@app.command()
def worker():
    """Run a worker only: it takes jobs (splitting files, sending batches, scheduled sends) from the database."""
    from emailplatform.job_kinds import new_worker
    from emailplatform.jobs.worker import run, run_supervised

    runtime = _runtime()

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run_supervised(lambda: new_worker(runtime), stop)
        finally:
            await runtime.aclose()

    run(main())


@app.command()
def migrate():
    """Create or upgrade the database's tables."""
    _migrate(_runtime())
    console.print("The database is up to date.")


@tenants_app.command("create")
def tenants_create(name: str):
    """Create a tenant."""
    from emailplatform.tenants import service

    runtime = _runtime()
    with runtime.db.session() as session:
        tenant = service.create_tenant(session, name)
        print(tenant.id)


@keys_app.command("create")
def api_keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant's name.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "default",
):
    """Create an API key; the key is printed alone on the last line, and shown only this once."""
    from emailplatform.tenants import service

    runtime = _runtime()
    with runtime.db.session() as session:
        found = service.get_tenant_by_name(session, tenant)
        _, plain = service.create_api_key(session, found.id, name)
    console.print(f"A new API key for {tenant!r}; keep it, it is not shown again:")
    print(plain)


@app.command()
def send(
    template: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="The template's HTML file.")],
    subject: Annotated[str, typer.Option(help="The subject line (placeholders allowed).")],
    recipients: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV with an 'email' column.")],
    sender: Annotated[str, typer.Option("--from", help="From address: 'a@b.com' or 'Name <a@b.com>'.")],
    send_at: Annotated[str | None, typer.Option(help="ISO 8601 time with zone to send at; default now.")] = None,
    server: Annotated[str | None, typer.Option(help="URL of a running server; default: run one embedded.")] = None,
    api_key: Annotated[str | None, typer.Option(help="API key for --server.", envvar="EMAILPLATFORM_API_KEY")] = None,
):
    """Send a campaign: upload the template and the CSV, create the campaign, and follow it to the end."""
    from emailplatform import send_command

    if server and not api_key:
        raise typer.BadParameter("--server needs --api-key (or EMAILPLATFORM_API_KEY)", param_hint="--api-key")
    request = send_command.SendRequest(template, subject, recipients, sender, send_at)
    if server:
        code = send_command.run_remote(request, server, api_key, console)
    else:
        runtime = _runtime()
        _migrate(runtime)
        code = send_command.run_embedded(request, runtime, console)
    raise typer.Exit(code)


@app.command("settings")
def settings_table():
    """Print every setting as the README's Markdown table."""
    print("| variable | default | what it does |")
    print("|---|---|---|")
    for name, info in Settings.model_fields.items():
        default = info.default_factory() if info.default_factory else info.default
        default = f"`{default}`" if default not in ("", None, []) else "(empty)"
        print(f"| `EMAILPLATFORM_{name.upper()}` | {default} | {info.description} |")


if __name__ == "__main__":
    app()
