"""Steps a client takes, written once for the tests: a template, an uploaded CSV, a campaign; and messages
sent straight through a transport; an app served for real, in a thread of the test."""

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi.testclient import TestClient


def create_template(client: TestClient, subject: str, html: str, text: str | None = None) -> dict:
    body = {"name": "test template", "subject": subject, "html": html} | ({"text": text} if text is not None else {})
    response = client.post("/api/v1/templates", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def upload_file(client: TestClient, content: bytes, filename: str = "recipients.csv") -> dict:
    upload = client.post("/api/v1/files/upload-url", json={"filename": filename})
    assert upload.status_code == 201, upload.text
    put = client.put(upload.json()["upload_url"], content=content)
    assert put.status_code == 200, put.text
    return upload.json()


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def create_campaign(client: TestClient, template_id: str, file_url: str, **extra) -> dict:
    body = {
        "template_id": template_id,
        "csv_file_url": file_url,
        "from": {"email": "news@sender.example.com", "name": "Sender"},
    }
    response = client.post("/api/v1/email/campaigns", json=body | extra)
    assert response.status_code == 202, response.text
    return response.json()


def campaign(client: TestClient, transaction_id: str) -> dict:
    response = client.get(f"/api/v1/email/campaigns/{transaction_id}")
    assert response.status_code == 200, response.text
    return response.json()


def all_pages(client: TestClient, path: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get(path, params=params | ({"cursor": cursor} if cursor else {})).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def send_through(transport, messages: list) -> list:
    """Send messages concurrently through a transport, as the pipeline does, and close it; their results."""

    async def main():
        try:
            return await asyncio.gather(*(transport.send(m) for m in messages))
        finally:
            await transport.close()

    return asyncio.run(main())


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # it runs in a thread of the test
        pass


@contextmanager
def serving(app, port: int) -> Iterator[None]:
    """`app` served by uvicorn on 127.0.0.1:`port`, in a thread of the test, until the block ends."""
    server = _ThreadServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        thread.join(30)
