"""Whether the links of a message lead anywhere: each one asked with httpx (HEAD, then GET when HEAD is not
allowed), its redirects followed a few hops. Bounded (at most `link_check_max_links` links, a few at a time, each
with a timeout) and SSRF-safe as webhooks are: every hop's host is resolved, every address checked
(webhooks/ssrf.py), and the connection goes to the address checked, with the URL's name kept for Host and TLS."""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from emailplatform import __version__
from emailplatform.config import Settings
from emailplatform.webhooks import ssrf

MAX_REDIRECTS = 5
CONCURRENCY = 6
HEAD_REFUSED = {403, 405, 501}  # servers that answer HEAD so, yet serve GET
USER_AGENT = f"emailplatform-link-check/{__version__}"


@dataclass(frozen=True)
class LinkResult:
    url: str
    status: int | None  # the last answer's HTTP status; None when there was none
    problem: str | None  # why a recipient would not get the page; None when the link works


async def check_links(urls: list[str], settings: Settings) -> list[LinkResult]:
    """Each URL's result, in order (at most `link_check_max_links` of them)."""
    slots = asyncio.Semaphore(CONCURRENCY)
    timeout = httpx.Timeout(settings.link_check_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:

        async def one(url: str) -> LinkResult:
            async with slots:
                return await _check(client, url, settings)

        return await asyncio.gather(*(one(url) for url in urls[: settings.link_check_max_links]))


async def _check(client: httpx.AsyncClient, url: str, settings: Settings) -> LinkResult:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = await _ask(client, current, settings)
        except ssrf.RefusedDestination as exc:
            return LinkResult(url, None, str(exc))
        except httpx.TimeoutException:
            return LinkResult(url, None, f"the server did not answer within {settings.link_check_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return LinkResult(url, None, f"the server cannot be reached: {exc or type(exc).__name__}")
        location = response.headers.get("location")
        if response.is_redirect and location:
            current = urljoin(current, location)
            continue
        if response.status_code >= 400:
            answer = f"the server answers {response.status_code} {response.reason_phrase}"
            return LinkResult(url, response.status_code, answer)
        return LinkResult(url, response.status_code, None)
    return LinkResult(url, None, f"it redirects more than {MAX_REDIRECTS} times")


async def _ask(client: httpx.AsyncClient, url: str, settings: Settings) -> httpx.Response:
    """HEAD (GET when HEAD is refused) sent to an address of the URL's host that ssrf allows."""
    host, port = ssrf.split_url(url)
    address = await _allowed_address(host, port, settings)
    target = httpx.URL(url).copy_with(host=address)
    headers = {"Host": httpx.URL(url).netloc.decode("ascii"), "User-Agent": USER_AGENT}
    extensions = {"sni_hostname": host}
    response = await client.head(target, headers=headers, extensions=extensions)
    if response.status_code in HEAD_REFUSED:
        async with client.stream("GET", target, headers=headers, extensions=extensions) as streamed:
            return streamed  # the status is all that is needed: the body is never read
    return response


async def _allowed_address(host: str, port: int, settings: Settings) -> str:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ssrf.RefusedDestination(f"{host} does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise ssrf.RefusedDestination(f"{host} does not resolve")
    if not ssrf.is_allowed_host(host, settings):
        for address in addresses:
            reason = ssrf.refusal(ipaddress.ip_address(address.split("%", 1)[0]))
            if reason:
                raise ssrf.RefusedDestination(f"{host} resolves to {reason}, which recipients cannot reach")
    return addresses[0]
