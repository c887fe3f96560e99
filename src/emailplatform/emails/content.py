"""A transactional email's content, kept in its one batch's chunk (JSON where a campaign's is CSV): its own
subject, HTML and text (or its template's data), its To and Cc as every recipient sees them, its extra headers
and attachments. The send pipeline reads it back (sending/contents.py) as what a campaign's batch gives it: a
template to render, the skeleton every recipient's copy is built on, and each recipient's data."""

import json
import uuid
from dataclasses import dataclass

from emailplatform.runtime import Storage
from emailplatform.templates import rendering


def chunk_key(tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> str:
    return f"tenants/{tenant_id}/emails/{transaction_id}.json"


def store(storage: Storage, key: str, content: dict, recipients: int, data: dict) -> None:
    """`content`: subject, html, text (None with a template), to, cc, headers, attachments (content in base64)."""
    storage.put(key, json.dumps({"rows": [data] * recipients, "email": content}).encode())


def read(storage: Storage, key: str) -> dict:
    with storage.open(key) as stream:
        return json.load(stream)


@dataclass(frozen=True)
class OwnContent:
    """An email's own subject and bodies, sent as they are: nothing in them is a placeholder."""

    rendered: rendering.Rendered

    def render(self, _data: dict) -> rendering.Rendered:
        return self.rendered
