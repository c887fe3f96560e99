"""Opens, clicks and unsubscribes, as a recipient makes them: a campaign is sent (capture transport), and the
links in the messages as they were sent are followed."""

import email
import email.policy
import re
import uuid
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.events import service as event_service
from emailplatform.events import tracking
from emailplatform.sending import decorate
from tests.conftest import PUBLIC_URL, run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file

SECRET = "test-secret"  # the tests' Settings.secret_key
BASE = PUBLIC_URL
OFFER = "https://shop.example.com/offer?id=7&ref=mail"
HTML = (
    "<html><body><p>Hello {{ first_name }},</p>"
    '<p><a href="https://shop.example.com/offer?id=7&ref=mail">See the offer</a> '
    "<A class='cta' HREF='http://shop.example.com/plain'>plain http</A> "
    '<a href="mailto:help@shop.example.com">write</a> <a href="tel:+3212345">call</a> '
    '<a href="#terms">terms</a></p></body></html>'
)
TEXT = "Hello {{ first_name }}, see https://shop.example.com/offer"
CHROME = "Mozilla/5.0 (test browser)"


@contextmanager
def app_client(runtime, api_key: str | None = None):
    """The app as it serves recipients. Leaving the block shuts the app down, which writes every buffered event."""
    with TestClient(
        create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False, follow_redirects=False
    ) as client:
        if api_key:
            client.headers["X-API-Key"] = api_key
        client.headers["User-Agent"] = CHROME
        yield client


def send_campaign(client, runtime, rows: list[list[str]], **options) -> tuple[str, list[dict]]:
    template = create_template(client, "Hi {{ first_name }}", HTML, TEXT)
    file = upload_file(client, csv_bytes(["email", "first_name"], rows))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"], **options)["transaction_id"]
    run_jobs(runtime)
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    assert {m["status"] for m in messages} == {"DELIVERED"}, messages
    return transaction_id, messages


def decorated(client, message: dict) -> email.message.EmailMessage:
    """The message as the send pipeline sent it (the capture transport keeps it)."""
    raw = client.get(f"/api/v1/outbox/{message['message_id']}.eml").content
    return email.message_from_bytes(raw, policy=email.policy.default)


def html_of(mail: email.message.EmailMessage) -> str:
    return mail.get_body(("html",)).get_content()


def hrefs(html: str) -> list[str]:
    return [m[1] or m[2] for m in re.finditer(r"""href=(?:"([^"]*)"|'([^']*)')""", html, re.IGNORECASE)]


def path_of(url: str) -> str:
    assert url.startswith(BASE), url
    return url.removeprefix(BASE)


def message_detail(client, message_id: str) -> dict:
    response = client.get(f"/api/v1/email/messages/{message_id}")
    assert response.status_code == 200, response.text
    return response.json()


def suppressions(client) -> dict[str, dict]:
    return {entry["email"]: entry for entry in all_pages(client, "/api/v1/suppressions")}


@pytest.fixture
def client(runtime, tenant, api_traffic):
    with app_client(runtime, tenant.api_key) as client:
        api_traffic.watch(client)
        yield client


