"""`emailplatform send`: a whole campaign from the command line, through the public API."""

import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

import httpx
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from emailplatform.campaigns import recipients
from emailplatform.config import Settings
from emailplatform.runtime import Runtime

FINAL = {"SENT", "COMPLETED", "FAILED", "CANCELLED", "SCHEDULED"}
UPLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class SendRequest:
    template: Path
    subject: str
    recipients: Path
    sender: str
    send_at: str | None
    test_to: list[str] = field(default_factory=list)  # seed addresses: a test send only, no campaign
    columns: dict[str, str] = field(default_factory=dict)  # placeholder (or `email`) -> the file's column


class ApiError(Exception):
    pass


def run_remote(request: SendRequest, server: str, api_key: str, console: Console) -> int:
    with httpx.Client(base_url=server.rstrip("/"), headers={"X-API-Key": api_key}, timeout=60) as client:
        try:
            return _run(client, request, console)
        except ApiError as exc:
            console.print(f"[red]{exc}[/]")
            return 1
        except httpx.HTTPError as exc:
            console.print(f"[red]Cannot reach {server}: {exc}[/]")
            return 1


def run_embedded(request: SendRequest, runtime: Runtime, console: Console) -> int:
    """Serve the API and a worker in this process on a free loopback port, send through it, then stop."""
    from emailplatform.app import create_app
    from emailplatform.tenants import service as tenant_service

    port = _free_port()
    _links_outlive_the_command(runtime.settings, console)
    runtime.settings.public_url = f"http://127.0.0.1:{port}"  # the command's own API, which its uploads go to
    with runtime.db.session() as session:
        tenant_service.ensure_default_tenant(session)
        key, plain = tenant_service.create_api_key(
            session, tenant_service.get_tenant_by_name(session, "default").id, "emailplatform send"
        )
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime, with_worker=True), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        return run_remote(request, runtime.settings.public_url, plain, console)
    finally:
        server.should_exit = True
        thread.join(30)
        with runtime.db.session() as session:
            tenant_service.revoke_api_key(session, key.tenant_id, key.id)


