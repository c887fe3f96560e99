"""The open pixel and the click redirect under load, beside a floor measured in the same run: the same server
(the whole app, one uvicorn worker, in a subprocess on loopback) answering a fixed 1×1 GIF with no work, on a
route only this benchmark's app has. Prints JSON.

    .venv/bin/python -m bench.tracking_bench [--seconds 10] [--rounds 3] [--connections 64] [--messages 2000]
                                             [--database-url URL]

Load comes from `wrk` (apt-get install wrk), one thread, cycling through one token per message. The floor,
the pixel and the redirect take turns for a few rounds and the medians are reported. Every
event must be stored: after each run the benchmark waits until the events table holds one row per answered
request (a request in flight when wrk stops may add one more) and reports how long that took; at the end
the server is shut down and the counts compared.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median

import httpx

HOST = "127.0.0.1"
SECRET = "bench-secret"
HTML = (
    '<html><body><p>Hello {{ first_name }}, <a href="https://example.com/offer?c={{ first_name }}">the offer</a>.</p>'
    "</body></html>"
)
FLOOR_PATH = "/floor.gif"
WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def settings_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "EMAILPLATFORM_DATABASE_URL": database_url,
        "EMAILPLATFORM_DATA_DIR": str(data_dir),
        "EMAILPLATFORM_SECRET_KEY": SECRET,
        "EMAILPLATFORM_PUBLIC_URL": "http://bench",
        "EMAILPLATFORM_TRANSPORT": "capture",
        "EMAILPLATFORM_LOG_LEVEL": "WARNING",
        # every hit comes from one address: at the default 600 a minute nearly all would go unrecorded
        "EMAILPLATFORM_RATE_LIMIT_TRACKING": "",
    }


def serve(port: int) -> None:
    """The server under test: the product's app, plus the floor route on this instance only."""
    import uvicorn
    from fastapi.responses import Response

    from emailplatform.app import create_app
    from emailplatform.assembly import build_runtime
    from emailplatform.events import tracking, tracking_api
    from emailplatform.logs import configure_logging

    runtime = build_runtime()
    configure_logging(runtime.settings)
    app = create_app(runtime)

    @app.get(FLOOR_PATH)
    async def floor():
        return Response(tracking.PIXEL_GIF, media_type="image/gif", headers=tracking_api.NOT_CACHED)

    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


def create_messages(database_url: str, data_dir: Path, count: int) -> list[uuid.UUID]:
    """A sent campaign of `count` recipients (capture transport), through the API and a worker."""
    import asyncio

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from emailplatform.app import create_app
    from emailplatform.assembly import build_runtime
    from emailplatform.config import Settings
    from emailplatform.job_kinds import new_worker
    from emailplatform.migrations import upgrade
    from emailplatform.models import Message
    from emailplatform.tenants import service as tenant_service

    settings = Settings(
        **{k.removeprefix("EMAILPLATFORM_").lower(): v for k, v in settings_env(database_url, data_dir).items()}
    )
    upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings)
    with runtime.db.session() as session:
        tenant = tenant_service.create_tenant(session, "bench")
        _, key = tenant_service.create_api_key(session, tenant.id)
    with TestClient(create_app(runtime), base_url="http://bench", headers={"X-API-Key": key}) as client:
        template = client.post("/api/v1/templates", json={"name": "bench", "subject": "Hi", "html": HTML}).json()
        upload = client.post("/api/v1/files/upload-url", json={"filename": "bench.csv"}).json()
        rows = "".join(f"person{i}@example.com,Name{i}\n" for i in range(count))
        client.put(upload["upload_url"], content=("email,first_name\n" + rows).encode())
        client.post(
            "/api/v1/email/campaigns",
            json={
                "template_id": template["template_id"],
                "csv_file_url": upload["file_url"],
                "from": {"email": "news@example.com"},
            },
        )

    async def work():
        try:
            await new_worker(runtime).run_until_idle()
        finally:
            await runtime.aclose()

    asyncio.run(work())
    with runtime.db.session(write=False) as session:
        ids = list(session.scalars(select(Message.id).where(Message.sent_at.is_not(None))))
    runtime.close()
    if len(ids) != count:
        raise RuntimeError(f"{len(ids)} of {count} messages were sent")
    return ids


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.tracking_bench", "--serve", str(port)],
        env=os.environ | env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    for _ in range(200):
        try:
            httpx.get(f"http://{HOST}:{port}/healthz")
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start")


