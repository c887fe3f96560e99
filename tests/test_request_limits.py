"""Bodies are bounded while they are read, and /api/v1 refuses a body without an API key before reading it."""

import json
import select
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.test_cli import EMAILPLATFORM, cli_env
from tests.test_install import wait_for

MiB = 1024 * 1024
HUGE = 200 * MiB


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def send_chunked(port: int, path: str, headers: dict, total: int, chunk: int = MiB) -> tuple[int, dict, int]:
    """POST `total` bytes of a JSON array, chunked, made as it is sent; stops when the server answers. The status,
    the JSON answer and how many bytes were sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        head += "Transfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall((head + "\r\n").encode())
        piece = b"[" + b"1," * (chunk // 2 - 1) + b"1"
        sent = 0
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, body = answer.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body), sent


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture
def server(tmp_path, sqlite_url):
    port = free_port()
    env = cli_env(tmp_path, sqlite_url, EMAILPLATFORM_PUBLIC_URL=f"http://127.0.0.1:{port}")
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        EMAILPLATFORM + ["serve", "--no-worker", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield process, port
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@pytest.mark.parametrize(
    "headers, status, field",
    [
        ({}, 401, "X-API-Key"),  # no key at all: refused before the body is read
        ({"X-API-Key": "not-a-key"}, 413, "body"),  # a wrong key: the body is cut off at the limit
    ],
)
def test_a_200_mb_body_to_the_api_is_refused_without_the_server_growing(server, headers, status, field):
    process, port = server
    before = rss_bytes(process.pid)
    got, answer, sent = send_chunked(port, "/api/v1/templates", headers, HUGE)
    assert got == status, answer
    assert answer["error"]["field"] == field
    assert sent < HUGE  # the server answered before the body was all there
    assert rss_bytes(process.pid) - before < 40 * MiB


def test_the_ses_endpoint_reads_no_more_than_an_sns_message(server):
    process, port = server
    got, answer, _ = send_chunked(port, "/api/v1/events/ses", {}, 20 * MiB, chunk=64 * 1024)
    assert got == 413
    assert "262144 bytes" in answer["error"]["message"]


def test_a_declared_content_length_over_the_limit_is_refused_up_front(client):
    body = b"x" * (8 * MiB + 1)
    answer = client.post("/api/v1/templates", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == {
        "code": "too_large",
        "message": "the request body is larger than the 8388608 bytes allowed",
        "field": "body",
        "details": None,
    }


def test_a_body_without_a_key_gets_401_and_a_get_without_one_still_reaches_the_key_check(client):
    del client.headers["X-API-Key"]
    refused = client.post("/api/v1/templates", json={"name": "x"})
    assert refused.status_code == 401
    assert refused.json()["error"]["field"] == "X-API-Key"
    assert client.get("/api/v1/templates").status_code == 401


def test_a_body_under_the_limit_still_works(client):
    html = "<p>" + "a" * 900_000 + "</p>"  # past 1 MiB of JSON with the text beside it
    created = client.post(
        "/api/v1/templates", json={"name": "big", "subject": "Hi", "html": html, "text": "b" * 600_000}
    )
    assert created.status_code == 201, created.text


def test_every_api_route_without_a_key_is_known_to_the_limits(client):
    from emailplatform.request_limits import PUBLIC_API_PATHS

    spec = client.get("/openapi.json").json()
    open_paths = {
        path
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1/") and any(not op.get("security") for op in operations.values())
    }
    assert open_paths == PUBLIC_API_PATHS


def test_a_client_that_never_finishes_its_headers_is_disconnected(tmp_path, sqlite_url):
    port = free_port()
    env = cli_env(
        tmp_path,
        sqlite_url,
        EMAILPLATFORM_PUBLIC_URL=f"http://127.0.0.1:{port}",
        EMAILPLATFORM_HTTP_HEADER_TIMEOUT_SECONDS="1",
    )
    process = subprocess.Popen(
        EMAILPLATFORM + ["serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz").status_code == 200  # a normal request is served
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            closed = False
            for _ in range(600):  # a byte at a time, as a slowloris client sends
                try:
                    sock.sendall(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                if select.select([sock], [], [], 0.1)[0]:
                    closed = sock.recv(1) == b""
                    break
            assert closed, "the server kept a connection whose headers never ended"
    finally:
        process.terminate()
        process.wait(30)