def _run(client: httpx.Client, request: SendRequest, console: Console) -> int:
    name, address = parseaddr(request.sender)
    if "@" not in address:
        raise ApiError(f"--from: {request.sender!r} is not an email address")
    template = _call(
        client,
        "POST",
        "/api/v1/templates",
        json={
            "name": request.template.stem,
            "subject": request.subject,
            "html": request.template.read_text("utf-8"),
        },
    )
    console.print(
        f"Template {template['template_id']} v{template['version']}, placeholders: "
        f"{', '.join(template['placeholders']) or 'none'}"
    )
    file_url = _upload(client, request.recipients, console)
    columns = {"columns": request.columns} if request.columns else {}
    check = _call(
        client,
        "POST",
        "/api/v1/email/campaigns/check",
        json={"template_id": template["template_id"], "csv_file_url": file_url} | columns,
    )
    rows = check["total_messages"] + check["invalid_rows"] + check["duplicate_rows"]
    console.print(
        f"{request.recipients.name}: read as {recipients.describe(recipients.Layout.from_dict(check['layout']))};"
        f" {check['total_messages']} recipients, {check['invalid_rows']} invalid rows, {check['duplicate_rows']} "
        "duplicate rows"
    )
    _print_bad_rows(check, console)
    body = {
        "template_id": template["template_id"],
        "csv_file_url": file_url,
        "from": {"email": address, "name": name or None},
    } | columns
    if request.test_to:
        return _test_send(client, body, request.test_to, console)
    if request.send_at:
        body["schedule"] = {"send_at": request.send_at}
    accepted = _call(
        client, "POST", "/api/v1/email/campaigns", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    campaign = _follow(client, accepted["transaction_id"], rows, console)
    _print_summary(campaign, console)
    return 0 if campaign["status"] in ("SENT", "COMPLETED", "SCHEDULED") else 1


def _print_bad_rows(check: dict, console: Console) -> None:
    """The rows the campaign skips, as the check names them (its first ones), so they can be fixed in the file."""
    for bad in check["bad_rows"]:
        console.print(f"  row {bad['row_number']}: {escape(bad['reason'])}", highlight=False)
    more = check["invalid_rows"] + check["duplicate_rows"] - len(check["bad_rows"])
    if more > 0:
        console.print(f"  and {more} more skipped rows (the campaign's /errors lists them all)")


def _test_send(client: httpx.Client, body: dict, seeds: list[str], console: Console) -> int:
    """The campaign `body` would start, sent only to the seed addresses as a test; 0 when each was accepted."""
    answer = _call(client, "POST", "/api/v1/email/campaigns/test", json=body | {"to": seeds})
    for result in answer["results"]:
        row = f"row {result['row_number']}" if result["row_number"] else "given data"
        console.print(f"Test to {result['to']} ({row}): {result['status']}, {result['response'] or ''}".rstrip(", "))
    console.print(f"{answer['sent']} of {len(answer['results'])} test messages sent; no campaign was created.")
    return 0 if answer["sent"] == len(answer["results"]) else 1


def _upload(client: httpx.Client, path: Path, console: Console) -> str:
    upload = _call(client, "POST", "/api/v1/files/upload-url", json={"filename": path.name})
    size = path.stat().st_size
    with _progress(console) as progress, path.open("rb") as stream:
        task = progress.add_task("Uploading recipients", total=size)

        def chunks():
            while chunk := stream.read(UPLOAD_CHUNK):
                progress.advance(task, len(chunk))
                yield chunk

        response = httpx.put(upload["upload_url"], content=chunks(), headers={"Content-Length": str(size)}, timeout=300)
    if response.status_code >= 400:
        raise ApiError(f"upload refused: {_reason(response)}")
    return upload["file_url"]


def _follow(client: httpx.Client, transaction_id: str, rows: int, console: Console) -> dict:
    with _progress(console) as progress:
        split = progress.add_task("Splitting into batches", total=rows)
        sending = progress.add_task("Sending", total=None, visible=False)
        while True:
            campaign = _call(client, "GET", f"/api/v1/email/campaigns/{transaction_id}")
            summary = campaign["summary"]
            progress.update(
                split, completed=campaign["total_messages"] + campaign["invalid_rows"] + campaign["duplicate_rows"]
            )
            if campaign["status"] not in ("ACCEPT", "PROCESSING"):
                progress.update(split, completed=rows)
                done = summary["total_messages"] - summary["pending"]
                progress.update(sending, total=summary["total_messages"], completed=done, visible=True)
            if campaign["status"] in FINAL:
                return campaign
            time.sleep(0.5)


def _print_summary(campaign: dict, console: Console) -> None:
    summary = campaign["summary"]
    table = Table(title=f"Campaign {campaign['transaction_id']}: {campaign['status']}")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, value in [
        ("recipients", summary["total_messages"]),
        ("sent", summary["sent"]),
        ("failed", summary["failed"]),
        ("invalid rows", campaign["invalid_rows"]),
        ("duplicate rows", campaign["duplicate_rows"]),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    if campaign["status_reason"]:
        console.print(campaign["status_reason"])
    if campaign["invalid_rows"] or campaign["duplicate_rows"]:
        console.print(f"The rows skipped and why: GET /api/v1/email/campaigns/{campaign['transaction_id']}/errors")


def _call(client: httpx.Client, method: str, path: str, **kwargs) -> dict:
    response = client.request(method, path, **kwargs)
    if response.status_code >= 400:
        raise ApiError(f"{method} {path}: {_reason(response)}")
    return response.json()


def _reason(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error.get('field') or ''}: {error['message']}".lstrip(": ")
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _links_outlive_the_command(settings: Settings, console: Console) -> None:
    """The messages' open, click and unsubscribe links go to the public URL the user set (where their `serve`
    answers), not to this command's port, which closes when it ends; without one, real mail is warned about."""
    if not settings.tracking_url and "public_url" in settings.model_fields_set:
        settings.tracking_url = settings.public_url
    elif not settings.tracking_url and settings.transport != "capture":
        console.print(
            "[yellow]EMAILPLATFORM_PUBLIC_URL is not set: the unsubscribe, open and click links of these messages "
            "point to this command's own port and stop working when it ends. Set it to where `emailplatform serve` "
            "answers.[/]"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
