"""Back up and restore the embedded deployment: its SQLite database, stored files and secret key, in one archive.

The database is copied with SQLite's online backup API while the server runs. The copy holds one read
transaction from its first page to its last, so it is one consistent moment (WAL: writers go on meanwhile, and
the copy never restarts). Files are copied after it: the app writes a file before the row that names it, so
every file the copied database names is in the archive (files newer than the copy come along, unnamed).

A PostgreSQL deployment is backed up with pg_dump or a base backup and WAL archive (the README's recipe)."""

import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from sqlalchemy.engine import make_url

from emailplatform import __version__
from emailplatform.config import Settings

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "emailplatform.db"
SECRET_KEY = "secret_key"
MASTER_KEY = "master_key"  # the generated master key of encryption at rest: without it nothing stored reads
KEY_FILES = (SECRET_KEY, MASTER_KEY)
FILES = "files"
PAGES_A_STEP = 1024  # 4 MiB at SQLite's default page size: a step of the progress bar


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason in words (the command prints it)."""


@dataclass
class Progress:
    """What a backup or restore tells as it goes: `start(name, total)` once a part, then `advance(name, n)`."""

    start: Callable[[str, int], None] = lambda name, total: None
    advance: Callable[[str, int], None] = lambda name, amount: None


@dataclass
class Summary:
    database_bytes: int
    files: int
    files_bytes: int


def sqlite_path(settings: Settings) -> Path:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "emailplatform backup copies the embedded SQLite database; this deployment runs on "
            f"{url.get_backend_name()}: back it up with pg_dump or a base backup and WAL archive (see the README, "
            "Backups)"
        )
    return Path(url.database)


def backup(settings: Settings, dest: Path, progress: Progress = Progress()) -> Summary:
    """Write the archive `dest` (a .tar.gz, readable by its owner only: it holds the secret key)."""
    source = sqlite_path(settings)
    if not source.exists():
        raise BackupError(f"there is no database at {source} to back up (is EMAILPLATFORM_DATA_DIR right?)")
    if dest.exists():
        raise BackupError(f"{dest} exists already; name a new file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".emailplatform-backup-") as tmp:
        copy = Path(tmp) / DATABASE
        _copy_database(source, copy, progress)
        files = list(_stored_files(settings))
        partial = Path(tmp) / "archive.tar.gz"
        partial.touch(mode=0o600)
        with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
            manifest = {
                "format": FORMAT,
                "emailplatform": __version__,
                "created_at": datetime.now(UTC).isoformat(),
                "files": len(files),
            }
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
            archive.add(copy, DATABASE)
            for name in KEY_FILES:
                if (key_file := settings.data_dir / name).exists():
                    archive.add(key_file, name)
            progress.start("files", sum(size for _, _, size in files))
            for path, name, _size in files:
                _add_file(archive, path, name, progress)
        os.replace(partial, dest)
        return Summary(copy.stat().st_size, len(files), sum(size for _, _, size in files))


def _copy_database(source: Path, copy: Path, progress: Progress) -> None:
    src = sqlite3.connect(source, isolation_level=None, timeout=60)
    dst = sqlite3.connect(copy)
    try:
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read transaction starts: the moment copied
        total = src.execute("PRAGMA page_count").fetchone()[0]
        progress.start("database", total)
        done = 0

        def step(_status, remaining, _total):
            nonlocal done
            progress.advance("database", (_total - remaining) - done)
            done = _total - remaining

        src.backup(dst, pages=PAGES_A_STEP, progress=step)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        src.close()
        dst.close()


def _stored_files(settings: Settings) -> Iterator[tuple[Path, str, int]]:
    """Every file under the data dir's `files`: its path, its name in the archive and its size."""
    if settings.storage_backend != "local":
        return  # files live in the S3 bucket: keep them there (versioning, replication)
    root = settings.data_dir / FILES
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            try:
                size = path.stat().st_size
            except FileNotFoundError:  # deleted since the listing (an upload that was replaced)
                continue
            yield path, f"{FILES}/{path.relative_to(root).as_posix()}", size


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(datetime.now(UTC).timestamp()), 0o600
    archive.addfile(info, io.BytesIO(data))


def _add_file(archive: tarfile.TarFile, path: Path, name: str, progress: Progress) -> None:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        info = archive.gettarinfo(fileobj=handle, arcname=name)
        archive.addfile(info, _Counted(handle, lambda n: progress.advance("files", n)))


class _Counted:
    """A file whose reads are counted for the progress bar."""

    def __init__(self, handle: IO[bytes], count: Callable[[int], None]):
        self.handle, self.count = handle, count

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.count(len(data))
        return data


def restore(settings: Settings, src: Path, progress: Progress = Progress()) -> Summary:
    """Unpack the archive `src` into the configured data dir (and database path), which must hold no database."""
    target = sqlite_path(settings)
    if target.exists():
        raise BackupError(f"{target} exists: restore into a new data dir, or move the old one away first")
    data_dir = settings.data_dir
    try:
        archive = tarfile.open(src, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{src} is not an emailplatform backup: {exc}") from None
    with archive, tempfile.TemporaryDirectory(prefix=".emailplatform-restore-", dir=_existing_parent(data_dir)) as tmp:
        members = archive.getmembers()
        _check_manifest(archive, members, src)
        progress.start("restore", sum(m.size for m in members if m.isfile()))
        staged = Path(tmp)
        files = files_bytes = 0
        for member in members:
            name = _safe_name(member, src)
            if name is None or name == MANIFEST:
                continue
            out = staged / name
            out.parent.mkdir(parents=True, exist_ok=True)
            with _member_file(archive, member.name) as data, out.open("wb") as handle:
                shutil.copyfileobj(_Counted(data, lambda n: progress.advance("restore", n)), handle)
            if name.startswith(f"{FILES}/"):
                files, files_bytes = files + 1, files_bytes + member.size
        _check_database(staged / DATABASE)
        target.parent.mkdir(parents=True, exist_ok=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        if (staged / FILES).exists():
            shutil.copytree(staged / FILES, data_dir / FILES, dirs_exist_ok=True)
        for name in KEY_FILES:
            if (staged / name).exists() and not (data_dir / name).exists():
                (data_dir / name).touch(mode=0o600)
                (data_dir / name).write_bytes((staged / name).read_bytes())
        shutil.move(staged / DATABASE, target)  # last: a database is there only once everything else is
        return Summary(target.stat().st_size, files, files_bytes)


def _member_file(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    data = archive.extractfile(name)
    if data is None:
        raise BackupError(f"{name} in the backup is not a file")
    return data


def _existing_parent(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path


def _check_manifest(archive: tarfile.TarFile, members: list[tarfile.TarInfo], src: Path) -> None:
    names = {m.name for m in members}
    if MANIFEST not in names or DATABASE not in names:
        raise BackupError(f"{src} is not an emailplatform backup: it has no {MANIFEST} and {DATABASE}")
    manifest = json.loads(_member_file(archive, MANIFEST).read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src} is a backup of format {manifest.get('format')}; this version reads format {FORMAT}")


def _safe_name(member: tarfile.TarInfo, src: Path) -> str | None:
    """The member's name if it is a plain file inside the archive's own tree; None for a folder."""
    if member.isdir():
        return None
    path = PurePosixPath(member.name)
    if not member.isfile() or path.is_absolute() or ".." in path.parts:
        raise BackupError(f"{src} holds {member.name!r}, which a backup never does: not restored")
    return path.as_posix()


def _check_database(path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the backup's database cannot be read: {exc}") from None
    finally:
        connection.close()
    if result != "ok":
        raise BackupError(f"the backup's database is damaged: {result}")
