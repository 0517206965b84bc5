"""Saved replies (macros): the placeholder grammar and the placeholders each kind of case fills.

A placeholder is a name in braces, ``{order_id}``; any other brace is plain text. Nothing is
evaluated (unlike ``str.format``, no attribute or index is ever looked up): a placeholder is only
replaced by the value of that name."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

#: ``{name}``: a placeholder; ``{ name }``, ``{}``, ``{0}`` and ``{a.b}`` are text.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: The placeholders a macro may use, per kind of case, with what each is filled with.
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "dispute": {
        "case_id": "the dispute's id",
        "status": "the dispute's status now (IN_MEDIATION, ...)",
        "order_id": "the order complained about",
        "buyer_id": "the buyer",
        "seller_id": "the seller",
        "order_total": "the order total in rupiah, written Rp150.000",
        "due_at": "the nearest deadline a party has now, as 2026-11-27 04:20 UTC",
    },
    "ticket": {
        "case_id": "the report's id",
        "status": "the report's status now (AWAITING_CARE, ...)",
        "user_id": "the reporting user",
        "topic": "the report's topic (REFUNDS, ...)",
        "order_id": "the order the report is about (applying is refused for a report without one)",
        "due_at": "the nearest deadline the user has now, as 2026-11-27 04:20 UTC",
    },
}


def placeholders(text: str) -> list[str]:
    """The placeholders ``text`` uses, each once, in order of first use."""
    return list(dict.fromkeys(match.group(1) for match in PLACEHOLDER.finditer(text)))


def known(kind: str | None) -> dict[str, str]:
    """The placeholders a macro for ``kind`` may use; for any kind (``None``), those of some kind
    (applying it to a kind without one of them is refused then)."""
    if kind is not None:
        return PLACEHOLDERS[kind]
    merged: dict[str, str] = {}
    for names in PLACEHOLDERS.values():
        for name, meaning in names.items():
            merged.setdefault(name, meaning)
    return merged


class MissingValue(Exception):
    """A placeholder the case has no value for (a report about no order, no deadline running)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def fill(text: str, values: Mapping[str, str | None]) -> str:
    """``text`` with each placeholder replaced by its value; ``MissingValue`` for one without."""

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        if found is None:
            raise MissingValue(match.group(1))
        return found

    return PLACEHOLDER.sub(value, text)


def strings(body: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string in a JSON ``body``, with its path (keys and list positions)."""
    if isinstance(body, str):
        yield path, body
    elif isinstance(body, dict):
        for key, item in body.items():
            yield from strings(item, (*path, str(key)))
    elif isinstance(body, list):
        for index, item in enumerate(body):
            yield from strings(item, (*path, str(index)))


def fill_body(body: Any, values: Mapping[str, str | None]) -> Any:
    """A JSON ``body`` with the placeholders of each of its strings filled (keys stay as they are)."""
    if isinstance(body, str):
        return fill(body, values)
    if isinstance(body, dict):
        return {key: fill_body(item, values) for key, item in body.items()}
    if isinstance(body, list):
        return [fill_body(item, values) for item in body]
    return body


def rupiah(amount: int) -> str:
    """An amount as Indonesians write it: Rp150.000."""
    return "Rp" + f"{amount:,}".replace(",", ".")
