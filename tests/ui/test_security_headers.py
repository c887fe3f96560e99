"""The UI's pages tell browsers to run only our own scripts, never to be framed, and to keep URLs to us."""

import re
from pathlib import Path

import pytest

import emailplatform.ui
from tests.ui.conftest import make_user, sign_in

TEMPLATES = Path(emailplatform.ui.__file__).parent / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def policy(response) -> dict[str, str]:
    directives = [d.strip().split(None, 1) for d in response.headers["Content-Security-Policy"].split(";")]
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


def test_every_page_has_a_policy_that_runs_no_inline_script_and_is_never_framed(ui_client, runtime, tenant):
    sign_in_page = ui_client.get("/ui/sign-in")
    sign_in(ui_client, make_user(runtime, tenant, "owner"))
    for response in (sign_in_page, ui_client.get("/ui/"), ui_client.get("/ui/campaigns")):
        assert response.headers["content-type"].startswith("text/html"), response.url
        found = policy(response)
        assert found["script-src"] == "'self'"
        assert found["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in found["script-src"] and "unsafe-eval" not in found["script-src"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_api_answers_are_not_sniffed_and_the_docs_keep_their_scripts(ui_client):
    answer = ui_client.get("/api/v1/templates")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    docs = ui_client.get("/docs")
    assert docs.status_code == 200
    assert "Content-Security-Policy" not in docs.headers  # Swagger UI starts from an inline script


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_an_inline_script_or_handler_the_policy_would_block(template):
    assert INLINE_SCRIPT.findall(template.read_text()) == []
