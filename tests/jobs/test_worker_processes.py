"""Worker processes as an operator runs them: `worker --processes N` and `serve` supervise their children,
start another when one is killed, drain on SIGTERM, and leave none behind when they are killed themselves."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import clean_env, free_port, new_tenant
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file


def children(pid: int) -> dict[int, bytes]:
    """The live child processes of `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and stat.rsplit(")", 1)[1].split()[0] != "Z":
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # it ended meanwhile, or is no process
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


def worker_processes(pid: int, count: int) -> set[int]:
    """The supervisor's worker children, once all `count` have started (spawn's resource tracker aside)."""

    def started():
        found = {child for child, command in children(pid).items() if b"resource_tracker" not in command}
        return found if len(found) == count else None

    return wait_until(started, 60, f"{count} worker processes run")


def serve_two_api_workers(port: int, env: dict) -> subprocess.Popen:
    """`emailplatform serve` on `port` with two API processes and one worker process."""
    command = ["serve", "--port", str(port), "--api-workers", "2", "--processes", "1"]
    return subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def process_env(runtime, smtp_sink, **extra) -> dict:
    return (
        clean_env(
            **{
                "EMAILPLATFORM_DATABASE_URL": runtime.settings.database_url,
                "EMAILPLATFORM_DATA_DIR": str(runtime.settings.data_dir),
                "EMAILPLATFORM_SECRET_KEY": runtime.settings.secret_key,
                "EMAILPLATFORM_TRANSPORT": "smtp",
                "EMAILPLATFORM_SMTP_URL": smtp_sink.url,
                "EMAILPLATFORM_SMTP_CONNECTIONS": "2",
                "EMAILPLATFORM_JOB_LEASE_SECONDS": "3",
                "EMAILPLATFORM_ALLOW_UNVERIFIED_DOMAINS": "true",
                "EMAILPLATFORM_LOG_LEVEL": "WARNING",
            }
        )
        | extra
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_killed_worker_process_is_replaced_and_the_campaign_loses_nobody(client, runtime, smtp_sink, database_url):
    recipients = [f"r{i:04d}@example.com" for i in range(1500)]
    smtp_sink.delay_seconds = 0.01
    template = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[r, r[:5]] for r in recipients]))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"], batch_size=100)[
        "transaction_id"
    ]

    supervisor = subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", "worker", "--processes", "3"],
        env=process_env(runtime, smtp_sink),
        stderr=subprocess.DEVNULL,
    )
    try:
        first = worker_processes(supervisor.pid, 3)
        wait_until(lambda: len(smtp_sink.received) >= 200, 60, "sending has started")
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        assert len(smtp_sink.received) < len(recipients), "the kill was to fall in the middle of the campaign"
        replaced = wait_until(
            lambda: (now := worker_processes(supervisor.pid, 3)) != first and now, 60, "another process"
        )
        assert victim not in replaced and len(replaced & first) == 2

        wait_until(lambda: campaign(client, transaction_id)["status"] == "SENT", 120, "the campaign is sent")
        messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
        assert {m["status"] for m in messages} == {"SENT"}
        received = Counter(rcpt for mail in smtp_sink.received for rcpt in mail.rcpt_tos)
        assert set(received) == set(recipients), "nobody is lost"

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(30) == 0
        assert not any(alive(pid) for pid in replaced), "the children stop with their supervisor"
    finally:
        supervisor.kill()
        supervisor.wait()


def test_serve_runs_worker_processes_and_none_outlives_a_killed_server(runtime, smtp_sink, database_url):
    port = free_port()
    tenant = new_tenant(runtime)
    env = process_env(
        runtime,
        smtp_sink,
        EMAILPLATFORM_PUBLIC_URL=f"http://127.0.0.1:{port}",
        EMAILPLATFORM_INBOUND_PORT=str(free_port()),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", "serve", "--port", str(port), "--processes", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": tenant.api_key}, timeout=30)
    try:
        workers = worker_processes(server.pid, 2)
        wait_until(lambda: _ready(api), 60, "the server is ready")
        template = create_template(api, "Hi", "<p>Hi {{ name }}</p>")
        file = upload_file(api, csv_bytes(["email", "name"], [[f"s{i}@example.com", "S"] for i in range(40)]))
        transaction_id = create_campaign(api, template["template_id"], file["file_url"], batch_size=10)[
            "transaction_id"
        ]
        wait_until(lambda: campaign(api, transaction_id)["status"] == "SENT", 60, "the campaign is sent")
        assert len(smtp_sink.received) == 40

        os.kill(min(workers), signal.SIGKILL)
        wait_until(lambda: api.get("/readyz").json()["checks"].get("worker_restarts") == "1", 60, "a restart shows")
        assert api.get("/readyz").json()["checks"]["worker"] == "ok"
        current = worker_processes(server.pid, 2)
        assert min(workers) not in current

        server.kill()  # SIGKILL: no chance to stop its children itself
        server.wait()
        wait_until(lambda: not any(alive(pid) for pid in current), 30, "no worker process outlives its server")
    finally:
        api.close()
        server.kill()
        server.wait()


def _ready(api: httpx.Client) -> bool:
    try:
        return api.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def readyz_burst(port: int) -> list[dict]:
    """/readyz asked 32 times at once, each on a connection of its own, so every API process answers some."""

    def ask(_):
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30)
        return response.json() | {"status_code": response.status_code}

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(ask, range(32)))


def every_answer(port: int, condition) -> list[dict] | None:
    """A burst of /readyz answers, if each meets `condition` and two API processes gave them."""
    try:
        answers = readyz_burst(port)
    except httpx.TransportError:
        return None
    return answers if all(map(condition, answers)) and len({a["process"] for a in answers}) == 2 else None


def metric(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(f"{name} "))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # what it tells is the same on either
def test_serve_with_api_workers_tells_in_every_process_that_a_worker_process_was_restarted(
    runtime, smtp_sink, database_url
):
    port = free_port()
    env = process_env(
        runtime,
        smtp_sink,
        EMAILPLATFORM_PUBLIC_URL=f"http://127.0.0.1:{port}",
        EMAILPLATFORM_INBOUND_PORT=str(free_port()),
    )
    server = serve_two_api_workers(port, env)
    try:
        ready = wait_until(
            lambda: every_answer(port, lambda a: a["status_code"] == 200 and a["checks"]["worker"] == "ok"),
            300,  # three processes start, each a fresh interpreter: minutes on a machine as busy as CI's can be
            "both API processes are ready and see the worker process",
        )
        api_processes = {answer["process"] for answer in ready}
        (worker,) = worker_processes(server.pid, 3) - api_processes

        os.kill(worker, signal.SIGKILL)
        wait_until(
            lambda: every_answer(port, lambda a: a["checks"].get("worker_restarts") == "1"),
            30,
            "every API process tells of the restart",
        )
        wait_until(
            lambda: every_answer(port, lambda a: a["status_code"] == 200 and a["checks"]["worker"] == "ok"),
            30,
            "the new worker process runs, and the server is ready again",
        )
        assert worker not in worker_processes(server.pid, 3)
        for _ in range(8):  # from either API process
            scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
            assert metric(scraped, "emailplatform_worker_restarts_total") == 1
            assert metric(scraped, "emailplatform_worker_up") == 1
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
