"""What is kept of an erased address: a hash, salted with its tenant, that still matches the address."""

import hashlib
import uuid
from functools import lru_cache

PREFIX = "sha256:"


@lru_cache(maxsize=1024)
def _salted(tenant_id: uuid.UUID):
    return hashlib.sha256(f"{tenant_id}:".encode())


def address_hash(tenant_id: uuid.UUID, email: str) -> str:
    """The erased form of an address (lowercased first): the same for the same tenant and address, never the
    address itself. The suppression check hashes every address it is asked about, so the salt's state is made
    once per tenant and copied."""
    hasher = _salted(tenant_id).copy()
    hasher.update(email.strip().lower().encode())
    return PREFIX + hasher.hexdigest()
