"""One message's page when what it was made from is gone from storage."""

import uuid

from emailplatform.models import Batch, Message
from tests.conftest import run_jobs
from tests.helpers import create_campaign, create_template, csv_bytes, upload_file
from tests.ui.conftest import make_user, sign_in


def test_a_message_whose_batch_file_is_lost_still_shows(ui_client, client, runtime, tenant):
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [["a@example.com", "A"]]))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]
    run_jobs(runtime)
    with runtime.db.session() as session:
        message = session.query(Message).filter_by(transaction_id=uuid.UUID(transaction_id)).one()
        runtime.storage.delete(session.get(Batch, message.batch_id).storage_key)

    detail = client.get(f"/api/v1/email/messages/{message.id}")
    assert detail.status_code == 200
    assert detail.json()["data"] is None and [h["type"] for h in detail.json()["history"]] == [
        "created",
        "sent",
        "delivered",
    ]

    sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    page = ui_client.get(f"/ui/messages/{message.id}")
    assert page.status_code == 200
    assert "a@example.com" in page.text and "no longer in storage" in page.text
