"""A PostgreSQL cluster of a test's own, on its own port, that the test may stop and start as an outage would, and
a streaming replica of one (`pg_basebackup -R`), whose replay the test may pause to see which server answered."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL's {name} is needed (Debian: apt-get install postgresql)")
    return found[-1]


class PostgresCluster:
    """In a directory of its own (not pytest's tmp_path: the postgres user, which the server runs as when the
    tests run as root, cannot enter root's)."""

    def __init__(self, port: int, replica_of: "PostgresCluster | None" = None):
        self.directory, self.port = Path(tempfile.mkdtemp(prefix="emailplatform-pg-")), port
        self.data = self.directory / "data"
        # initdb and the server refuse to run as root: as root, run them as the postgres user
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.directory, "postgres")
        if replica_of is None:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        else:  # a copy of the running primary that streams its WAL (-R: standby.signal and primary_conninfo)
            source = ["-h", "127.0.0.1", "-p", str(replica_of.port), "-U", "postgres"]
            self._run("pg_basebackup", "-D", str(self.data), *source, "-R", "-X", "stream", "-c", "fast", "--no-sync")

    def replay_lsn_reached(self, primary: "PostgresCluster") -> bool:
        """Has this replica replayed everything the primary has written so far?"""
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            written = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            return conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (written,)).fetchone()[0]

    def pause_replay(self, paused: bool = True) -> None:
        """Pause (or resume) replaying the primary's WAL; returns once a pause has taken effect."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
            while paused and conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
                time.sleep(0.01)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "server.log"), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # it was not running
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self.as_owner, _bin(program), *args], capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}")
