"""Cursor pages: ``{"items": [...], "next_cursor": "..." | null}`` for any list in a stable order.

The cursor is opaque to clients: URL-safe base64 of the JSON sort key of the last item given.
A list passes ``next_cursor`` back as ``cursor`` to get the page after it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from api.problems import invalid

T = TypeVar("T")
Row = TypeVar("Row")

#: The ``limit`` parameter of a cursor-paged list.
Limit = Annotated[int, Query(ge=1, le=500, description="items per page (at most 500)")]
#: The ``cursor`` parameter: ``next_cursor`` of the page before.
CursorParam = Annotated[
    str | None, Query(max_length=512, description="next_cursor of the previous page; none for the first")
]


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(key: Sequence[str | int]) -> str:
    """The opaque cursor of a sort key (JSON numbers and strings)."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: Sequence[type], field: str = "cursor") -> list[Any] | None:
    """The sort key inside ``cursor`` (None for none), checked against ``shape`` (the type of each
    part); a cursor this API did not make is a 422 naming ``field``."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if (
        not isinstance(key, list)
        or len(key) != len(shape)
        or not all(type(part) is kind for part, kind in zip(key, shape, strict=True))
        or any(type(part) is int and not 0 <= part < 2**63 for part in key)
    ):
        raise invalid(field, "not a cursor of this list: pass next_cursor of the previous page")
    return key


def page_of(
    rows: Sequence[Row], limit: int, key: Callable[[Row], Sequence[str | int]]
) -> tuple[list[Row], str | None]:
    """The first ``limit`` of ``rows`` (fetch ``limit + 1`` to know whether more follow) and the
    cursor after the last of them, or None when nothing follows."""
    shown = list(rows[:limit])
    return shown, encode_cursor(key(shown[-1])) if len(rows) > limit and shown else None
