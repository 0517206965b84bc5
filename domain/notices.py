"""Notices in the party's language: a notice is a template id with its parameters, rendered for
the party's locale (Indonesian unless the claim or report asked for English).

The texts live in ``domain/notice_texts.py``: one entry per template id with its Indonesian and
English text, ``{param}`` placeholders, and the words parameters are rendered with (roles,
actions, reasons, ...). Rendering is pure: the workflow renders a notice when it queues it, and
the text, the template id, its parameters and the locale travel together to the platform, so a
platform may render its own. docs/architecture.md, *Adding a notice*, says how to add one."""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from domain.notice_texts import TEMPLATES, TERMS
from domain.types import DEFAULT_LOCALE, Locale


class ParamKind(StrEnum):
    """How a parameter's value is written in a text (its JSON value stays as given)."""

    TEXT = "text"
    DATETIME = "datetime"
    DURATION = "duration"
    RUPIAH = "rupiah"
    ROLE = "role"
    DID = "did"
    TODO = "todo"
    REASON = "reason"
    STATUS = "status"
    SOLUTION = "solution"
    TOPIC = "topic"
    EVIDENCE = "evidence"


#: How each parameter name is rendered; any other name is written as given (ids, care's words).
#: A term kind (role, did, ...) looks its value up in ``TERMS[kind]``.
PARAM_KINDS: dict[str, ParamKind] = {
    "due_at": ParamKind.DATETIME,
    "appeal_until": ParamKind.DATETIME,
    "review_due_at": ParamKind.DATETIME,
    "within": ParamKind.DURATION,
    "waited": ParamKind.DURATION,
    "closes_in": ParamKind.DURATION,
    "amount": ParamKind.RUPIAH,
    "refunded": ParamKind.RUPIAH,
    "released": ParamKind.RUPIAH,
    "actor": ParamKind.ROLE,
    "by": ParamKind.ROLE,
    "other": ParamKind.ROLE,
    "silent": ParamKind.ROLE,
    "shipper": ParamKind.ROLE,
    "action": ParamKind.DID,
    "todo": ParamKind.TODO,
    "reason": ParamKind.REASON,
    "status": ParamKind.STATUS,
    "solution": ParamKind.SOLUTION,
    "topic": ParamKind.TOPIC,
    "evidence_type": ParamKind.EVIDENCE,
}

_DURATION = TypeAdapter(timedelta)
_JSON = TypeAdapter(dict[str, Any])
_MONTHS = {
    Locale.ID: ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"],
    Locale.EN: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}
_UNITS = {
    Locale.ID: {"d": ("hari",) * 2, "h": ("jam",) * 2, "m": ("menit",) * 2, "s": ("detik",) * 2},
    Locale.EN: {
        "d": ("day", "days"),
        "h": ("hour", "hours"),
        "m": ("minute", "minutes"),
        "s": ("second", "seconds"),
    },
}


#: How a value without words of its own is said (an action registered without its terms yet).
_UNKNOWN = {
    ParamKind.DID: {Locale.ID: "melakukan '{}'", Locale.EN: "did '{}'"},
    ParamKind.TODO: {Locale.ID: "lakukan '{}'", Locale.EN: "do '{}'"},
}


class MissingParameter(KeyError):
    """A template names a parameter the notice does not give (caught by the tests, never at run time)."""


def as_params(**values: Any) -> dict[str, Any]:
    """Parameters as notices carry them: JSON values (times in ISO 8601 UTC, durations as ISO 8601
    durations, solutions as ``{"kind", "amount"}``, enums by value)."""
    utc = {name: v.astimezone(UTC) if isinstance(v, datetime) else v for name, v in values.items()}
    params: dict[str, Any] = _JSON.dump_python(utc, mode="json", exclude_none=True)
    return params


def placeholders(text: str) -> list[str]:
    """The parameter names ``text`` uses, in order."""
    return [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]


