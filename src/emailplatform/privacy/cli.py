"""`emailplatform recipients …`: one person's data, exported or erased, from the server's shell."""

import json
from typing import Annotated

import typer
from pydantic import TypeAdapter
from rich.console import Console

from emailplatform import audit_trail as audit
from emailplatform.address_hashing import address_hash
from emailplatform.assembly import build_runtime
from emailplatform.config import get_settings
from emailplatform.errors import AppError
from emailplatform.privacy import service
from emailplatform.privacy.schemas import RecipientExport
from emailplatform.tenants import service as tenant_service

app = typer.Typer(help="One recipient's data in a tenant: export or erase it.", no_args_is_help=True)
console = Console(stderr=True)
TenantOption = Annotated[str, typer.Option(help="The tenant's name.")]


@app.callback()
def recipients() -> None:
    """One recipient's data in a tenant: export or erase it."""


@app.command("export")
def export(email: str, tenant: TenantOption):
    """Print, as JSON, everything the tenant keeps about the address (as GET /api/v1/recipients/{email}/export)."""
    runtime = build_runtime(get_settings())
    try:
        with runtime.db.session(write=False) as session:
            found = tenant_service.get_tenant_by_name(session, tenant)
            data = RecipientExport.model_validate(service.export(runtime.storage, session, found.id, email))
    except AppError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    print(json.dumps(TypeAdapter(RecipientExport).dump_python(data, mode="json"), indent=2, ensure_ascii=False))


@app.command("erase")
def erase(email: str, tenant: TenantOption):
    """Erase the address from the tenant's data (as DELETE /api/v1/recipients/{email}), recorded in the audit
    log; print what was removed, as JSON."""
    runtime = build_runtime(get_settings())
    try:
        with runtime.db.session() as session:
            found = tenant_service.get_tenant_by_name(session, tenant)
            erased = service.erase(runtime.storage, session, found.id, email)
            audit.record(
                session,
                audit.cli_actor(found.id),
                "erase_recipient",
                object_type="recipients",
                object_id=address_hash(found.id, email),
                details={"erased": erased.as_dict()},
            )
    except AppError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    print(json.dumps(erased.as_dict()))
