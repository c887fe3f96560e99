"""On SQLite one writer at a time holds the database. A request waits for that turn only when it changes
something: a refused API key, a preview and a check of a recipients file answer while a writer holds it."""

from concurrent.futures import ThreadPoolExecutor, wait

import pytest
from sqlalchemy import text

from tests.helpers import create_template, csv_bytes, upload_file
from tests.ui.conftest import make_user, sign_in, ui_client  # noqa: F401 (a fixture)

ANSWER_SECONDS = 10  # a request that waits for the writer would wait a minute


@pytest.fixture
def writer_holding_the_database(runtime):
    def hold(request):
        with ThreadPoolExecutor(1) as pool:
            with runtime.db.session() as held:
                held.execute(text("SELECT 1"))  # the writing session begins: on SQLite, BEGIN IMMEDIATE
                answer = pool.submit(request)
                done, _ = wait([answer], timeout=ANSWER_SECONDS)
            assert done, "the request waited for the writer"
            return answer.result()

    return hold


def test_api_requests_that_change_nothing_do_not_wait_for_a_writer(client, writer_holding_the_database):
    template = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
    refused = writer_holding_the_database(
        lambda: client.post("/api/v1/templates", json={}, headers={"X-API-Key": "ep_wrong"})
    )
    assert refused.status_code == 401
    preview = writer_holding_the_database(
        lambda: client.post(f"/api/v1/templates/{template['template_id']}/preview", json={"data": {"name": "Ada"}})
    )
    assert preview.status_code == 200 and preview.json()["subject"] == "Hi Ada"


def test_ui_requests_that_change_nothing_do_not_wait_for_a_writer(
    ui_client,
    client,
    runtime,
    tenant,
    writer_holding_the_database,  # noqa: F811
):
    template = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [["ada@example.com", "Ada"], ["nobody", "Bob"]]))
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    headers = {"X-CSRF-Token": token}

    preview = writer_holding_the_database(
        lambda: ui_client.post(
            "/ui/template-preview",
            data={"subject": "Hi {{ name }}", "html": "<p>Hi</p>", "sample.name": "Ada"},
            headers=headers,
        )
    )
    assert preview.status_code == 200 and "Hi Ada" in preview.text
    check = writer_holding_the_database(
        lambda: ui_client.post(
            "/ui/campaigns/check",
            data={"template_id": template["template_id"], "file_url": file["file_url"]},
            headers=headers,
        )
    )
    assert check.status_code == 200 and "ada@example.com" in check.text and "nobody" in check.text
