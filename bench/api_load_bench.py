"""The API under load, beside `/healthz` on the same server: closed-loop clients (`wrk`, each connection sends its
next request when the answer came) against a real `emailplatform serve --no-worker` on loopback. Prints JSON.

    .venv/bin/python -m bench.api_load_bench [--databases sqlite,postgresql] [--clients 10,200] [--seconds 10]
                                             [--messages 1000] [--api-workers N] [--output FILE]
                                             [--routes healthz,status,messages,create_campaign]

Routes: `/healthz` (the floor), a campaign's status (`GET /api/v1/email/campaigns/{id}` of a sent campaign of
`--messages` recipients), the first page of its messages, and create-campaign (`POST /api/v1/email/campaigns`,
202; every request creates a campaign of the same 1,000-row file, which no worker splits meanwhile). Each is
reported with requests/s, p50/p95/p99, errors (connection errors, timeouts and any answer not 2xx/3xx, by status)
and the ratios to `/healthz` at the same concurrency: throughput (target ≥ 0.5) and p95 (target ≤ 2). The
rate limits are turned off (one key makes every request); the API processes are `serve`'s default unless
`--api-workers` says (one). Needs `wrk` (apt-get install wrk).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.campaign_bench import fresh_database

HOST = "127.0.0.1"
SECRET = "bench-secret"
HTML = "<html><body><p>Hello {{ first_name }}, our offer is ready.</p></body></html>"
WRK_TIMEOUT = "60s"  # an answer slower than this counts as an error; wrk's default (2 s) would hide slow ones
WRK_SCRIPT = """
wrk.method = "%(method)s"
wrk.body = [[%(body)s]]
wrk.headers["X-API-Key"] = "%(key)s"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end

function done(summary, latency, requests)
  local counted = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counted[tostring(status)] = (counted[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counted) do parts[#parts + 1] = string.format('"%%s": %%d', status, n) end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, ' ..
    '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d, "statuses": {%%s}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, table.concat(parts, ", ")))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def settings_env(database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    return {
        "EMAILPLATFORM_DATABASE_URL": database_url,
        "EMAILPLATFORM_DATA_DIR": str(data_dir),
        "EMAILPLATFORM_SECRET_KEY": SECRET,
        "EMAILPLATFORM_PUBLIC_URL": f"http://{HOST}:{port}",
        "EMAILPLATFORM_TRANSPORT": "capture",
        "EMAILPLATFORM_LOG_LEVEL": "WARNING",
        "EMAILPLATFORM_ALLOW_UNVERIFIED_DOMAINS": "true",
        # one key makes every request: at the default 1,000 a minute nearly all would be 429
        "EMAILPLATFORM_RATE_LIMIT_API_KEY": "",
        "EMAILPLATFORM_RATE_LIMIT_TENANT": "",
    }


def prepare(env: dict[str, str], messages: int) -> dict:
    """A tenant and its key, a template, a file of `messages` rows and a campaign of it, sent (capture transport)
    through the API and a worker in this process."""
    import asyncio

    from fastapi.testclient import TestClient

    from emailplatform.app import create_app
    from emailplatform.assembly import build_runtime
    from emailplatform.config import Settings
    from emailplatform.job_kinds import new_worker
    from emailplatform.logs import configure_logging
    from emailplatform.migrations import upgrade
    from emailplatform.tenants import service as tenant_service

    settings = Settings(**{k.removeprefix("EMAILPLATFORM_").lower(): v for k, v in env.items()})
    configure_logging(settings)
    upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings)
    with runtime.db.session() as session:
        tenant = tenant_service.create_tenant(session, "bench")
        _, key = tenant_service.create_api_key(session, tenant.id)
    with TestClient(
        create_app(runtime), base_url=env["EMAILPLATFORM_PUBLIC_URL"], headers={"X-API-Key": key}
    ) as client:
        template = client.post("/api/v1/templates", json={"name": "bench", "subject": "Hi", "html": HTML}).json()
        upload = client.post("/api/v1/files/upload-url", json={"filename": "bench.csv"}).json()
        rows = "".join(f"person{i}@example{i % 7}.com,Name{i}\n" for i in range(messages))
        client.put(upload["upload_url"], content=("email,first_name\n" + rows).encode()).raise_for_status()
        create = {
            "template_id": template["template_id"],
            "csv_file_url": upload["file_url"],
            "from": {"email": "news@example.com"},
        }
        created = client.post("/api/v1/email/campaigns", json=create)
        created.raise_for_status()

        async def work():
            try:
                await new_worker(runtime).run_until_idle()
            finally:
                await runtime.aclose()

        asyncio.run(work())
        transaction_id = created.json()["transaction_id"]
        summary = client.get(f"/api/v1/email/campaigns/{transaction_id}").json()["summary"]
    runtime.close()
    if summary["sent"] != messages:
        raise RuntimeError(f"{summary['sent']} of {messages} messages were sent")
    return {"key": key, "transaction_id": transaction_id, "create_body": json.dumps(create)}


