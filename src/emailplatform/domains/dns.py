"""Asking DNS what a domain publishes: TXT, CNAME and MX answers as plain strings, and DNS failures kept
apart from answers (a timeout says nothing about the records; "no such record" does)."""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

EDNS_PAYLOAD = 1232  # a 2048-bit DKIM record does not fit the 512 bytes of plain DNS over UDP


@dataclass(frozen=True)
class Answer:
    values: list[str]
    error: str | None = None  # the lookup failed (timeout, SERVFAIL…): values tell nothing


def make_resolver(nameservers: Sequence[str], lifetime: float) -> dns.resolver.Resolver:
    """A resolver asking `nameservers` ("host", "host:port", "[v6 address]:port"); none: the system's. A lookup,
    retries included, gives up after `lifetime` seconds."""
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(*_host_port(ns)) for ns in nameservers]
    resolver.lifetime = lifetime
    resolver.use_edns(0, 0, EDNS_PAYLOAD)
    return resolver


def lookup_all(resolver: dns.resolver.Resolver, queries: Sequence[tuple[str, str]]) -> list[Answer]:
    """The answers to (name, type) queries, asked at the same time."""
    with ThreadPoolExecutor(max_workers=len(queries) or 1) as pool:
        return list(pool.map(lambda query: lookup(resolver, *query), queries))


def lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> Answer:
    try:
        answer = resolver.resolve(name, rdtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return Answer([])
    except dns.exception.DNSException as exc:
        return Answer([], error=f"the DNS lookup of {rdtype} {name} failed: {exc}")
    return Answer([_text(rdata) for rdata in answer if rdata.rdtype == dns.rdatatype.from_text(rdtype)])


def _text(rdata) -> str:
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdata.rdtype == dns.rdatatype.MX:
        return f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True).lower()}"
    return rdata.target.to_text(omit_final_dot=True).lower()


def _host_port(nameserver: str) -> tuple[str, int]:
    if nameserver.startswith("["):
        host, _, port = nameserver[1:].partition("]:")
        return host.rstrip("]"), int(port or 53)
    if nameserver.count(":") == 1:
        host, port = nameserver.split(":")
        return host, int(port)
    return nameserver, 53
