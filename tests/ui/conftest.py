"""The UI on top of the API app (as app.py will include it), users of each role, and a signed-in client."""

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.runtime import Runtime
from emailplatform.users import service as user_service
from tests.conftest import PUBLIC_URL

PASSWORD = "correct horse battery"


@dataclass
class UiUser:
    email: str
    tenant: str
    role: str


def make_user(runtime: Runtime, tenant, role: str) -> UiUser:
    email = f"{role}@{tenant.name}.example.com"
    with runtime.db.session() as session:
        user_service.create_user(session, tenant.tenant_id, email, PASSWORD, role)
    return UiUser(email, tenant.name, role)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def sign_in(client: TestClient, user: UiUser) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/ui/sign-in")
    response = client.post(
        "/ui/sign-in",
        data={"csrf_token": csrf_of(page.text), "tenant": user.tenant, "email": user.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/ui/").text)


@pytest.fixture
def ui_client(runtime):
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        yield client