def start_server(port: int, env: dict[str, str], api_workers: int | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "emailplatform.cli", "serve", "--no-worker", "--port", str(port)]
    command += ["--api-workers", str(api_workers)] if api_workers else []
    process = subprocess.Popen(command, env=os.environ | env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            httpx.get(f"http://{HOST}:{port}/healthz").raise_for_status()
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start")


def wrk(url: str, script: Path, seconds: int, clients: int) -> dict:
    threads = min(2, clients)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT}", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    raw = json.loads(out.strip().splitlines()[-1])
    bad = {status: n for status, n in raw["statuses"].items() if not 200 <= int(status) < 400}
    return {
        "requests_per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "requests": raw["requests"],
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p95_ms": round(raw["p95_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "max_ms": round(raw["max_us"] / 1000, 1),
        "errors": sum(bad.values()) + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        "statuses": raw["statuses"],
        "socket_errors": {k: raw[k] for k in ("connect", "read", "write", "timeout") if raw[k]},
    }


def routes(prepared: dict) -> dict[str, tuple[str, str, str]]:
    campaign = f"/api/v1/email/campaigns/{prepared['transaction_id']}"
    return {
        "healthz": ("GET", "/healthz", ""),
        "status": ("GET", campaign, ""),
        "messages": ("GET", f"{campaign}/messages", ""),
        "create_campaign": ("POST", "/api/v1/email/campaigns", prepared["create_body"]),
    }


def run_database(database: str, args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="ep-apiload-"))
    url, drop = fresh_database(database, workdir)
    port = free_port()
    env = settings_env(url, workdir / "data", port)
    server = None
    try:
        prepared = prepare(env, args.messages)
        server = start_server(port, env, args.api_workers)
        processes = {httpx.get(f"http://{HOST}:{port}/healthz").json()["process"] for _ in range(50)}
        scripts = {}
        for name, (method, path, body) in routes(prepared).items():
            if name not in args.routes.split(",") and name != "healthz":
                continue
            scripts[name] = (workdir / f"{name}.lua", path)
            scripts[name][0].write_text(WRK_SCRIPT % {"method": method, "body": body, "key": prepared["key"]})
        wrk(f"http://{HOST}:{port}/healthz", scripts["healthz"][0], 2, 10)  # warm up
        results: dict = {}
        for clients in args.clients:
            by_route = {
                name: wrk(f"http://{HOST}:{port}{path}", script, args.seconds, clients)
                for name, (script, path) in scripts.items()
            }
            floor = by_route["healthz"]
            for name, figures in by_route.items():
                if name != "healthz":
                    figures["throughput_to_healthz"] = round(
                        figures["requests_per_second"] / floor["requests_per_second"], 2
                    )
                    figures["p95_to_healthz"] = (
                        round(figures["p95_ms"] / floor["p95_ms"], 2) if floor["p95_ms"] else None
                    )
            results[str(clients)] = by_route
        return {
            "database": database,
            "api_processes_seen": len(processes),
            "messages_in_campaign": args.messages,
            "by_clients": results,
        }
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--clients", default="10,200", type=lambda s: [int(c) for c in s.split(",")])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--api-workers", type=int, default=None, help="default: serve's own default")
    parser.add_argument("--output", type=Path, help="write the JSON here too")
    parser.add_argument("--routes", default="healthz,status,messages,create_campaign", help="which of the routes")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    report = {
        "cores": os.cpu_count(),
        "seconds_per_run": args.seconds,
        "runs": [run_database(database, args) for database in args.databases.split(",")],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
