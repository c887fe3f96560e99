"""Rate limits a person meets: sign-in attempts to the web UI (per account, per address) and the links in an
email (open pixel, click, unsubscribe per address)."""

import re

from fastapi.testclient import TestClient

from emailplatform.app import create_app
from tests.conftest import PUBLIC_URL, new_tenant
from tests.events.test_tracking import CHROME, decorated, hrefs, html_of, message_detail, path_of, send_campaign
from tests.ui.conftest import PASSWORD, csrf_of, make_user

OFFER = "https://shop.example.com/offer?id=7&ref=mail"


def browser(runtime, address: str) -> TestClient:
    client = TestClient(
        create_app(runtime),
        base_url=PUBLIC_URL,
        raise_server_exceptions=False,
        follow_redirects=False,
        client=(address, 50000),
    )
    client.headers["User-Agent"] = CHROME
    return client


def try_sign_in(client: TestClient, user, password: str):
    page = client.get("/ui/sign-in")
    form = {"csrf_token": csrf_of(page.text), "tenant": user.tenant, "email": user.email, "password": password}
    return client.post("/ui/sign-in", data=form)


def test_sign_in_is_limited_per_account_and_per_address_and_the_page_says_how_long_to_wait(limited_runtime):
    runtime = limited_runtime(rate_limit_sign_in_account="3/minute", rate_limit_sign_in_address="5/minute")
    tenant = new_tenant(runtime)
    ada, bob, cy = (make_user(runtime, tenant, role) for role in ("owner", "editor", "viewer"))
    with browser(runtime, "203.0.113.7") as office, browser(runtime, "198.51.100.9") as home:
        assert [try_sign_in(office, ada, "wrong password").status_code for _ in range(3)] == [401, 401, 401]
        refused = try_sign_in(office, ada, PASSWORD)  # the right password, but one attempt too many
        assert refused.status_code == 429
        assert "too many sign-in attempts to this account" in refused.text and "try again in" in refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert try_sign_in(home, ada, PASSWORD).status_code == 429  # the account is held from every address

        assert try_sign_in(office, bob, "wrong password").status_code == 401
        assert try_sign_in(office, bob, PASSWORD).status_code == 303  # the address's fifth attempt
        from_office = try_sign_in(office, cy, PASSWORD)
        assert from_office.status_code == 429 and "sign-in attempts from your address" in from_office.text
        assert try_sign_in(home, cy, PASSWORD).status_code == 303


def test_tracking_past_the_limit_still_answers_but_records_nothing(limited_runtime):
    runtime = limited_runtime(rate_limit_tracking="3/minute")
    tenant = new_tenant(runtime)
    with browser(runtime, "192.0.2.1") as api:
        api.headers["X-API-Key"] = tenant.api_key
        _, [message] = send_campaign(api, runtime, [["ada@example.com", "Ada"]])
        html = html_of(decorated(api, message))
    pixel = path_of(re.search(r'<img src="([^"]+)"', html)[1])
    click = path_of(next(link for link in hrefs(html) if "/t/c/" in link))
    unsubscribe = path_of(next(link for link in hrefs(html) if "/u/" in link))

    with browser(runtime, "203.0.113.7") as reader, browser(runtime, "198.51.100.9") as other:
        opened = [reader.get(pixel) for _ in range(3)]
        assert [r.status_code for r in opened] == [200, 200, 200]
        over = reader.get(pixel)
        assert over.status_code == 200 and over.content.startswith(b"GIF89a")  # the GIF, never an error
        clicked = reader.get(click)
        assert clicked.status_code == 302 and clicked.headers["location"] == OFFER  # the person still gets there
        page = reader.get(unsubscribe)
        assert page.status_code == 429 and "try again in" in page.text and int(page.headers["Retry-After"]) >= 1
        assert reader.post(unsubscribe).status_code == 429
        assert other.get(click).headers["location"] == OFFER  # another address: counted
    with browser(runtime, "192.0.2.1") as api:
        api.headers["X-API-Key"] = tenant.api_key
        history = message_detail(api, message["message_id"])["history"]
    assert len([h for h in history if h["type"] == "opened"]) == 3
    [counted] = [h for h in history if h["type"] == "clicked"]
    assert counted["details"]["ip"] == "198.51.100.9"
    assert not [h for h in history if h["type"] == "unsubscribed"]
