"""`emailplatform keys …`: the master keys of encryption at rest."""

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from emailplatform.assembly import build_runtime
from emailplatform.config import get_settings
from emailplatform.crypto.master_keys import new_key_text
from emailplatform.encryption import service
from emailplatform.storage.encrypted import EncryptedStorage

app = typer.Typer(help="Master keys of encryption at rest.", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def keys() -> None:
    """Master keys of encryption at rest."""


@app.command("new")
def new() -> None:
    """Print a new master key (base64): put it first in EMAILPLATFORM_MASTER_KEYS, then run `keys rotate`."""
    print(new_key_text())


@app.command("rotate")
def rotate() -> None:
    """Rewrap every stored file and secret under the first master key, and encrypt what was stored in the clear.
    Safe while the platform runs; afterwards the other keys can be removed from the settings."""
    runtime = build_runtime(get_settings())
    storage, keys = runtime.storage, runtime.master_keys
    if keys is None or not isinstance(storage, EncryptedStorage):
        console.print("Encryption at rest is turned off (EMAILPLATFORM_ENCRYPT_AT_REST=false): nothing to rotate.")
        raise typer.Exit(1)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} files"))
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("rewrapping stored files", total=None)
        files, secrets = service.rotate(runtime.db, storage, keys, advance=lambda: bar.advance(task))
    runtime.close()
    for name, done in (("Files", files), ("Secrets", secrets)):
        console.print(
            f"{name}: {done.rewrapped} rewrapped, {done.encrypted} encrypted, {done.current} already current,"
            f" {len(done.unreadable)} under no configured key{': ' if done.unreadable else '.'}"
            + ", ".join(done.unreadable[:10])
        )
    if files.unreadable or secrets.unreadable:
        console.print("Keep the old keys until what no configured key opens is found or removed.")
        raise typer.Exit(1)
