"""The local storage writes a file whole or not at all: a server killed in the middle of an upload leaves a
temporary file, which the housekeeping job removes once it has been left alone for long enough."""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
from sqlalchemy import update

from emailplatform.models import Job, utcnow
from emailplatform.storage.local import PARTIAL_DIR
from emailplatform.storage.tasks import PARTIAL_KEPT
from tests.conftest import free_port, new_tenant, run_jobs
from tests.helpers import upload_file
from tests.jobs.test_worker_processes import _ready, process_env, wait_until


def test_a_killed_uploads_temporary_file_is_removed_by_the_housekeeping_job(runtime, smtp_sink, client, database_url):
    port = free_port()
    env = process_env(runtime, smtp_sink, EMAILPLATFORM_PUBLIC_URL=f"http://127.0.0.1:{port}")
    server = subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = runtime.settings.data_dir / "files" / PARTIAL_DIR
    key = new_tenant(runtime).api_key
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=30)
    try:
        wait_until(lambda: _ready(api), 60, "the server is ready")
        upload_url = api.post("/api/v1/files/upload-url", json={"filename": "big.csv"}).json()["upload_url"]
        sent_some = threading.Event()

        def body():
            yield b"email,name\n" + b"a@example.com,A\n" * 4096
            sent_some.set()
            time.sleep(30)  # the server is killed meanwhile
            yield b"never sent\n"

        uploading = threading.Thread(target=lambda: _put(upload_url, body()), daemon=True)
        uploading.start()
        sent_some.wait(30)
        (left,) = wait_until(lambda: list(partial.glob("*")) if partial.is_dir() else None, 30, "the upload is written")
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    finally:
        api.close()
        server.kill()
        server.wait()

    kept = upload_file(client, b"email\nb@example.com\n")  # an upload that finished leaves nothing behind
    assert list(partial.glob("*")) == [left], "the killed upload's temporary file is left behind"
    run_jobs(runtime)
    assert left.exists(), "a temporary file written to lately may be an upload in progress: kept"

    long_ago = time.time() - PARTIAL_KEPT.total_seconds() - 60
    os.utime(left, (long_ago, long_ago))
    _make_cleanup_due(runtime)
    run_jobs(runtime)
    assert not left.exists()
    assert runtime.storage.size(kept["file_url"].removeprefix("local://files/")) == len(b"email\nb@example.com\n")


def _put(url: str, body) -> None:
    try:
        httpx.put(url, content=body, timeout=60)
    except httpx.TransportError:
        pass  # the server died under it


def _make_cleanup_due(runtime) -> None:
    """The housekeeping job, next due in minutes, due now (as if those minutes had passed)."""
    with runtime.db.session() as session:
        session.execute(update(Job).where(Job.kind == "remove_partial_files").values(run_at=utcnow()))
