"""`serve --api-workers N`: N API processes answer on one port, beside the worker processes the serve command
starts once for all of them, and a campaign goes through."""

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import free_port, new_tenant
from tests.helpers import campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.jobs.test_worker_processes import _ready, alive, children, process_env, serve_two_api_workers, wait_until


def answering_processes(port: int) -> set[int]:
    """The processes that answered a burst of /healthz requests, each on a connection of its own."""

    def ask(_):
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).json()["process"]

    with ThreadPoolExecutor(16) as pool:
        return set(pool.map(ask, range(64)))


def test_serve_with_two_api_workers_answers_from_two_processes_and_sends_a_campaign(runtime, smtp_sink, database_url):
    port = free_port()
    tenant = new_tenant(runtime)
    env = process_env(
        runtime,
        smtp_sink,
        EMAILPLATFORM_PUBLIC_URL=f"http://127.0.0.1:{port}",
        EMAILPLATFORM_INBOUND_PORT=str(free_port()),
    )
    server = serve_two_api_workers(port, env)
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": tenant.api_key}, timeout=30)
    try:
        wait_until(lambda: _ready(api), 60, "the server is ready")
        seen: set[int] = set()
        wait_until(lambda: len(seen.__ior__(answering_processes(port))) >= 2, 60, "two API processes answer")
        assert len(seen) == 2 and server.pid not in seen

        template = create_template(api, "Hi", "<p>Hi {{ name }}</p>")
        file = upload_file(api, csv_bytes(["email", "name"], [[f"a{i}@example.com", "A"] for i in range(30)]))
        transaction_id = create_campaign(api, template["template_id"], file["file_url"], batch_size=10)[
            "transaction_id"
        ]
        wait_until(lambda: campaign(api, transaction_id)["status"] == "SENT", 60, "the campaign is sent")
        assert sorted(r for m in smtp_sink.received for r in m.rcpt_tos) == sorted(
            f"a{i}@example.com" for i in range(30)
        )

        descendants = set(children(server.pid))
        server.terminate()
        assert server.wait(60) == 0
        wait_until(lambda: not any(alive(pid) for pid in descendants | seen), 30, "no process outlives the server")
    finally:
        api.close()
        server.kill()
        server.wait()
