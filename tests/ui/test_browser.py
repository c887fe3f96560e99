"""A new user's whole path in a real browser (Debian's Chromium, headless) against a real server with its worker:
sign in, create a template, upload a CSV, send, watch the campaign finish, open a message. Screenshots of each
main page go to test-artifacts/screenshots/."""

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.webhooks import fanout
from tests.conftest import free_port, make_settings, new_tenant
from tests.helpers import serving
from tests.ui.conftest import PASSWORD, make_user

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RECIPIENTS = (
    "email,first_name\nada@example.com,Ada\ngrace@example.com,Grace\nnot-an-address,Nobody\nlinus@example.com,Linus\n"
)


@pytest.fixture
def live_server(sqlite_url, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = build_runtime(make_settings(sqlite_url, tmp_path / "data", public_url=url))
    with serving(create_app(runtime, with_worker=True), port):
        yield url, runtime
    runtime.close()


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is required: apt-get install -y chromium")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
        page = context.new_page()
        page.set_default_timeout(20_000)
        blocked = []  # what the Content-Security-Policy stopped: every page must work within it
        page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))
        yield page
        browser.close()
        assert blocked == []


def reload_until(page, text: str, seconds: float = 20) -> None:
    """Reload the page until it shows `text` (what a worker does in the background shows on reload)."""
    deadline = time.monotonic() + seconds
    while text not in page.content():
        assert time.monotonic() < deadline, f"{text!r} never appeared"
        time.sleep(0.2)
        page.reload()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")  # transitions ended


def test_a_new_user_sends_a_campaign_and_reads_a_message(live_server, page):
    url, runtime = live_server
    tenant = new_tenant(runtime)
    user = make_user(runtime, tenant, "owner")

    page.goto(url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "01-sign-in")
    page.get_by_label("Workspace").fill(tenant.name)
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Nothing has been sent yet")).to_be_visible()
    shot(page, "02-dashboard-empty")

    page.get_by_role("link", name="Create a template").click()
    page.get_by_label("Name", exact=True).fill("Welcome")
    page.get_by_label("Subject", exact=True).fill("Welcome, {{ first_name }}")
    page.get_by_label("HTML", exact=True).fill("<h1>Hello {{ first_name }}!</h1>\n<p>Thanks for joining us.</p>")
    preview = page.frame_locator("iframe.preview-frame")
    expect(preview.get_by_role("heading")).to_have_text("Hello [first_name]!")
    shot(page, "03-template-new")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("status")).to_have_text("Saved as version 1.")
    page.get_by_label("first_name").fill("Ada")
    expect(preview.get_by_role("heading")).to_have_text("Hello Ada!")
    shot(page, "04-template-edit")

    page.get_by_role("link", name="Send a campaign with it").click()
    expect(page.get_by_label("Template", exact=True)).to_have_value(re.compile(".+"))
    page.locator("#recipients").set_input_files(
        {"name": "recipients.csv", "mimeType": "text/csv", "buffer": RECIPIENTS.encode()}
    )
    send = page.get_by_role("button", name="Send to 3 recipients")
    expect(send).to_be_enabled()
    expect(page.locator("#check")).to_contain_text("'not-an-address' is not a valid email address")
    expect(page.get_by_role("progressbar", name="Upload")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#upload-status")).to_have_text("Uploaded recipients.csv.")
    page.get_by_label("From address").fill("news@sender.example.com")
    page.get_by_label("Campaign name").fill("Welcome wave")
    shot(page, "05-campaign-new")
    page.once("dialog", lambda dialog: dialog.accept())
    send.click()

    expect(page.get_by_role("heading", name="Welcome wave")).to_be_visible()
    expect(page.locator("#progress")).to_contain_text(
        "Status: completed", timeout=60_000
    )  # captured: delivered at once
    expect(page.locator("#progress")).to_contain_text("3 of 3 handled")
    expect(page.locator("table.bad")).to_contain_text("not-an-address")
    shot(page, "06-campaign")

    page.get_by_label("Address starts with").fill("grace")
    expect(page.locator("#messages tbody tr")).to_have_count(1)
    page.get_by_role("link", name="grace@example.com").click()
    expect(page.get_by_role("heading", name="grace@example.com")).to_be_visible()
    expect(page.locator("ol.timeline")).to_contain_text("sent")
    expect(page.frame_locator("iframe.preview-frame").get_by_role("heading")).to_have_text("Hello Grace!")
    shot(page, "07-message")

    page.get_by_role("link", name="as captured in the outbox").click()
    expect(page.get_by_role("heading", name="Welcome, Grace")).to_be_visible()
    page.get_by_role("link", name="Outbox").first.click()
    expect(page.locator("table.list tbody tr")).to_have_count(3)
    shot(page, "08-outbox")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("link", name="Welcome wave")).to_be_visible()
    shot(page, "09-dashboard")
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
    shot(page, "10-analytics")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url + "/ui/campaigns")
    shot(page, "11-campaigns-phone")


