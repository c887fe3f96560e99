"""What is kept of an erased address: a hash, salted with its tenant, that still matches the address."""

import hashlib
import uuid

PREFIX = "sha256:"


def address_hash(tenant_id: uuid.UUID, email: str) -> str:
    """The erased form of an address (lowercased first): the same for the same tenant and address, never the
    address itself."""
    return PREFIX + hashlib.sha256(f"{tenant_id}:{email.strip().lower()}".encode()).hexdigest()
