"""Templates in the UI: archive hides one from the list and from new campaigns, restore brings it back, delete
removes only an unused one and says to archive a used one."""

from tests.conftest import run_jobs
from tests.helpers import create_campaign, create_template, csv_bytes, upload_file
from tests.ui.conftest import make_user, sign_in


def test_archive_restore_and_delete_from_the_template_page(ui_client, client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    used = create_template(client, "Used", "<p>Used</p>")["template_id"]
    create_campaign(client, used, upload_file(client, csv_bytes(["email"], [["ann@example.com"]]))["file_url"])
    run_jobs(runtime)
    draft = create_template(client, "Draft", "<p>Draft</p>")["template_id"]

    archived = ui_client.post(f"/ui/templates/{used}/archive", data={"csrf_token": token})
    assert archived.status_code == 200 and "it starts no new campaign" in archived.text
    assert "Restore the template" in archived.text and "Send a campaign with it" not in archived.text
    assert f"/ui/templates/{used}" not in ui_client.get("/ui/templates").text
    assert f"/ui/templates/{used}" in ui_client.get("/ui/templates", params={"archived": "true"}).text
    assert f'value="{used}"' not in ui_client.get("/ui/campaigns/new").text
    assert client.get(f"/api/v1/templates/{used}").json()["archived_at"] is not None

    refused = ui_client.post(f"/ui/templates/{used}/delete", data={"csrf_token": token})
    assert refused.status_code == 409 and "archive it instead" in refused.text
    restored = ui_client.post(f"/ui/templates/{used}/restore", data={"csrf_token": token})
    assert "Archive the template" in restored.text
    assert f"/ui/templates/{used}" in ui_client.get("/ui/templates").text

    deleted = ui_client.post(f"/ui/templates/{draft}/delete", data={"csrf_token": token})
    assert deleted.status_code == 200 and f"/ui/templates/{draft}" not in deleted.text
    assert client.get(f"/api/v1/templates/{draft}").status_code == 404


def test_a_viewer_cannot_archive_or_delete(ui_client, client, runtime, tenant):
    token = sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    template_id = create_template(client, "Mine", "<p>Mine</p>")["template_id"]
    assert "Archive the template" not in ui_client.get(f"/ui/templates/{template_id}").text
    assert ui_client.post(f"/ui/templates/{template_id}/archive", data={"csrf_token": token}).status_code == 403
    assert ui_client.post(f"/ui/templates/{template_id}/delete", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/api/v1/templates/{template_id}").json()["archived_at"] is None