def test_the_settings_pages_in_a_browser(live_server, page):
    url, runtime = live_server
    runtime.settings.webhook_allowed_hosts = ["127.0.0.1"]
    tenant = new_tenant(runtime)
    user = make_user(runtime, tenant, "owner")
    page.goto(url + "/ui/sign-in")
    page.get_by_label("Workspace").fill(tenant.name)
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Suppressions").click()
    expect(page.get_by_text("The list is empty")).to_be_visible()
    page.get_by_label("Email address").fill("stop@example.com")
    page.get_by_label("Why").fill("asked by phone")
    page.get_by_role("button", name="Suppress this address").click()
    expect(page.get_by_role("status")).to_contain_text("stop@example.com is suppressed")
    shot(page, "12-suppressions")

    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No webhook endpoints yet")).to_be_visible()
    page.get_by_label("URL the events are POSTed to").fill("http://127.0.0.1:9/hooks/email")
    page.get_by_label("message.bounced").check()
    page.get_by_label("message.clicked").press("Space")  # a checkbox works from the keyboard
    page.get_by_label("Description").fill("CRM")
    page.get_by_role("button", name="Add the endpoint").click()
    expect(page.get_by_role("status")).to_contain_text("shown this once")
    expect(page.get_by_label("Signing secret")).to_have_value(re.compile("^whsec_"))
    shot(page, "13-webhooks")
    page.get_by_role("link", name="http://127.0.0.1:9/hooks/email").click()
    expect(page.get_by_label("message.clicked")).to_be_checked()
    shot(page, "14-webhook-endpoint")
    page.get_by_role("link", name="← Webhooks").click()
    page.get_by_role("link", name="Delivery log").click()
    expect(page.get_by_text("Nothing has been delivered yet")).to_be_visible()
    with runtime.db.session() as session:  # a bounce happens; nothing listens on port 9
        bounce = {"message_id": "m-1", "recipient": "gone@example.com", "details": {"reason": "user_unknown"}}
        fanout.message_event(session, tenant.tenant_id, "bounced", bounce)
    reload_until(page, "Cannot connect")
    expect(page.locator("table.list").first).to_contain_text("message.bounced")
    expect(page.locator("table.list").first).to_contain_text("next attempt")
    page.get_by_text("1 attempt").click()
    shot(page, "14-webhook-deliveries")

    page.get_by_role("link", name="Domains").click()
    expect(page.get_by_text("Unverified domains are allowed on this deployment")).to_be_visible()
    page.get_by_label("Domain name").fill("sender.example.com")
    page.get_by_role("button", name="Add the domain").click()
    expect(page.get_by_role("heading", name="sender.example.com")).to_be_visible()
    expect(page.get_by_label("dkim record name")).to_have_value(re.compile(r"\._domainkey\.sender\.example\.com$"))
    shot(page, "15-domain")
    page.get_by_role("link", name="← Sending domains").click()
    expect(page.get_by_role("link", name="sender.example.com")).to_be_visible()
    shot(page, "15-domains")

    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Bounce reasons")).to_be_visible()
    shot(page, "16-analytics-breakdowns")

    page.get_by_role("link", name="Users").click()
    page.get_by_label("Email address").fill("colleague@example.com")
    page.get_by_label("Role").select_option("editor")
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("status")).to_contain_text("colleague@example.com can sign in now")
    shot(page, "17-users")
