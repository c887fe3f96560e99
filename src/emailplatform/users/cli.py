"""`emailplatform users …`: people who sign in to the web UI."""

import secrets
from typing import Annotated

import typer
from rich.console import Console

from emailplatform import audit_trail as audit
from emailplatform.config import get_settings
from emailplatform.db import create_database
from emailplatform.errors import AppError
from emailplatform.models import Role

app = typer.Typer(help="Users of the web UI, per tenant.", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def users() -> None:
    """Users of the web UI, per tenant."""


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="The tenant's name.")],
    email: Annotated[str, typer.Option(help="The address the user signs in with.")],
    role: Annotated[
        Role, typer.Option(help="owner, admin, editor (sends and edits) or viewer (reads only).")
    ] = Role.EDITOR,
    password: Annotated[
        str | None,
        typer.Option(help="The password; default: a random one, printed.", envvar="EMAILPLATFORM_USER_PASSWORD"),
    ] = None,
):
    """Create a user; a random password is printed alone on the last line when none is given."""
    from emailplatform.tenants import service as tenant_service
    from emailplatform.users import service

    settings = get_settings()
    db = create_database(settings)
    chosen = password or secrets.token_urlsafe(12)
    try:
        with db.session() as session:
            found = tenant_service.get_tenant_by_name(session, tenant)
            user = service.create_user(session, found.id, email, chosen, role)
            audit.record(session, audit.cli_actor(found.id), "create_user", object_type="users", object_id=str(user.id))
    except AppError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    console.print(f"Created {user.email} ({user.role}) in {tenant!r}; sign in at {settings.public_url}/")
    if password is None:
        console.print("Its password, shown this once:")
        print(chosen)


if __name__ == "__main__":
    app()
