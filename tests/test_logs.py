"""The access log of a running server, read from its stderr as an operator's log collector would."""

import json
import re
import subprocess
import uuid
from contextlib import contextmanager

import httpx

from tests.conftest import free_port
from tests.test_cli import EMAILPLATFORM, cli_env
from tests.test_install import wait_for


@contextmanager
def server(tmp_path, **settings):
    port = free_port()
    env = cli_env(tmp_path, "", EMAILPLATFORM_LOG_JSON="true", **settings)
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            EMAILPLATFORM + ["serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        yield base, log
    finally:
        process.terminate()
        process.wait(30)


def requests_logged(log) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "request"]


def test_one_line_a_request_with_its_route_template_status_duration_and_request_id(tmp_path):
    with server(tmp_path) as (base, log):
        kept = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "proxy-42.a"})
        template_id = uuid.uuid4()
        made = httpx.get(
            f"{base}/api/v1/templates/{template_id}", headers={"X-Request-ID": "not a sane id; <script>" + "x" * 200}
        )
        static = httpx.get(f"{base}/ui/static/app.css")
    lines = requests_logged(log)  # read once the server has stopped: a line is written after its answer

    assert kept.headers["X-Request-ID"] == "proxy-42.a"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"]), "an insane incoming id is replaced"
    by_id = {line["request_id"]: line for line in lines}
    assert by_id["proxy-42.a"] | {"duration_ms": 0} == by_id["proxy-42.a"] | {
        "method": "GET",
        "route": "/healthz",
        "status": 200,
        "duration_ms": 0,
    }
    denied = by_id[made.headers["X-Request-ID"]]
    assert (denied["route"], denied["status"]) == ("/api/v1/templates/{template_id}", 401)
    assert isinstance(denied["duration_ms"], float) and denied["duration_ms"] >= 0
    assert str(template_id) not in json.dumps(lines), "paths (ids, link tokens) are not logged, route templates are"
    assert by_id[static.headers["X-Request-ID"]]["route"] == "/ui/static/{path}"


def test_the_access_log_can_be_turned_off(tmp_path):
    with server(tmp_path, EMAILPLATFORM_ACCESS_LOG="false") as (base, log):
        answer = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "kept"})
        httpx.get(f"{base}/api/v1/templates")
    assert answer.headers["X-Request-ID"] == "kept", "the id is still answered"
    assert "emailplatform on http" in log.read_text() and requests_logged(log) == []