def render(template: str, params: Mapping[str, Any], locale: Locale | str, *, strict: bool = False) -> str:
    """The text of ``template`` for ``locale`` with ``params`` written in.

    An unknown template or locale falls back to the default locale's text, a missing parameter
    to its placeholder (``strict``: both raise, for the tests): a notice never fails a case."""
    texts = TEMPLATES.get(template)
    if texts is None:
        if strict:
            raise KeyError(f"no notice template {template!r}")
        return template
    chosen = Locale(locale) if locale in tuple(Locale) else DEFAULT_LOCALE
    if strict and chosen not in texts:
        raise KeyError(f"notice template {template!r} has no {chosen.value!r} text")
    text = texts.get(chosen) or texts[DEFAULT_LOCALE]
    out = ""
    for literal, field, _, _ in string.Formatter().parse(text):
        out += literal
        if field is None:
            continue
        if field not in params:
            if strict:
                raise MissingParameter(f"notice template {template!r} needs {field!r}")
            out += "{" + field + "}"
            continue
        value = write(field, params[field], chosen)
        if value == "":
            out = out.rstrip(" ")  # an empty note leaves no double space behind
        out += value
    out = out.strip()
    first = placeholders(text)[:1]
    if first and text.startswith("{") and PARAM_KINDS.get(first[0], ParamKind.TEXT) is not ParamKind.TEXT:
        out = out[:1].upper() + out[1:]  # "{by} mengajukan banding": Pembeli mengajukan ...
    return out


def write(name: str, value: Any, locale: Locale) -> str:
    """One parameter's value as the text in ``locale`` says it."""
    kind = PARAM_KINDS.get(name, ParamKind.TEXT)
    if value is None:
        return ""
    if kind is ParamKind.DATETIME:
        return _moment(datetime.fromisoformat(str(value)), locale)
    if kind is ParamKind.DURATION:
        return _duration(_DURATION.validate_python(value), locale)
    if kind is ParamKind.RUPIAH:
        return rupiah(int(value), locale)
    if kind is ParamKind.SOLUTION:
        solution = value if isinstance(value, dict) else {"kind": value}
        said = term(ParamKind.SOLUTION, str(solution.get("kind")), locale)
        amount = solution.get("amount")
        return said.replace("{amount}", rupiah(int(amount), locale) if amount is not None else "")
    if kind is ParamKind.TEXT:
        return str(value)
    return term(kind, str(value), locale)


def term(kind: ParamKind | str, value: str, locale: Locale) -> str:
    """The word for ``value`` (a role, an action, a reason, ...) in ``locale``; the value itself
    when none is written (the completeness tests list every value the domain knows)."""
    words = TERMS.get(ParamKind(kind).value, {}).get(value, {})
    said = words.get(locale) or words.get(DEFAULT_LOCALE)
    if said is not None:
        return said
    unknown = _UNKNOWN.get(ParamKind(kind), {}).get(locale, "{}")
    return unknown.format(value.replace("_", " ") if unknown == "{}" else value)


def rupiah(amount: int, locale: Locale) -> str:
    """An amount as people write it: Rp150.000 in Indonesian, Rp150,000 in English."""
    grouped = f"{amount:,}"
    return "Rp" + (grouped.replace(",", ".") if locale is Locale.ID else grouped)


def _moment(moment: datetime, locale: Locale) -> str:
    at = moment.astimezone(UTC)
    month = _MONTHS[locale][at.month - 1]
    if locale is Locale.ID:
        return f"{at.day} {month} {at.year} pukul {at:%H.%M} UTC"
    return f"{at.day} {month} {at.year}, {at:%H:%M} UTC"


def _duration(value: timedelta, locale: Locale) -> str:
    seconds = int(value.total_seconds())
    count, unit = seconds, "s"
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        count, unit = seconds // 86400, "d"
    elif seconds >= 3600 and seconds % 3600 == 0:
        count, unit = seconds // 3600, "h"
    elif seconds >= 60 and seconds % 60 == 0:
        count, unit = seconds // 60, "m"
    one, many = _UNITS[locale][unit]
    return f"{count} {one if count == 1 else many}"
