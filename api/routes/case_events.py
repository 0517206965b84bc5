"""/v1/case-events: the event feed, every event the webhooks send (same ``id``, ``type`` and body),
in the order they were handed over, for a receiver to pull what it missed.

Who reads it: platform and admin keys. Care and supervisor keys do not (the feed is what the
platform's systems receive); no key reads it as a party (``actor_role``), since every event of
every case is in it: a platform key may subscribe to all of them anyway (``event_types: ["*"]``).
Not to be confused with ``POST /v1/events``, which takes marketplace events in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CallerDep, ReadAsDep, own_list
from api.deps import EngineDep, SettingsDep
from api.openapi import read_as
from api.paging import Limit, decode_cursor, is_cursor, page_of
from api.problems import Problem, invalid
from core.settings import KeyRole
from domain.outbound import EventType
from store.webhooks import WebhookStore, webhook_store

router = APIRouter(prefix="/v1/case-events", tags=["case events"])


class FeedEvent(BaseModel):
    """One event, exactly the body a webhook delivers (``id``, ``type``, ``created_at``,
    ``case_id``, ``data``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    created_at: str
    case_id: str
    data: dict[str, Any]


class EventFeed(BaseModel):
    """A page of the feed, oldest first; resume from ``next_cursor``, or from the last event's id."""

    items: list[FeedEvent]
    next_cursor: str | None = Field(description="pass it as after for the next page; null on the last")


def _store(settings: SettingsDep, engine: EngineDep) -> WebhookStore:
    return webhook_store(settings, engine)


After = Annotated[
    str | None,
    Query(
        max_length=512,
        description="next_cursor of the previous page, or the id of the last event you received"
        " (a receiver that was down replays from there); none: from the oldest event kept",
    ),
]


@router.get("", openapi_extra=read_as())
async def case_events(
    caller: CallerDep,
    reader: ReadAsDep,
    store: Annotated[WebhookStore, Depends(_store)],
    after: After = None,
    type: Annotated[list[EventType] | None, Query(description="only events of these types")] = None,
    limit: Limit = 100,
) -> EventFeed:
    """Every event the webhooks send, in the order they were handed over, for
    ``DISPUTES_EVENT_RETENTION`` (default 30 days): a receiver that was down pulls what it
    missed from its last event id, without waiting for redeliveries."""
    if caller.role not in (KeyRole.PLATFORM, KeyRole.ADMIN):
        raise Problem(403, "Forbidden", "the event feed is for platform and admin keys")
    own_list(reader, "the event feed", {})  # every case's events: never read as one party
    position = 0
    if after is not None:
        if is_cursor(after, (int,)):
            (position,) = decode_cursor(after, (int,), "after") or (0,)
        else:
            found = await store.event_seq(after)
            if found is None:
                raise invalid(
                    "after",
                    "neither a cursor of this feed nor the id of an event it keeps (events are kept"
                    " for DISPUTES_EVENT_RETENTION): start from the oldest, without after",
                )
            position = found
    events = await store.events(after=position, limit=limit + 1, types=[t.value for t in type or ()])
    shown, next_cursor = page_of(events, limit, lambda event: (event.seq,))
    return EventFeed(items=[FeedEvent.model_validate(event.body) for event in shown], next_cursor=next_cursor)
