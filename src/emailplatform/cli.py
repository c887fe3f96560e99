"""The `emailplatform` command: serve, worker, migrate, tenants, api-keys, recipients, send, settings."""

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from emailplatform import __version__, http_server
from emailplatform import audit_trail as audit
from emailplatform.config import Settings, get_settings
from emailplatform.emails.submission import describe as describe_submission
from emailplatform.encryption.cli import app as master_keys_app
from emailplatform.events.cli import bounces_app
from emailplatform.logs import configure_logging
from emailplatform.metrics.cli import alerts
from emailplatform.privacy.cli import app as recipients_app
from emailplatform.runtime import Runtime
from emailplatform.users.cli import app as users_app

app = typer.Typer(help="A self-hostable email platform for B2B senders.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants: each has its own templates, campaigns and API keys.")
keys_app = typer.Typer(help="API keys of a tenant.")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="api-keys")
app.add_typer(bounces_app, name="bounces")
app.add_typer(users_app, name="users")
app.add_typer(master_keys_app, name="keys")
app.add_typer(recipients_app, name="recipients")
app.command("alerts")(alerts)
console = Console(stderr=True)
ProcessesOption = Annotated[
    int | None,
    typer.Option(
        "--processes",
        min=1,
        help="Worker processes, each restarted if it dies. Default: EMAILPLATFORM_WORKER_PROCESSES, or one per core.",
    ),
]