def wrk(port: int, paths_file: Path, seconds: int, connections: int) -> dict:
    script = paths_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT % paths_file)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), f"http://{HOST}:{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out)[1]),
        "requests_per_second": round(float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])),
        "p50_ms": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1]),
        "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1]),
        "bad_responses": int(errors[1]) if errors else 0,
        "socket_errors": socket_errors[1] if socket_errors else None,
    }


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return round(float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 3)


def count_events(database_url: str, event_type: str) -> int:
    from sqlalchemy import create_engine, func, select

    from emailplatform.config import Settings
    from emailplatform.models import Event

    engine = create_engine(Settings(database_url=database_url).resolved_database_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(Event).where(Event.type == event_type))
    finally:
        engine.dispose()


def wait_for_events(database_url: str, event_type: str, expected: int, timeout: float = 120) -> float:
    """Seconds until the events table holds `expected` events of the type (the buffer caught up)."""
    started = time.perf_counter()
    while count_events(database_url, event_type) < expected:
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"fewer than {expected} {event_type} events after {timeout} s")
        time.sleep(0.05)
    return round(time.perf_counter() - started, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="", help="empty: a fresh SQLite file")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    from emailplatform.events import tracking
    from tests.conftest import free_port

    workdir = Path(tempfile.mkdtemp(prefix="ep-tracking-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    env = settings_env(database_url, workdir / "data")
    message_ids = create_messages(database_url, workdir / "data", args.messages)
    paths = {
        "floor": [FLOOR_PATH],
        "open": [f"/t/o/{tracking.open_token(m, SECRET)}.gif" for m in message_ids],
        "click": [
            f"/t/c/{tracking.click_token(m, f'https://example.com/offer?m={m.hex}', SECRET)}" for m in message_ids
        ],
    }
    event_types = {"open": "opened", "click": "clicked"}
    for name, lines in paths.items():
        (workdir / f"{name}.txt").write_text("\n".join(lines) + "\n")

    port = free_port()
    server = start_server(port, env)
    runs: dict[str, list[dict]] = {"floor": [], "open": [], "click": []}
    try:
        wrk(port, workdir / "floor.txt", 2, args.connections)  # warm up
        for _ in range(args.rounds):  # interleaved, so a busy machine weighs on the floor and the endpoints alike
            for name, kind_runs in runs.items():
                run = wrk(port, workdir / f"{name}.txt", args.seconds, args.connections)
                if name in event_types:
                    answered = sum(r["requests"] for r in kind_runs) + run["requests"]
                    run["seconds_until_all_stored"] = wait_for_events(database_url, event_types[name], answered)
                kind_runs.append(run)
    finally:
        server.send_signal(signal.SIGINT)  # a normal shutdown: the buffer writes what it holds
        server.wait(60)
    results: dict = {
        "database": database_url.split(":", 1)[0],
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "load": "wrk, 1 thread",
        "server": "uvicorn, 1 worker",
    }
    for name, kind_runs in runs.items():
        results[name] = {
            "requests_per_second": median([r["requests_per_second"] for r in kind_runs]),
            "p99_ms": median([r["p99_ms"] for r in kind_runs]),
            "p50_ms": median([r["p50_ms"] for r in kind_runs]),
            "bad_responses": sum(r["bad_responses"] for r in kind_runs),
            "runs": kind_runs,
        }
    for name, event_type in event_types.items():
        answered = sum(r["requests"] for r in runs[name])
        stored = count_events(database_url, event_type)
        shares = [r["requests_per_second"] / f["requests_per_second"] for r, f in zip(runs[name], runs["floor"])]
        results[name] |= {
            "share_of_floor": round(median(shares), 3),
            "requests_answered": answered,
            "events_stored": stored,
            "every_event_stored": answered <= stored <= answered + args.connections * args.rounds,
        }
    print(json.dumps(results, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
