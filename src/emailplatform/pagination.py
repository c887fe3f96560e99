"""Keyset pagination: lists of a million messages page as fast as lists of ten."""

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from emailplatform.errors import Invalid

T = TypeVar("T")
MAX_LIMIT = 500
BIGINT = range(-(2**63), 2**63)  # what an integer column holds


def _page_example(schema: dict, page: type[BaseModel]) -> None:
    """A page's example: its item type's first example, and a cursor to the next page."""
    (item,) = get_args(page.model_fields["items"].annotation)
    is_model = isinstance(item, type) and issubclass(item, BaseModel)
    extra = item.model_config.get("json_schema_extra") if is_model else None
    if isinstance(extra, dict) and extra.get("examples"):
        schema["examples"] = [{"items": extra["examples"][:1], "next_cursor": "WyIyMDI2LTEyLTAxVDA5OjAwOjAwWiJd"}]


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(json_schema_extra=_page_example)

    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass it as `cursor` to get the next page; null on the last page."
    )


def paginate(session: Session, stmt: Select, keys: tuple, *, cursor: str | None, limit: int, descending: bool = False):
    """Objects of `stmt` (a select of one entity, or rows of a select of columns) ordered by `keys`, which
    together are unique, after `cursor`; and the cursor of the next page, None on the last."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if cursor:
        values = _decode(cursor, keys)
        stmt = stmt.where(tuple_(*keys) < tuple_(*values) if descending else tuple_(*keys) > tuple_(*values))
    order = [k.desc() for k in keys] if descending else list(keys)
    result = session.execute(stmt.order_by(*order).limit(limit + 1))
    rows = list(result.scalars() if len(stmt.column_descriptions) == 1 else result)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode([getattr(rows[-1], k.key) for k in keys]) if more else None
    return rows, next_cursor


def paginate_by_offset(fetch: Callable[[int, int], list], *, cursor: str | None, limit: int):
    """Rows of a list ordered by what it counts (a breakdown: no key of its own to page by): `fetch(offset,
    count)` gives `count` rows from `offset`; and the cursor of the next page, None on the last."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    offset = _decode_offset(cursor) if cursor else 0
    rows = fetch(offset, limit + 1)
    return rows[:limit], _encode(["offset", offset + limit]) if len(rows) > limit else None


def _decode_offset(cursor: str) -> int:
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        plain = None
    if not (
        isinstance(plain, list)
        and len(plain) == 2
        and plain[0] == "offset"
        and type(plain[1]) is int
        and 0 <= plain[1] < 2**31
    ):
        raise Invalid("the cursor is not one this API gave out", field="cursor")
    return plain[1]


def _encode(values: list) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, keys: tuple) -> list:
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(plain, list) or len(plain) != len(keys):
            raise ValueError
        return [_typed(key.type.python_type, value) for key, value in zip(keys, plain)]
    except (ValueError, TypeError, AttributeError):
        raise Invalid("the cursor is not one this API gave out", field="cursor") from None


def _typed(python_type: type, value):
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    typed = python_type(value)
    if python_type is int and typed not in BIGINT:
        raise ValueError
    return typed
