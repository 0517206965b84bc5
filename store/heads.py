"""The case_heads table: where every open case stands now (its status, its parked effects), kept
up to date as its timeline entries are stored and dropped when it is archived, so the case gauges
(store/metrics.py) read one small row per open case instead of every timeline entry.

A case's status is that of its last entry; its parked effects are its ``needs_attention`` entries
less the repairs recorded after them (``retry_effect``, ``resolve_effect``, and ``redecide`` for
payouts), with the same choice the case makes when an operator names no key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.case import TimelineEntry
from domain.dispute import PAYOUT_EFFECTS
from domain.effects import EffectName, Repair
from domain.kinds import KINDS
from store.schema import case_archive, case_heads


class Parked(BaseModel):
    """One effect waiting for an operator, as the timeline tells it."""

    effect: str
    key: str
    since: datetime


def case_kind(case_id: str) -> str:
    """``dispute`` or ``ticket``, from the case's id."""
    return "dispute" if case_id.startswith("dispute-") else "ticket"


def _by_hand(effect: str) -> bool:
    """Whether an operator may record ``effect`` as done by hand (the effect registries say)."""
    try:
        name = EffectName(effect)
    except ValueError:
        return False
    return any(name in kind.effects and kind.effects.repaired_by(name, Repair.BY_HAND) for kind in KINDS)


def parked_effects(
    entries: Iterable[tuple[str, datetime, dict[str, Any]]], parked: Sequence[Parked] = ()
) -> list[Parked]:
    """The effects still parked after ``parked`` and a case's next entries (event, at, detail)."""
    still = list(parked)
    for event, at, detail in entries:
        if event == "needs_attention":
            parked_key = str(detail.get("idempotency_key"))
            if not any(p.key == parked_key for p in still):
                still.append(Parked(effect=str(detail.get("effect")), key=parked_key, since=at))
        elif event == "redecide":
            still = [p for p in still if p.effect not in PAYOUT_EFFECTS.values()]
        elif event in ("retry_effect", "resolve_effect") and still:
            named = detail.get("key")
            if named is not None:
                found = next((p for p in still if p.key == named), None)
            elif event == "resolve_effect":
                found = next((p for p in still if _by_hand(p.effect)), still[0])
            else:
                found = still[0]
            if found is not None:
                still.remove(found)
    return still


def head_row(case_id: str, entries: Sequence[TimelineEntry], parked: Sequence[Parked] = ()) -> dict[str, Any]:
    """The case's head after ``entries`` (in order, at least one), from the parked effects before."""
    still = parked_effects(((e.event, e.at, e.detail) for e in entries), parked)
    last = entries[-1]
    return {
        "case_id": case_id,
        "kind": case_kind(case_id),
        "status": last.status,
        "seq": last.seq,
        "changed_at": last.at,
        "parked": [p.model_dump(mode="json") for p in still],
        "attention_since": min((p.since for p in still), default=None),
    }


async def advance(connection: AsyncConnection, case_id: str, entries: Sequence[TimelineEntry]) -> None:
    """Move the case's head past ``entries`` (inside the transaction that stores them); entries it
    has seen already change nothing, and an archived case gets no head again."""
    h = case_heads.c
    query = sa.select(h.seq, h.parked).where(h.case_id == case_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    current = (await connection.execute(query)).first()
    after = current.seq if current is not None else 0
    new = sorted((e for e in entries if e.seq > after), key=lambda e: e.seq)
    if not new:
        return
    if current is None:
        archived = sa.select(case_archive.c.case_id).where(case_archive.c.case_id == case_id)
        if (await connection.execute(archived)).first() is not None:
            return
    parked = [Parked.model_validate(p) for p in current.parked] if current is not None else []
    row = head_row(case_id, new, parked)
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(case_heads).values(row)
    statement = statement.on_conflict_do_update(
        index_elements=["case_id"],
        set_={name: statement.excluded[name] for name in row if name != "case_id"},
        where=h.seq < statement.excluded.seq,
    )
    await connection.execute(statement)


async def forget(connection: AsyncConnection, case_id: str) -> None:
    """The case is archived: it has no head any more."""
    await connection.execute(sa.delete(case_heads).where(case_heads.c.case_id == case_id))
