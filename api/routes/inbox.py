"""/v1/users/{user_id}/inbox: care's replies to a user (Pesan Bantuan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from api.auth import ReadAsDep, own_list
from api.cases import Answer, CasesDep
from api.deps import OutboxDep
from api.openapi import read_as
from api.paging import CursorParam, Limit, decode_cursor, page_of
from api.problems import Problem
from api.public import Inbox, InboxItemPublic
from domain.types import IDENTIFIER_PATTERN, Actor, Role

router = APIRouter(prefix="/v1/users", tags=["inbox"])

UserId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]


@router.get("/{user_id}/inbox", openapi_extra=read_as(Role.USER, Role.BUYER, Role.SELLER))
async def inbox(
    user_id: UserId, outbox: OutboxDep, reader: ReadAsDep, cursor: CursorParam = None, limit: Limit = 100
) -> Inbox:
    """Care's replies to the user's reports and disputes, newest first, with unread state, in
    cursor pages (a reply that arrives while paging is on the next pass's first page).

    Read as a party, only as that user (in any of its roles: user, buyer or seller)."""
    own_list(reader, "inboxes", {Role.USER: user_id, Role.BUYER: user_id, Role.SELLER: user_id})
    (before,) = decode_cursor(cursor, (int,)) or (None,)
    shown, next_cursor = page_of(await outbox.inbox(user_id, before, limit + 1), limit, lambda m: (m.seq,))
    return Inbox(items=[InboxItemPublic.model_validate(item) for item in shown], next_cursor=next_cursor)


@router.post("/{user_id}/inbox/{message_id}/read", response_model=InboxItemPublic)
async def mark_read(user_id: UserId, message_id: str, outbox: OutboxDep, cases: CasesDep) -> JSONResponse:
    """Mark one message read (repeating it is harmless); the platform does this for its user."""
    cases.caller.authorize(Actor(role=Role.USER, id=user_id))

    async def mark() -> Answer:
        if not await outbox.mark_read(user_id, message_id):
            raise Problem(404, "Not found", f"no message {message_id} in the inbox of {user_id}")
        seq = int(message_id.removeprefix("msg-"))  # mark_read took it as a number of this inbox
        (marked,) = await outbox.inbox(user_id, before=seq + 1, limit=1)
        return InboxItemPublic.model_validate(marked), 200

    return await cases.keyed(mark)
