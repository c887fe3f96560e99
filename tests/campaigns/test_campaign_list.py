"""The campaigns list: newest first, of one status, each with its own recipients file."""

from tests.helpers import all_pages, create_campaign, create_template, csv_bytes, upload_file


def test_each_listed_campaign_names_its_own_file_newest_first_and_by_status(client, runtime):
    version = create_template(client, "Hi", "<p>Hi</p>")
    files = [upload_file(client, csv_bytes(["email"], [[f"r{i}@example.com"]]), f"list-{i}.csv") for i in range(3)]
    created = [create_campaign(client, version["template_id"], f["file_url"])["transaction_id"] for f in files]

    listed = all_pages(client, "/api/v1/email/campaigns", limit=2)
    assert [c["transaction_id"] for c in listed] == created[::-1]
    assert [c["csv_file_url"] for c in listed] == [f["file_url"] for f in files[::-1]]
    assert client.post(f"/api/v1/email/campaigns/{created[0]}/cancel").status_code == 200
    cancelled = all_pages(client, "/api/v1/email/campaigns", status="CANCELLED")
    assert [c["transaction_id"] for c in cancelled] == [created[0]]
