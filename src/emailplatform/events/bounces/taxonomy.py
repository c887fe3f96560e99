"""The reasons a bounce can give, one fixed list, and which of them are hard.

The names follow Sisimai's taxonomy, the most complete public one (rate limits and too many
connections are one reason here). A reason is HARD only when it says the address itself is bad,
and only when the failure was permanent (5xx / 5.x.x): everything else, including a refusal of the
sender, never suppresses the recipient. The list is printed in the README.
"""

REASONS: dict[str, str] = {
    # the address is bad: hard when permanent
    "userunknown": "the mailbox does not exist at that domain",
    "hostunknown": "the domain does not exist or has no mail server",
    "hasmoved": "the mailbox has moved and gives no forward",
    "notaccept": "the domain accepts no mail at all (null MX)",
    # the recipient's mailbox, for now
    "mailboxfull": "the mailbox is over its quota",
    "suspend": "the mailbox is disabled or suspended for a while",
    "mesgtoobig": "the message is larger than the mailbox or server accepts",
    "exceedlimit": "the message exceeds a size or recipient limit of the recipient",
    "onhold": "delivery is held; the outcome is not known yet",
    # the sender, the message or the connection: never the address
    "filtered": "the recipient's own filter refused the message",
    "spamdetected": "the message was taken for spam",
    "virusdetected": "the message was taken to carry malware",
    "contenterror": "the message's content or format was refused",
    "policyviolation": "the message broke the recipient domain's policy",
    "securityerror": "the sender failed authentication (SPF, DKIM, DMARC, TLS)",
    "blocked": "the sending IP or domain is on a block list or has a bad reputation",
    "rejected": "the envelope sender was refused",
    "norelaying": "the server refused to relay for the sender",
    "ratelimited": "too many messages or connections; try again later (greylisting too)",
    "expired": "the message could not be delivered before the queue gave up",
    "networkerror": "a DNS or network failure on the way",
    "systemerror": "the recipient's server failed",
    "systemfull": "the recipient's server is out of disk",
    "syntaxerror": "an SMTP command was refused as malformed",
    "undefined": "a failure that says nothing more specific",
    # not failures
    "delivered": "a delivery notice: the message arrived (or was relayed on)",
    "vacation": "an out-of-office or other automatic reply",
    "feedback": "a complaint: the recipient reported the message as spam (ARF)",
}

HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})


def is_hard(reason: str, permanent: bool) -> bool:
    """Hard: the address itself is bad, and the server said so for good."""
    return permanent and reason in HARD_REASONS
