"""Cursor pages: ``{"items": [...], "next_cursor": "..." | null}`` for any list in a stable order.

The cursor is opaque to clients: URL-safe base64 of the JSON sort key of the last item given (a
point in time in it is its ISO-8601 text). A list passes ``next_cursor`` back as ``cursor`` to get
the page after it. ``store/view_pages.py`` explains why keyset pages over an immutable key give
each case once per pass."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel

from api.deps import EngineDep
from api.problems import invalid
from store.view_pages import CaseRow, CaseViews, Key, Order, key_of

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


#: One part of a sort key: a number, a text, or a point in time (kept as its ISO-8601 text).
KeyPart = str | int | datetime


def in_utc(value: datetime | None) -> datetime | None:
    """A time given with any zone, in UTC (as the tables keep it); one that leaves the calendar
    in UTC (year 1 at +01:00) is refused."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("a time between the years 1 and 9999 in UTC") from None


#: The ``opened_after`` / ``opened_before`` filters of a list (strict).
OpenedBound = Annotated[
    AwareDatetime | None, AfterValidator(in_utc), Query(description="an ISO-8601 time with its zone (strict)")
]
#: The ``updated_after`` filter: cases changed at or after this time, oldest change first.
UpdatedAfter = Annotated[
    AwareDatetime | None,
    AfterValidator(in_utc),
    Query(
        description="only cases changed at or after this ISO-8601 time, oldest change first (a sync: ask"
        " again from the updated_at of the last case taken, a little earlier; dedupe by id and version)"
    ),
]


def encode_cursor(key: Sequence[KeyPart]) -> str:
    """The opaque cursor of a sort key (JSON numbers and strings; times as ISO-8601 text)."""
    parts = [part.isoformat() if isinstance(part, datetime) else part for part in key]
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: Sequence[type], field: str = "cursor") -> list[Any] | None:
    """The sort key inside ``cursor`` (None for none), checked against ``shape`` (the type of each
    part: ``int``, ``str`` or ``datetime``); a cursor this API did not make is a 422 naming ``field``."""
    if cursor is None:
        return None
    key = _key_in(cursor, shape)
    if key is None:
        raise invalid(field, "not a cursor of this list: pass next_cursor of the previous page")
    return key


def _key_in(cursor: str, shape: Sequence[type]) -> list[Any] | None:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(key, list) or len(key) != len(shape):
        return None
    parts: list[Any] = []
    for part, kind in zip(key, shape, strict=True):
        if kind is datetime and type(part) is str:
            try:
                part = in_utc(datetime.fromisoformat(part)) if part.endswith(("Z", "+00:00")) else None
            except ValueError:
                return None
            if part is None:
                return None
        elif type(part) is not kind or (type(part) is int and not 0 <= part < 2**63):
            return None
        parts.append(part)
    return parts


def is_cursor(cursor: str, shape: Sequence[type]) -> bool:
    """Whether ``cursor`` is a cursor of a list of this ``shape`` (an event feed's ``after`` may
    also be an event id)."""
    return _key_in(cursor, shape) is not None


def page_of(
    rows: Sequence[Row], limit: int, key: Callable[[Row], Sequence[KeyPart]]
) -> tuple[list[Row], str | None]:
    """The first ``limit`` of ``rows`` (fetch ``limit + 1`` to know whether more follow) and the
    cursor after the last of them, or None when nothing follows."""
    shown = list(rows[:limit])
    return shown, encode_cursor(key(shown[-1])) if len(rows) > limit and shown else None


def _views(engine: EngineDep) -> CaseViews:
    return CaseViews(engine)


#: The read model's lists (``store/view_pages.py``).
CaseViewsDep = Annotated[CaseViews, Depends(_views)]


def case_after(cursor: str | None, order: Order) -> Key | None:
    """Where a page of cases in ``order`` starts: the key in ``cursor`` (422 naming ``cursor`` when
    it is not one, or was made for a list in the other order)."""
    key = decode_cursor(cursor, (str, datetime, str))
    if key is None:
        return None
    if key[0] != order.value:
        raise invalid(
            "cursor",
            "made for this list with"
            + (" " if order is Order.OPENED else "out ")
            + "updated_after: keep the filters of the first page",
        )
    return key[1], key[2]


def case_cursor(rows: Sequence[CaseRow], more: bool, order: Order) -> str | None:
    """The ``next_cursor`` after ``rows`` in ``order``; None on the last page."""
    if not more or not rows:
        return None
    return encode_cursor([order.value, *key_of(rows[-1], order)])
