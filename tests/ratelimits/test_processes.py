"""Two API processes on one Redis count one key together, as a deployment behind a load balancer does."""

import subprocess
import time

import httpx

from tests.conftest import free_port
from tests.test_cli import EMAILPLATFORM, cli_env, run_cli


def start_server(env: dict, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        EMAILPLATFORM + ["serve", "--no-worker", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "the server did not start"
        try:
            httpx.get(url + "/healthz")
            return server, url
        except httpx.ConnectError:
            time.sleep(0.2)


def test_requests_split_between_two_processes_are_counted_together(tmp_path, postgres_url, redis_url, redis_prefix):
    env = cli_env(
        tmp_path, postgres_url, EMAILPLATFORM_REDIS_URL=redis_url, EMAILPLATFORM_REDIS_KEY_PREFIX=redis_prefix
    )
    name = f"shared-{time.time_ns()}"
    assert run_cli(["tenants", "create", name], env).returncode == 0
    created = run_cli(["api-keys", "create", "--tenant", name, "--rate-limit", "4"], env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]

    servers = []
    with open(tmp_path / "servers.log", "w") as log:
        try:
            servers = [start_server(env, log), start_server(env, log)]
            urls = [url for _, url in servers]
            answers = [httpx.get(urls[i % 2] + "/api/v1/email/campaigns", headers={"X-API-Key": key}) for i in range(6)]
        finally:
            for server, _ in servers:
                server.terminate()
            for server, _ in servers:
                server.wait(30)
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429], (tmp_path / "servers.log").read_text()
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["3", "2", "1", "0", "0", "0"]
    assert answers[4].json()["error"]["code"] == "rate_limited" and int(answers[5].headers["Retry-After"]) >= 1