def _print_version(value: bool) -> None:
    if value:
        print(f"emailplatform {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    """A self-hostable email platform for B2B senders."""


def _runtime(quiet: bool = False) -> Runtime:
    """The parts, built once a command needs them; `quiet`: warnings and errors only in the log, unless
    EMAILPLATFORM_LOG_LEVEL says (a command's own output, not the request lines of the server it embeds)."""
    from emailplatform.assembly import build_runtime  # the parts' packages are heavy to import: only when used

    settings = get_settings()
    if quiet and "log_level" not in settings.model_fields_set:
        settings.log_level = "WARNING"
    configure_logging(settings)
    return build_runtime(settings)


def _migrate(runtime: Runtime) -> None:
    from emailplatform.migrations import upgrade

    runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(runtime.settings.resolved_database_url)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve the API alone; run workers apart.")] = False,
    processes: ProcessesOption = None,
    api_workers: Annotated[
        int | None,
        typer.Option(
            "--api-workers", min=1, help="API processes on one port. Default: EMAILPLATFORM_API_WORKERS, or 1."
        ),
    ] = None,
):
    """Run the API and, unless --no-worker, worker processes (the scheduler is one of their jobs) and the bounce
    listener."""
    from emailplatform.app import create_app
    from emailplatform.emails.submission import start_listeners
    from emailplatform.events.inbound import start_listener
    from emailplatform.tenants import service as tenant_service
    from emailplatform.users.service import ensure_first_user

    runtime = _runtime()
    scheme = "https" if runtime.settings.tls_cert_file else "http"
    if "public_url" not in runtime.settings.model_fields_set:  # links and upload URLs point where we listen
        runtime.settings.public_url = f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    _migrate(runtime)
    with runtime.db.session() as session:
        key = tenant_service.ensure_default_tenant(session)
    if key:
        console.print("[bold]Created the tenant 'default'.[/] Its API key, shown this once:")
        print(key, flush=True)
    first = ensure_first_user(runtime)
    if first:
        console.print(
            f"Sign in at {runtime.settings.public_url}/ as workspace 'default', {first[0]}, with the password (shown "
            "this once):"
        )
        print(first[1], flush=True)
    console.print(
        f"emailplatform on {scheme}://{host}:{port} (database: {runtime.db.dialect}, transport: "
        f"{runtime.settings.transport})"
    )
    listener = None if no_worker else _start_bounce_listener(runtime, start_listener)
    submission_listeners = _start_submission(runtime, start_listeners) if runtime.settings.submission_enabled else []
    try:
        workers = 0 if no_worker else _worker_processes(runtime.settings, processes)
        os.environ["EMAILPLATFORM_PUBLIC_URL"] = runtime.settings.public_url  # the other processes' links too
        count = _api_workers(runtime, api_workers)
        if count == 1:
            uvicorn.run(
                create_app(runtime, worker_processes=workers),
                host=host,
                port=port,
                log_level="warning",
                **http_server.uvicorn_options(runtime.settings),
            )
        else:
            _serve_api_processes(runtime.settings, count, workers, host, port)
    finally:
        if listener:
            listener.stop()
        for submission_listener in submission_listeners:
            submission_listener.stop()


def _api_workers(runtime: Runtime, requested: int | None) -> int:
    return (requested if requested is not None else runtime.settings.api_workers) or 1


# uvicorn kills an API process that does not answer its ping in time, starting up too: 5 s, its default, is less
# than a start-up takes on a busy machine, where the processes were killed and started again without end.
API_PROCESS_HEALTHCHECK_SECONDS = 60


def _serve_api_processes(settings: Settings, count: int, worker_processes: int, host: str, port: int) -> None:
    """`count` API processes under uvicorn's supervisor, each building its app from the environment; the worker
    processes are this process's, started once for all of them, and their status is published to the others."""
    from emailplatform.job_kinds import supervised_workers
    from emailplatform.jobs.processes import STATUS_ENV

    status_path = settings.data_dir / f"worker-status-{os.getpid()}.json"
    supervisor = supervised_workers(worker_processes, settings, status_path) if worker_processes else None
    if supervisor:
        os.environ[STATUS_ENV] = str(status_path)
        supervisor.start()
    try:
        uvicorn.run(
            "emailplatform.app:create_app_from_env",
            factory=True,
            workers=count,
            host=host,
            port=port,
            log_level="warning",
            timeout_worker_healthcheck=API_PROCESS_HEALTHCHECK_SECONDS,
            **http_server.uvicorn_options(settings),
        )
    finally:
        if supervisor:
            supervisor.stop()
            status_path.unlink(missing_ok=True)


def _start_bounce_listener(runtime: Runtime, start_listener):
    settings = runtime.settings
    try:
        listener = start_listener(runtime)
    except OSError as exc:
        console.print(f"[yellow]Bounces are not received: {exc}. Set EMAILPLATFORM_INBOUND_PORT to a free port.[/]")
        return None
    console.print(f"Bounces are received by SMTP on {settings.inbound_host}:{settings.inbound_port}")
    return listener


def _start_submission(runtime: Runtime, start_listeners) -> list:
    """The SMTP submission listeners; `serve` goes on without them (saying why) when they cannot start."""
    try:
        listeners = start_listeners(runtime)
    except (RuntimeError, OSError) as exc:
        console.print(f"[yellow]SMTP submission is off: {exc}[/]")
        return []
    console.print(f"SMTP submission on {describe_submission(runtime.settings)}")
    return listeners


@app.command()
def worker(processes: ProcessesOption = None):
    """Run workers only: they take jobs (splitting files, sending batches, scheduled sends) from the database.
    With one process it runs in this one; with more, this one supervises them."""
    from emailplatform.job_kinds import run_worker_process, supervised_workers

    settings = get_settings()
    count = _worker_processes(settings, processes)
    if count == 1:
        run_worker_process()
        return
    configure_logging(settings)
    supervisor = supervised_workers(count, settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    supervisor.start()
    while not stop.wait(1):
        pass
    supervisor.stop()


def _worker_processes(settings: Settings, requested: int | None) -> int:
    count = requested if requested is not None else settings.worker_processes
    return count or os.cpu_count() or 1


@app.command()
def inbound():
    """Run the inbound SMTP listener alone: it receives bounces and marks their messages BOUNCED."""
    from emailplatform.events.inbound import start_listener

    runtime = _runtime()
    settings = runtime.settings
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


@app.command()
def submission():
    """Run the SMTP submission listener alone (whether or not EMAILPLATFORM_SUBMISSION_ENABLED is set): applications
    send mail by SMTP with an API key as the password, and it goes out as transactional email."""
    from emailplatform.emails.submission import NotConfigured, start_listeners

    runtime = _runtime()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        listeners = start_listeners(runtime)
    except (NotConfigured, OSError) as exc:
        console.print(f"[red]SMTP submission cannot start: {exc}[/]")
        runtime.close()
        raise SystemExit(1) from None
    console.print(f"SMTP submission on {describe_submission(runtime.settings)}")
    try:
        stop.wait()
    finally:
        for listener in listeners:
            listener.stop()
        runtime.close()


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
        audit.record(
            session, audit.cli_actor(tenant.id), "create_tenant", object_type="tenants", object_id=str(tenant.id)
        )
        print(tenant.id)


@tenants_app.command("throttle")
def tenants_throttle(
    name: str,
    per_second: Annotated[int | None, typer.Option(min=0, help="Messages a second (0: no limit).")] = None,
    per_day: Annotated[int | None, typer.Option(min=0, help="Messages a UTC day (0: no limit).")] = None,
):
    """Set a tenant's sending throttles; one left out follows its setting (EMAILPLATFORM_THROTTLE_TENANT_*)."""
    from emailplatform.tenants import service

    runtime = _runtime()
    with runtime.db.session() as session:
        service.set_throttles(session, name, per_second, per_day)
    shown = {"a second": per_second, "a day": per_day}
    console.print(
        f"{name} sends "
        + ", ".join(f"{'as the setting says' if v is None else v or 'no limit'} {what}" for what, v in shown.items())
    )


@keys_app.command("create")
def api_keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant's name.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "default",
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests a minute the key may make; default: the setting.")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="What the key may do (repeat it for more): full, read, send, <area>:read|write. Default: full."
        ),
    ] = None,
    certificate: Annotated[
        str | None, typer.Option(help="A client certificate that acts as the key: sha256:<fingerprint> or its subject.")
    ] = None,
):
    """Create an API key; the key is printed alone on the last line, and shown only this once."""
    from emailplatform.tenants import service

    runtime = _runtime()
    with runtime.db.session() as session:
        found = service.get_tenant_by_name(session, tenant)
        key, plain = service.create_api_key(session, found.id, name, rate_limit, scope, certificate)
        audit.record(
            session, audit.cli_actor(found.id), "create_api_key", object_type="api-keys", object_id=str(key.id)
        )
    console.print(f"A new API key for {tenant!r}; keep it, it is not shown again:")
    print(plain)


