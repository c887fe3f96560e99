"""A webhook URL is chosen by a customer: only http(s) to globally routable addresses, unless the host is allowed.

The name is resolved (A and AAAA) and every address checked, when a URL is accepted and at every delivery;
and the connection itself goes to an address checked at connect time (CheckedResolver), so a name that
resolves differently a moment later (DNS rebinding) cannot reach an internal address.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp import ThreadedResolver
from aiohttp.abc import ResolveResult

from emailplatform.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REFUSED_NETWORKS = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this" network
        "100.64.0.0/10",  # carrier-grade NAT (and Alibaba's metadata, 100.100.100.200)
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
        "192.0.0.0/24",  # IETF protocol assignments (Oracle's metadata, 192.0.0.192)
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "64:ff9b::/96",  # NAT64: an IPv4 address behind an IPv6 one
        "64:ff9b:1::/48",
        "2002::/16",  # 6to4
        "fc00::/7",  # unique local (AWS's IPv6 metadata, fd00:ec2::254)
        "fec0::/10",  # site-local (deprecated, yet routed inside some networks)
        "3fff::/20",  # documentation
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
]


class RefusedDestination(Exception):
    """A URL or address webhooks may not go to; the message says why."""


def split_url(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedDestination(f"the URL is malformed: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise RefusedDestination("only http and https URLs are allowed")
    if not parts.hostname:
        raise RefusedDestination("the URL has no host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_allowed_host(host: str, settings: Settings) -> bool:
    return host.lower().rstrip(".") in {allowed.lower().rstrip(".") for allowed in settings.webhook_allowed_hosts}


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to `address` (what kind of address it is, never the address: a tenant must not
    learn what internal names resolve to), or None when it is a globally routable one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in REFUSED_NETWORKS if network.version == address.version):
        return "an address of a reserved range"
    for kind in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not address.is_global:
        return "an address that is not globally routable"
    return None


def check_addresses(host: str, addresses: list[str]) -> None:
    """RefusedDestination unless `host` resolved to addresses, all of them allowed."""
    if not addresses:
        raise RefusedDestination(f"{host} does not resolve to any address")
    for address in addresses:
        reason = refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if reason:
            raise RefusedDestination(f"{host} resolves to {reason}, which webhooks may not go to")


def check_url(url: str, settings: Settings) -> None:
    """Blocking: resolve the URL's host and check every address."""
    host, port = split_url(url)
    if is_allowed_host(host, settings):
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RefusedDestination(f"{host} does not resolve") from None
    check_addresses(host, [str(info[4][0]) for info in infos])


async def check_url_async(url: str, settings: Settings) -> None:
    """check_url without blocking the event loop (an IP literal is checked too: it resolves to itself)."""
    host, port = split_url(url)
    if is_allowed_host(host, settings):
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RefusedDestination(f"{host} does not resolve") from None
    check_addresses(host, [str(info[4][0]) for info in infos])


class CheckedResolver(ThreadedResolver):
    """aiohttp's resolver, for connections: it answers only when every address is allowed, and the connection
    goes to one of the addresses it answered. TLS (SNI, certificate) stays on the URL's name.
    aiohttp does not ask it about IP literals: check_url_async checks those before every request."""

    def __init__(self, settings: Settings):
        super().__init__()
        self.settings = settings

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        if not is_allowed_host(host, self.settings):
            check_addresses(host, [result["host"] for result in results])
        return results
