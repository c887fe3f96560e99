"""Whether receivers will believe the sender: the message's DKIM signature verified against the key DNS publishes
(dkimpy, asking DNS through dnspython), the From domain's SPF and DMARC records, and DMARC alignment.

Alignment is relaxed alignment as most DMARC records ask: the DKIM `d=` domain (or the return path's domain, for
SPF) is the From domain, or one is a subdomain of the other."""

import dkim
import dns.resolver

from emailplatform.config import Settings
from emailplatform.deliverability.findings import Finding, Severity
from emailplatform.domains import dns as dns_lookup
from emailplatform.domains import service as domain_service

GMAIL_BULK = "Gmail and Yahoo require SPF, DKIM and DMARC of senders of bulk mail"


def aligned(domain: str, from_domain: str) -> bool:
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    return domain == from_domain or domain.endswith("." + from_domain) or from_domain.endswith("." + domain)


def check(raw: bytes, from_domain: str, return_path_domain: str, settings: Settings) -> list[Finding]:
    """The DKIM, SPF and DMARC findings of a message as it would be sent."""
    resolver = dns_lookup.make_resolver(settings.dns_nameservers, settings.dns_timeout_seconds)
    spf_answer, dmarc_answer = dns_lookup.lookup_all(resolver, [(from_domain, "TXT"), (f"_dmarc.{from_domain}", "TXT")])
    dkim_finding, dkim_aligned = _dkim(raw, from_domain, resolver)
    spf_finding = _spf(spf_answer, from_domain, return_path_domain, settings)
    spf_aligned = aligned(return_path_domain, from_domain)
    return [dkim_finding, spf_finding, _dmarc(dmarc_answer, from_domain, dkim_aligned or spf_aligned)]


def _dkim(raw: bytes, from_domain: str, resolver: dns.resolver.Resolver) -> tuple[Finding, bool]:
    """The DKIM finding, and whether the message carries a valid signature aligned with From."""
    register = (
        f"register {from_domain} under Settings → Sending domains (POST /api/v1/domains), publish the DKIM "
        "record it shows and verify it: its messages are then signed"
    )
    signatures = [value for name, value in dkim.rfc822_parse(raw)[0] if name.lower() == b"dkim-signature"]
    if not signatures:
        return Finding(
            "dkim",
            Severity.ERROR,
            f"the message is not DKIM-signed: {from_domain} is not a verified sending domain of yours",
            register,
        ), False
    tags = dict(part.strip().split(b"=", 1) for part in signatures[0].split(b";") if b"=" in part)
    signer = tags.get(b"d", b"").strip().decode("ascii", "replace")
    record = f"{tags.get(b's', b'').strip().decode('ascii', 'replace')}._domainkey.{signer}"
    key = dns_lookup.lookup(resolver, record, "TXT")
    if key.error:
        return Finding("dkim", Severity.SKIPPED, key.error, "check again later: DNS did not answer"), False
    if not key.values:
        return Finding(
            "dkim",
            Severity.ERROR,
            f"no DKIM key is published at {record}: receivers cannot check the signature",
            f"publish the DKIM record of {signer} as Sending domains shows it",
        ), False
    if not dkim.verify(raw, dnsfunc=lambda _name, timeout=5: key.values[0].encode()):
        return Finding(
            "dkim",
            Severity.ERROR,
            f"the DKIM signature (d={signer}) does not verify against the key at {record}",
            f"publish the DKIM record of {signer} exactly as Sending domains shows it",
        ), False
    if not aligned(signer, from_domain):
        return Finding(
            "dkim",
            Severity.WARNING,
            f"the DKIM signature is valid but for {signer}, not the From domain {from_domain}: DMARC does not count it",
            register,
        ), False
    return Finding("dkim", Severity.PASS, f"signed by {signer} (key at {record}), and the signature verifies"), True


def _spf(answer: dns_lookup.Answer, from_domain: str, return_path_domain: str, settings: Settings) -> Finding:
    mechanism = domain_service.spf_mechanism(settings)
    publish = f'publish a TXT record at {from_domain}: "v=spf1 {mechanism} ~all"'
    if answer.error:
        return Finding("spf", Severity.SKIPPED, answer.error, "check again later: DNS did not answer")
    records = [text for text in answer.values if text.lower().split(" ", 1)[0] == "v=spf1"]
    if not records:
        return Finding("spf", Severity.WARNING, f"{from_domain} publishes no SPF record; {GMAIL_BULK}", publish)
    if len(records) > 1:
        return Finding(
            "spf",
            Severity.ERROR,
            f"{from_domain} publishes {len(records)} SPF records: receivers treat that as an error",
            "merge them into one TXT record that starts with v=spf1",
        )
    terms = {term.lstrip("+") for term in records[0].lower().split()}
    if mechanism not in terms and mechanism.replace("include:", "redirect=") not in terms:
        return Finding(
            "spf",
            Severity.WARNING,
            f"the SPF record of {from_domain} does not allow this platform's servers ({mechanism})",
            f"add {mechanism} to it, before the all at its end",
        )
    if not aligned(return_path_domain, from_domain):
        return Finding(
            "spf",
            Severity.INFO,
            f"the SPF record of {from_domain} allows this platform, but bounces go "
            f"to {return_path_domain}: SPF does not align with From, so DMARC rests on DKIM",
        )
    return Finding("spf", Severity.PASS, f"the SPF record of {from_domain} allows this platform ({mechanism})")


def _dmarc(answer: dns_lookup.Answer, from_domain: str, any_aligned: bool) -> Finding:
    name = f"_dmarc.{from_domain}"
    if answer.error:
        return Finding("dmarc", Severity.SKIPPED, answer.error, "check again later: DNS did not answer")
    records = [text for text in answer.values if text.replace(" ", "").upper().startswith("V=DMARC1")]
    if not records:
        return Finding(
            "dmarc",
            Severity.WARNING,
            f"{from_domain} publishes no DMARC record; {GMAIL_BULK}",
            f'publish a TXT record at {name}: "v=DMARC1; p=none; rua=mailto:dmarc@{from_domain}"',
        )
    if len(records) > 1:
        return Finding(
            "dmarc", Severity.ERROR, f"{name} has {len(records)} DMARC records: receivers ignore them all", "keep one"
        )
    if not any_aligned:
        return Finding(
            "dmarc",
            Severity.ERROR,
            f"DMARC will fail: neither a DKIM signature nor SPF aligns with {from_domain}",
            f"sign with {from_domain}'s own DKIM key: verify it under Sending domains",
        )
    policy = (
        dict(tag.strip().split("=", 1) for tag in records[0].split(";") if "=" in tag).get("p", "none").strip().lower()
    )
    if policy == "none":
        return Finding(
            "dmarc",
            Severity.INFO,
            f"DMARC passes; {from_domain}'s policy is p=none (monitoring only)",
            "once its reports show all your mail passing, move to p=quarantine",
        )
    return Finding("dmarc", Severity.PASS, f"DMARC passes, and {from_domain}'s policy is p={policy}")
