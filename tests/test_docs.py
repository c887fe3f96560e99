"""/docs works with no network: a real browser (Debian's Chromium, headless) renders every operation from scripts
the package serves, and asks nothing of any other host."""

import re

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from tests.conftest import free_port, make_settings
from tests.helpers import serving
from tests.ui.test_browser import CHROMIUM, CHROMIUM_ARGS

URL_IN_HTML = re.compile(r"""https?://[^\s"'<>)]+""")


SPEC_SECONDS = 60  # the first request builds the whole spec: seconds on a busy machine, past httpx's default 5


@pytest.fixture
def live_url(sqlite_url, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = build_runtime(make_settings(sqlite_url, tmp_path / "data", public_url=url))
    with serving(create_app(runtime), port):
        yield url
    runtime.close()


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is required: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_watched(browser, url: str):
    """A page at `url`, and the list of every URL it has requested so far."""
    page = browser.new_page()
    page.set_default_timeout(20_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url)
    return page, requested


def test_the_docs_page_names_no_other_host(live_url):
    html = httpx.get(f"{live_url}/docs").raise_for_status().text
    assert [u for u in URL_IN_HTML.findall(html) if not u.startswith(live_url)] == []


def test_swagger_ui_renders_every_operation_offline_with_an_authorize_button(live_url, browser):
    spec = httpx.get(f"{live_url}/openapi.json", timeout=SPEC_SECONDS).json()
    operations = sum(1 for item in spec["paths"].values() for method in item if method != "parameters")
    page, requested = open_watched(browser, f"{live_url}/docs")

    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() == operations
    expect(page.locator(".opblock-summary-description", has_text="Create a campaign")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Authorize"))).to_be_visible()

    page.locator(".opblock-summary", has_text="/api/v1/email/campaigns").first.click()
    expect(page.get_by_text("news@sender.example.com").first).to_be_visible()  # the request body's example
    assert [u for u in requested if not u.startswith((live_url, "data:"))] == []


def test_there_is_no_redoc_page(live_url):
    assert httpx.get(f"{live_url}/redoc").status_code == 404  # Redoc's sidebar loads its logo from the internet