def test_links_go_through_signed_redirects_and_an_open_pixel_is_added(client, runtime):
    _, [message] = send_campaign(client, runtime, [["ada@example.com", "Ada"]])
    mail = decorated(client, message)
    html = html_of(mail)

    links = hrefs(html)
    assert links[2:5] == ["mailto:help@shop.example.com", "tel:+3212345", "#terms"]
    clicks = [link for link in links if "/t/c/" in link]
    assert len(clicks) == 2 and all(link.startswith(f"{BASE}/t/c/") for link in clicks)
    assert not [link for link in links if "shop.example.com" in link and not link.startswith("mailto:")]
    pixel = re.search(r'<img src="([^"]+)" width="1" height="1"', html)
    assert pixel and pixel[1].startswith(f"{BASE}/t/o/") and pixel.end() < html.index("</body>")
    unsubscribe = [link for link in links if link.startswith(f"{BASE}/u/")]
    assert len(unsubscribe) == 1
    assert unsubscribe[0] in mail.get_body(("plain",)).get_content()

    assert mail["List-Unsubscribe"] == (
        # no bounce domain is set, so the mailto goes to the sender's domain
        f"<{unsubscribe[0]}>, <mailto:unsubscribe+{unsubscribe[0].rsplit('/', 1)[1]}@sender.example.com>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["message_id"] not in html  # tokens are signed, not guessable ids


def test_open_pixel_marks_the_message_opened_with_who_opened_it(client, runtime):
    _, messages = send_campaign(client, runtime, [["ada@example.com", "Ada"], ["bob@example.com", "Bob"]])
    ada, bob = sorted(messages, key=lambda m: m["email"])
    pixel = re.search(r'<img src="([^"]+)"', html_of(decorated(client, ada)))[1]

    with app_client(runtime) as recipient:
        for _ in range(3):
            response = recipient.get(path_of(pixel))
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/gif"
            assert response.content.startswith(b"GIF89a")
            assert "no-store" in response.headers["cache-control"]

    detail = message_detail(client, ada["message_id"])
    assert detail["status"] == "OPENED"
    opens = [h for h in detail["history"] if h["type"] == "opened"]
    assert len(opens) == 3
    assert opens[0]["details"]["user_agent"] == CHROME and opens[0]["details"]["ip"]
    assert message_detail(client, bob["message_id"])["status"] == "DELIVERED"


def test_click_redirects_to_exactly_the_linked_url_and_a_late_delivery_keeps_clicked(client, runtime):
    _, [message] = send_campaign(client, runtime, [["ada@example.com", "Ada"]])
    first_link = next(link for link in hrefs(html_of(decorated(client, message))) if "/t/c/" in link)

    with app_client(runtime) as recipient:
        response = recipient.get(path_of(first_link))
    assert response.status_code == 302
    assert response.headers["location"] == OFFER

    detail = message_detail(client, message["message_id"])
    assert detail["status"] == "CLICKED"
    [clicked] = [h for h in detail["history"] if h["type"] == "clicked"]
    assert clicked["details"]["url"] == OFFER and clicked["details"]["user_agent"] == CHROME

    with runtime.db.session() as session:
        event_service.record_many(session, [event_service.NewEvent(uuid.UUID(message["message_id"]), "delivered")])
    assert message_detail(client, message["message_id"])["status"] == "CLICKED"


def test_tampered_or_misused_tokens_answer_404_and_record_nothing(client, runtime):
    _, [message] = send_campaign(client, runtime, [["ada@example.com", "Ada"]])
    html = html_of(decorated(client, message))
    click = path_of(next(link for link in hrefs(html) if "/t/c/" in link))
    pixel = path_of(re.search(r'<img src="([^"]+)"', html)[1])
    unsubscribe = path_of(next(link for link in hrefs(html) if "/u/" in link))
    open_token = pixel.removeprefix("/t/o/").removesuffix(".gif")
    evil_target = tracking.click_token(uuid.UUID(message["message_id"]), "https://evil.example.net/", "another-secret")

    with app_client(runtime) as recipient:
        for path in (
            tamper(click),
            click[:-3],
            f"/t/c/{open_token}",
            f"/t/c/{evil_target}",
            "/t/c/%00%ff",
            "/t/c/" + "A" * 5000,
            tamper(unsubscribe),
            f"/u/{open_token}",
        ):
            response = recipient.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "not_found"
            assert "location" not in response.headers
        assert recipient.post(tamper(unsubscribe)).status_code == 404
        assert recipient.post(f"/u/{open_token}").status_code == 404
        for path in (tamper(pixel), "/t/o/nothing.gif", f"/t/o/{click.removeprefix('/t/c/')}.gif"):
            response = recipient.get(path)
            assert response.status_code == 200 and response.content.startswith(b"GIF89a")

    detail = message_detail(client, message["message_id"])
    assert detail["status"] == "DELIVERED"
    assert [h["type"] for h in detail["history"]] == ["created", "sent", "delivered"]
    assert suppressions(client) == {}


def test_get_unsubscribe_shows_a_button_and_post_unsubscribes_without_login(client, runtime):
    _, [message] = send_campaign(client, runtime, [["ada@example.com", "Ada"]])
    unsubscribe = path_of(next(link for link in hrefs(html_of(decorated(client, message))) if "/u/" in link))

    with app_client(runtime) as recipient:  # no API key, no cookie: what a mailbox provider has
        page = recipient.get(unsubscribe)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert re.search(r'<form method="post">\s*<button type="submit">Unsubscribe</button>', page.text)
        assert suppressions(client) == {}

        one_click = recipient.post(
            unsubscribe,
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 200 and "location" not in one_click.headers
        assert "unsubscribed" in one_click.text
        assert recipient.post(unsubscribe).status_code == 200  # twice is harmless

    entry = suppressions(client)["ada@example.com"]
    assert entry["reason"] == "unsubscribe" and entry["message_id"] == message["message_id"]
    history = message_detail(client, message["message_id"])["history"]
    assert [h["type"] for h in history].count("unsubscribed") == 1


def test_without_tracking_there_is_no_pixel_and_links_are_unchanged_but_unsubscribe_stays(client, runtime):
    transaction_id, [message] = send_campaign(client, runtime, [["ada@example.com", "Ada"]], tracking=False)
    track = campaign(client, transaction_id)["tracking"]
    assert track is False
    mail = decorated(client, message)
    html = html_of(mail)

    assert "/t/o/" not in html and "/t/c/" not in html and "<img" not in html
    assert hrefs(html)[:5] == hrefs(HTML)[:5]
    assert [link for link in hrefs(html) if link.startswith(f"{BASE}/u/")]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_template_that_places_the_unsubscribe_link_gets_no_second_one():
    message_id = uuid.uuid4()
    url = tracking.unsubscribe_url(tracking.unsubscribe_token(message_id, SECRET), BASE)
    html = f'<p>Hi</p><p><a href="{url}">Stop these mails</a> <a href="https://example.com/x">x</a></p>'

    decorated_html = decorate.decorate_html(html, url, message_id, BASE, SECRET, True)
    assert decorated_html.count("/u/") == 1 and f'href="{url}"' in decorated_html
    assert decorated_html.count("/t/c/") == 1
    assert decorated_html.endswith('style="display:block;border:0;width:1px;height:1px">')
    text = f"Hi\nStop: {url}\n"
    assert decorate.decorate_text(text, url) == text


def test_tokens_name_their_message_and_url_and_nothing_else():
    message_id = uuid.uuid4()
    token = tracking.click_token(message_id, "https://example.com/é?a=1&b=2", SECRET)
    assert tracking.read_click(token, SECRET) == (message_id, "https://example.com/é?a=1&b=2")
    assert tracking.read_open(tracking.open_token(message_id, SECRET), SECRET) == message_id
    unsubscribe = tracking.unsubscribe_token(message_id, SECRET)
    assert tracking.read_unsubscribe(unsubscribe, SECRET) == message_id
    assert len(unsubscribe) <= 64 - len("unsubscribe+")  # fits a mailto local part
    for bad in (tamper(token), token + "A", "", "!!!", unsubscribe):
        with pytest.raises(tracking.BadToken):
            tracking.read_click(bad, SECRET)
    with pytest.raises(tracking.BadToken):
        tracking.read_unsubscribe(unsubscribe, "another-secret")


def tamper(path: str) -> str:
    """The same token (or the path ending with one) with one character of its payload changed."""
    i = path.rfind("/") + 12
    return path[:i] + ("B" if path[i] != "B" else "C") + path[i + 1 :]