@app.command()
def send(
    template: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="The template's HTML file.")],
    subject: Annotated[str, typer.Option(help="The subject line (placeholders allowed).")],
    recipients: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="The recipients: a CSV or .xlsx with an 'email' column.")
    ],
    sender: Annotated[str, typer.Option("--from", help="From address: 'a@b.com' or 'Name <a@b.com>'.")],
    send_at: Annotated[str | None, typer.Option(help="ISO 8601 time with zone to send at; default now.")] = None,
    server: Annotated[str | None, typer.Option(help="URL of a running server; default: run one embedded.")] = None,
    api_key: Annotated[str | None, typer.Option(help="API key for --server.", envvar="EMAILPLATFORM_API_KEY")] = None,
    test_to: Annotated[
        list[str] | None,
        typer.Option(
            help="Send only a test to this seed address (repeat it, up to 10), with the first rows' data; no campaign.",
        ),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            help="Which of the file's columns fills a placeholder, as placeholder=column: 'first_name=Vorname', "
            "'email=Work E-Mail' (repeat it); default: the columns of the same names.",
        ),
    ] = None,
):
    """Send a campaign: upload the template and the CSV, create the campaign, and follow it to the end; with
    --test-to, only a test to those addresses."""
    from emailplatform import send_command

    if server and not api_key:
        raise typer.BadParameter("--server needs --api-key (or EMAILPLATFORM_API_KEY)", param_hint="--api-key")
    columns = _placeholder_columns(column or [])
    request = send_command.SendRequest(template, subject, recipients, sender, send_at, test_to or [], columns)
    if server and api_key:
        code = send_command.run_remote(request, server, api_key, console)
    else:
        runtime = _runtime(quiet=True)
        _migrate(runtime)
        code = send_command.run_embedded(request, runtime, console)
    raise typer.Exit(code)


def _placeholder_columns(pairs: list[str]) -> dict[str, str]:
    columns = {}
    for pair in pairs:
        placeholder, _, name = pair.partition("=")
        if not placeholder.strip() or not name.strip():
            raise typer.BadParameter(
                f"{pair!r} is not placeholder=column, e.g. first_name=Vorname", param_hint="--column"
            )
        columns[placeholder.strip()] = name.strip()
    return columns


@app.command()
def backup(dest: Annotated[Path, typer.Argument(help="The archive to write (a new .tar.gz).")]):
    """Back up the embedded deployment while it runs: the SQLite database (online), stored files and secret key."""
    from emailplatform.backup import service

    settings = get_settings()
    with _progress() as progress:
        try:
            summary = service.backup(settings, dest, progress)
        except service.BackupError as exc:
            console.print(f"[red]No backup:[/] {exc}")
            raise typer.Exit(1) from None
    console.print(
        f"Backed up to {dest}: the database ({summary.database_bytes:,} bytes) and {summary.files:,} files "
        f"({summary.files_bytes:,} bytes). It holds the secret key: keep it as safe as the data dir."
    )


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An archive of `emailplatform backup`.")],
):
    """Restore a backup into EMAILPLATFORM_DATA_DIR, which must hold no database yet; then start `serve` on it."""
    from emailplatform.backup import service

    settings = get_settings()
    with _progress() as progress:
        try:
            summary = service.restore(settings, src, progress)
        except service.BackupError as exc:
            console.print(f"[red]Not restored:[/] {exc}")
            raise typer.Exit(1) from None
    console.print(
        f"Restored {src} into {settings.data_dir}: the database and {summary.files:,} files. "
        "`emailplatform serve` (or `migrate`) brings its tables up to this version."
    )


@contextmanager
def _progress():
    """A Rich progress bar a part (the database's pages, the files' bytes) for backup and restore."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from emailplatform.backup.service import Progress as Reported

    columns = (TextColumn("{task.description:<9}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks = {}

        def start(name: str, total: int) -> None:
            tasks[name] = bar.add_task(name, total=total or 1, completed=0 if total else 1)

        yield Reported(start=start, advance=lambda name, amount: bar.advance(tasks[name], amount))


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
