"""A client generated from /openapi.json alone sends a campaign: what a customer's program built against the spec does.

openapi-python-client runs in a venv of its own (its pinned Typer is older than ours), made once per run from PyPI
or pip's cache; the client it writes is imported and talks to a real server on loopback, which sends through a
real SMTP server.
"""

import importlib
import os
import subprocess
import sys
import time
import venv

import httpx
import pytest

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from tests.conftest import free_port, make_settings, new_tenant
from tests.helpers import serving

GENERATOR = "openapi-python-client==0.29.1"
RECIPIENTS = b"email,first_name\nada@example.com,Ada\ngrace@example.com,Grace\n"


@pytest.fixture(scope="session")
def generator(tmp_path_factory):
    """The openapi-python-client command, installed in a venv of its own."""
    home = tmp_path_factory.mktemp("openapi-python-client")
    venv.create(home, with_pip=True)
    install = subprocess.run(
        [home / "bin" / "python", "-m", "pip", "install", "--quiet", GENERATOR], capture_output=True, text=True
    )
    assert install.returncode == 0, f"{GENERATOR} did not install: {install.stderr[-2000:]}"
    return home / "bin" / "openapi-python-client"


@pytest.fixture
def live_server(sqlite_url, tmp_path, smtp_sink):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(sqlite_url, tmp_path / "data", public_url=url, transport="smtp", smtp_url=smtp_sink.url)
    runtime = build_runtime(settings)
    with serving(create_app(runtime, with_worker=True), port):
        yield url, runtime
    runtime.close()


def generated_client(generator, spec_url: str, where):
    """The package openapi-python-client writes from the spec at `spec_url`, imported."""
    spec = where / "openapi.json"
    spec.write_bytes(httpx.get(spec_url).raise_for_status().content)
    package = where / "emailplatform_client"
    config = where / "generator.yaml"  # an .eml or a GIF is bytes to the client, as any file is
    config.write_text(
        "content_type_overrides:\n  message/rfc822: application/octet-stream\n  image/gif: application/octet-stream\n"
    )
    run = subprocess.run(
        [generator, "generate", "--path", spec, "--output-path", package, "--meta", "none", "--config", config],
        capture_output=True,
        text=True,
        env=os.environ | {"PATH": f"{generator.parent}:{os.environ['PATH']}"},
    )
    assert run.returncode == 0, f"the generator refused the spec:\n{run.stdout}\n{run.stderr}"
    assert "Warning" not in run.stdout + run.stderr, f"the generator could not read all of the spec:\n{run.stdout}"
    sys.path.insert(0, str(where))
    importlib.invalidate_caches()
    return importlib.import_module("emailplatform_client")


def test_a_client_generated_from_the_spec_sends_a_campaign(generator, live_server, smtp_sink, tmp_path):
    url, runtime = live_server
    key = new_tenant(runtime).api_key
    emailplatform_client = generated_client(generator, f"{url}/openapi.json", tmp_path)
    from emailplatform_client.api.campaigns import create_campaign, get_campaign
    from emailplatform_client.api.files import create_file_upload
    from emailplatform_client.api.templates import create_template
    from emailplatform_client.models import (
        CampaignCreate,
        FileUploadRequest,
        Sender,
        TemplateCreate,
    )

    # the generated client sends the key as a bearer token, as the spec's security schemes allow
    client = emailplatform_client.AuthenticatedClient(base_url=url, token=key, raise_on_unexpected_status=True)
    template = create_template.sync(
        client=client,
        body=TemplateCreate(name="welcome", subject="Welcome, {{ first_name }}", html="<p>Hello {{ first_name }}!</p>"),
    )
    assert template.placeholders == ["first_name"]
    upload = create_file_upload.sync(client=client, body=FileUploadRequest(filename="recipients.csv"))
    httpx.put(upload.upload_url, content=RECIPIENTS).raise_for_status()
    accepted = create_campaign.sync(
        client=client,
        body=CampaignCreate(
            template_id=template.template_id,
            csv_file_url=upload.file_url,
            from_=Sender(email="news@sender.example.com", name="News"),
            name="generated client",
        ),
    )
    assert accepted.status == "ACCEPT"

    deadline = time.monotonic() + 60
    while (campaign := get_campaign.sync(client=client, transaction_id=accepted.transaction_id)).status not in (
        "SENT",
        "COMPLETED",
        "FAILED",
    ):
        assert time.monotonic() < deadline, f"the campaign is still {campaign.status}"
        time.sleep(0.2)

    assert campaign.status in ("SENT", "COMPLETED")
    assert campaign.summary.sent == 2 and campaign.total_messages == 2
    received = smtp_sink.by_recipient()
    assert sorted(received) == ["ada@example.com", "grace@example.com"]
    assert received["grace@example.com"][0].message["Subject"] == "Welcome, Grace"


def test_the_api_key_works_as_a_bearer_token_and_the_spec_says_so(client, tenant):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key of your tenant."},
        "Bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The same API key, as `Authorization: Bearer <key>`; or an access token (a JWT) of the "
            "deployment's OAuth 2.0 / OpenID Connect issuer, when one is configured.",
        },
    }
    assert spec["paths"]["/api/v1/templates"]["get"]["security"] == [
        {"ApiKey": ["templates:read"]},
        {"Bearer": ["templates:read"]},
    ]

    del client.headers["X-API-Key"]
    assert client.get("/api/v1/templates", headers={"Authorization": f"Bearer {tenant.api_key}"}).status_code == 200
    refused = client.get("/api/v1/templates", headers={"Authorization": "Bearer not-a-key"})
    assert refused.status_code == 401 and refused.json()["error"]["field"] == "X-API-Key"
    assert client.get("/api/v1/templates", headers={"Authorization": f"Basic {tenant.api_key}"}).status_code == 401
