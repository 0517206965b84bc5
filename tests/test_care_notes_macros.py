"""Care's private notes and saved replies (issue 18, parts 2 and 3).

A note is read by care and never found anywhere a party or a receiver looks; a macro is saved by
a supervisor, refused with an unknown placeholder, and applied: the party reads the filled reply
and the timeline names the macro. The placeholder grammar as pure rules, the store on SQLite and
PostgreSQL, the API over real HTTP against the dev server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment

from api.problems import Problem
from api.routes.care_macros import MacroActionBody, MacroBody, check
from core.settings import Settings
from domain.commands import CareReply
from domain.macros import MissingValue, fill, fill_body, known, placeholders, rupiah
from domain.ticket import TicketReply
from domain.types import Actor, Role
from store.care import CareMacros, CareNotes, MacroAction, MacroFields, MacroNameTaken
from store.db import database
from store.migrate import migrate
from store.schema import case_events
from tests.factories import CARE as CARE_ACTOR
from tests.factories import drive_ticket
from tests.postgres import PostgresServer
from tests.support import (
    AS_ADMIN,
    AS_CARE,
    AS_SUPERVISOR,
    BUYER,
    CARE,
    SELLER,
    claim,
    eventually,
    listening,
    new_order,
)

SUPERVISOR = {"role": "supervisor", "id": "lead-1"}
OPERATOR = {"role": "operator", "id": "ops-1"}

# -- the placeholders, as pure rules --------------------------------------------------------------


def test_placeholders_are_names_in_braces_and_nothing_else_is_evaluated() -> None:
    text = "Halo {buyer_id}, pesanan {order_id} ({order_id}) {0} { x } {a.b} {} {{status}}"
    assert placeholders(text) == ["buyer_id", "order_id", "status"]
    values = {"buyer_id": "b-1", "order_id": "o-9", "status": "IN_MEDIATION"}
    assert fill(text, values) == "Halo b-1, pesanan o-9 (o-9) {0} { x } {a.b} {} {IN_MEDIATION}"
    with pytest.raises(MissingValue) as missing:
        fill("{order_id} {user_id}", {"order_id": "o-1", "user_id": None})
    assert missing.value.name == "user_id"
    assert fill_body({"note": ["{order_id}", 3], "x": None}, {"order_id": "o-1"}) == {
        "note": ["o-1", 3],
        "x": None,
    }
    assert rupiah(150_000) == "Rp150.000" and rupiah(7) == "Rp7"
    assert "seller_id" in known("dispute") and "seller_id" not in known("ticket")
    assert set(known(None)) == set(known("dispute")) | set(known("ticket"))


def _refused(body: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(Problem) as refused:
        check(MacroBody.model_validate(body))
    assert refused.value.status == 422
    error = refused.value.extra["errors"][0]
    return error["field"], error["reason"]


def test_a_macro_is_checked_when_it_is_saved() -> None:
    base = {"name": "n", "locale": "id", "text": "Halo {user_id}"}
    check(MacroBody.model_validate(base))
    check(MacroBody.model_validate(base | {"kind": "ticket", "action": {"name": "solve"}}))
    field, reason = _refused(base | {"kind": "dispute"})  # a dispute has no user
    assert (field, "{user_id}" in reason) == ("text", True)
    assert _refused(base | {"text": "Halo {nama}"})[0] == "text"
    assert _refused(base | {"action": {"name": "fly"}})[0] == "action.name"
    assert _refused(base | {"action": {"name": "reply"}})[0] == "action.name"
    assert _refused(base | {"action": {"name": "accept"}})[0] == "action.name"  # a party's action
    assert _refused(base | {"kind": "ticket", "action": {"name": "decide"}})[0] == "action.name"
    assert _refused(base | {"action": {"name": "solve", "body": {"actor": CARE}}})[0] == "action.body.actor"
    decide = {"name": "decide", "body": {"solution": {"kind": "RELEASE_TO_SELLER"}, "note": "{order_id}"}}
    check(MacroBody.model_validate(base | {"text": "{order_id}", "action": decide}))
    assert _refused(base | {"action": decide | {"body": {"note": "{nope}"}}})[0] == "action.body.note"
    assert _refused(base | {"action": {"name": "decide", "body": {"solution": {"kind": "X"}}}})[0].startswith(
        "action.body.solution"
    )
    with pytest.raises(ValidationError):
        MacroActionBody(name="Not An Action")


def test_a_reply_records_its_macro_and_replies_before_it_are_unchanged() -> None:
    ticket = drive_ticket(TicketReply(actor=CARE_ACTOR, text="Sudah", macro_id="mac-1"))
    assert ticket.timeline[-1].detail == {"text": "Sudah", "macro_id": "mac-1"}
    assert CareReply(actor=CARE_ACTOR, text="x").model_dump(exclude_defaults=True).keys() == {"actor", "text"}
    with pytest.raises(ValidationError):
        CareReply(actor=CARE_ACTOR, text="x", macro_id="not an id")


# -- the store, on both databases ----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated database of the test's own."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database("care")
    await asyncio.to_thread(migrate, url)
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        yield engine


async def test_notes_are_kept_per_case_in_order(db: AsyncEngine) -> None:
    notes = CareNotes(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    care = Actor(role=Role.CARE, id="c-1")
    written = [
        await notes.add("dispute-o-1", "dispute", care, "care-tools", f"note {n}", at + timedelta(minutes=n))
        for n in range(3)
    ]
    await notes.add("dispute-o-2", "dispute", care, "care-tools", "another case", at)
    assert [n.text for n in await notes.for_case("dispute-o-1", None, 10)] == ["note 0", "note 1", "note 2"]
    assert [n.text for n in await notes.for_case("dispute-o-1", written[0].seq, 1)] == ["note 1"]
    assert written[0].author == care and written[0].created_at == at and written[0].id.startswith("note-")
    assert await notes.for_case("dispute-o-3", None, 10) == []


async def test_macros_are_unique_per_name_and_locale_and_versioned(db: AsyncEngine) -> None:
    macros = CareMacros(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    fields = MacroFields(name="bukti", locale="id", kind="dispute", text="Halo {seller_id}")
    made = await macros.create(fields, "care-leads", at)
    assert (made.version, made.created_by, made.action) == (1, "care-leads", None)
    with pytest.raises(MacroNameTaken):
        await macros.create(fields.model_copy(update={"text": "other"}), "care-leads", at)
    english = await macros.create(fields.model_copy(update={"locale": "en"}), "care-leads", at)
    anywhere = await macros.create(
        MacroFields(name="selesai", locale="id", text="{case_id}", action=MacroAction(name="solve")),
        "ops",
        at,
    )
    assert anywhere.action == MacroAction(name="solve", body={})

    later = at + timedelta(hours=1)
    same = await macros.replace(made.id, fields, "ops", later)
    assert same is not None and same.version == 1  # nothing changed
    changed = await macros.replace(
        made.id, fields.model_copy(update={"text": "Hi {seller_id}"}), "ops", later
    )
    assert changed is not None and (changed.version, changed.text, changed.updated_by) == (
        2,
        "Hi {seller_id}",
        "ops",
    )
    assert changed.created_at == at and changed.updated_at == later
    with pytest.raises(MacroNameTaken):
        await macros.replace(made.id, fields.model_copy(update={"locale": "en"}), "ops", later)
    assert await macros.replace("mac-none", fields, "ops", later) is None

    assert [m.id for m in await macros.list(locale="id", kind=None, after=None, limit=10)] == [
        made.id,
        anywhere.id,
    ]
    assert [m.id for m in await macros.list(locale=None, kind="ticket", after=None, limit=10)] == [
        anywhere.id
    ]
    page = await macros.list(locale=None, kind=None, after=made.seq, limit=1)
    assert [m.id for m in page] == [english.id]


# -- over HTTP ------------------------------------------------------------------------------------


class Hooks:
    """A webhook receiver that keeps every body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.app = Starlette(routes=[Route("/hooks", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        self.bodies.append(await request.body())
        return JSONResponse({"ok": True})

    def events_of(self, case_id: str) -> list[dict[str, Any]]:
        events = [json.loads(body) for body in self.bodies]
        return [e for e in events if case_id in json.dumps(e)]


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[Hooks, str]]:
    receiver = Hooks()
    async with listening(receiver.app) as url:
        yield receiver, f"{url}/hooks"


async def _to_mediation(api: httpx.AsyncClient, **overrides: Any) -> str:
    opened = await api.post("/v1/disputes", json=claim(new_order(), **overrides))
    assert opened.status_code == 201, opened.text
    dispute_id: str = opened.json()["id"]
    appealed = await api.post(
        f"/v1/disputes/{dispute_id}/appeal", json={"actor": SELLER, "reason": "Terkirim"}
    )
    assert appealed.status_code == 200, appealed.text
    helped = await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER})
    assert helped.json()["status"] == "IN_MEDIATION", helped.text
    return dispute_id


async def test_a_note_is_read_by_care_and_found_nowhere_a_party_or_a_receiver_looks(
    api: httpx.AsyncClient,
    dev_server_env: WorkflowEnvironment,
    engine: AsyncEngine,
    hooks: tuple[Hooks, str],
) -> None:
    receiver, url = hooks
    subscribed = await api.post("/v1/webhooks", json={"url": url, "event_types": ["*"]})
    assert subscribed.status_code == 201, subscribed.text
    marker = f"NOTE-{uuid.uuid4().hex}"
    said = f"REPLY-{uuid.uuid4().hex}"  # care's reply: found where the parties look (the checks see text)
    described = f"DESC-{uuid.uuid4().hex}"  # the buyer's description: in the UI's details
    opened = await api.post("/v1/disputes", json=claim(new_order(), description=f"Belum sampai {described}"))
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    notes_url = f"/v1/disputes/{dispute_id}/care/notes"

    # Care, a supervisor and an operator write; the platform may neither write nor read.
    body = {"actor": CARE, "text": f"Seller called: courier lost it {marker}"}
    written = await api.post(notes_url, json=body, headers=AS_CARE | {"Idempotency-Key": "note-1"})
    assert written.status_code == 201, written.text
    note = written.json()
    assert (note["case_id"], note["actor"], note["text"]) == (dispute_id, CARE, body["text"])
    again = await api.post(notes_url, json=body, headers=AS_CARE | {"Idempotency-Key": "note-1"})
    assert again.status_code == 201 and again.json()["id"] == note["id"]  # a keyed retry writes once
    for actor, key in ((SUPERVISOR, AS_SUPERVISOR), (OPERATOR, AS_ADMIN)):
        also = await api.post(
            notes_url, json={"actor": actor, "text": f"{actor['role']} {marker}"}, headers=key
        )
        assert also.status_code == 201, also.text
    assert (await api.post(notes_url, json={"actor": BUYER, "text": marker})).status_code == 403
    assert (await api.get(notes_url)).status_code == 403
    refused = await api.post(notes_url, json={"actor": SUPERVISOR, "text": marker}, headers=AS_CARE)
    assert refused.status_code == 403  # a care key does not write as a supervisor
    for blank in ("", "   ", "x" * 4001):
        invalid = await api.post(notes_url, json={"actor": CARE, "text": blank}, headers=AS_CARE)
        assert (invalid.status_code, invalid.json()["errors"][0]["field"]) == (422, "text")
    missing = await api.post("/v1/disputes/dispute-o-none/care/notes", json=body, headers=AS_CARE)
    assert missing.status_code == 404
    assert (await api.get("/v1/tickets/dispute-o-none/care/notes", headers=AS_CARE)).status_code == 404

    # The case goes on: the parties write, care replies, notices and webhooks go out.
    await api.post(f"/v1/disputes/{dispute_id}/appeal", json={"actor": SELLER, "reason": "Terkirim"})
    helped = await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER})
    assert helped.json()["status"] == "IN_MEDIATION", helped.text
    replied = await api.post(
        f"/v1/disputes/{dispute_id}/care/replies", json={"actor": CARE, "text": said}, headers=AS_CARE
    )
    assert replied.status_code == 200, replied.text

    # Care reads the notes, a page at a time.
    first = (await api.get(notes_url, params={"limit": 2}, headers=AS_CARE)).json()
    assert [n["actor"]["role"] for n in first["items"]] == ["care", "supervisor"]
    assert first["next_cursor"] is not None
    rest = await api.get(notes_url, params={"cursor": first["next_cursor"]}, headers=AS_SUPERVISOR)
    assert [n["actor"] for n in rest.json()["items"]] == [OPERATOR] and rest.json()["next_cursor"] is None
    assert marker in first["items"][0]["text"]
    assert (await api.get(notes_url, params={"cursor": "bad"}, headers=AS_CARE)).status_code == 422

    async def parties_told() -> bool:
        inbox = (await api.get(f"/v1/users/{BUYER['id']}/inbox")).text
        escalated = [e for e in receiver.events_of(dispute_id) if e.get("type") == "dispute.escalated"]
        return said in inbox and bool(escalated)

    await eventually(parties_told, seconds=30)

    # Everywhere a party or a receiver looks: the reply is there, the note is not.
    looked: dict[str, str] = {
        "read": (await api.get(f"/v1/disputes/{dispute_id}")).text,
        "buyer read": (await api.get(f"/v1/disputes/{dispute_id}", params=_as(BUYER))).text,
        "seller read": (await api.get(f"/v1/disputes/{dispute_id}", params=_as(SELLER))).text,
        "buyer inbox": (await api.get(f"/v1/users/{BUYER['id']}/inbox")).text,
        "seller inbox": (await api.get(f"/v1/users/{SELLER['id']}/inbox")).text,
        "effects": (await api.get(f"/v1/disputes/{dispute_id}/effects")).text,
        "list": (await api.get("/v1/disputes", params={"buyer_id": BUYER["id"]})).text,
        "queue": (await api.get("/v1/care/queue", headers=AS_CARE)).text,
        "webhooks": "\n".join(body.decode() for body in receiver.bodies),
    }
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(case_events).where(case_events.c.case_id == dispute_id))
        looked["case_events"] = json.dumps([row._asdict() for row in rows], default=str)
    assert said in looked["read"] and said in looked["buyer inbox"] and said in looked["effects"]
    assert dispute_id in looked["case_events"] and dispute_id in looked["webhooks"]
    for place, seen in looked.items():
        assert marker not in seen, f"the note reached the {place}"

    handle = dev_server_env.client.get_workflow_handle(dispute_id)
    history = await handle.fetch_history()
    events = b"".join(event.SerializeToString() for event in history.events)
    assert said.encode() in events  # payloads are in clear here: the check would see a note
    assert marker.encode() not in events
    description = await handle.describe()
    assert described in (await description.static_details() or "")
    assert marker.encode() not in description.raw_description.SerializeToString()
    attributes = {key.name: value for key, value in description.typed_search_attributes.search_attributes}
    assert attributes and marker not in json.dumps(attributes, default=str)
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details and marker not in metadata.current_details


def _as(party: dict[str, str]) -> dict[str, str]:
    return {"actor_role": party["role"], "actor_id": party["id"]}


async def test_notes_on_a_report_are_care_s_only(api: httpx.AsyncClient) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    filed = await api.post(
        "/v1/tickets",
        json={"user_id": user, "role": "buyer", "topic": "REFUNDS", "details": "Dana belum kembali"},
    )
    assert filed.status_code == 201, filed.text
    ticket_id = filed.json()["id"]
    marker = f"NOTE-{uuid.uuid4().hex}"
    url = f"/v1/tickets/{ticket_id}/care/notes"
    written = await api.post(url, json={"actor": CARE, "text": marker}, headers=AS_CARE)
    assert written.status_code == 201, written.text
    assert (
        await api.post(
            f"/v1/disputes/{ticket_id}/care/notes", json={"actor": CARE, "text": "x"}, headers=AS_CARE
        )
    ).status_code == 404
    assert [n["text"] for n in (await api.get(url, headers=AS_ADMIN)).json()["items"]] == [marker]
    user_read = await api.get(f"/v1/tickets/{ticket_id}", params={"actor_role": "user", "actor_id": user})
    assert user_read.status_code == 200 and marker not in user_read.text
    assert marker not in (await api.get(f"/v1/users/{user}/inbox")).text


async def _macro(
    api: httpx.AsyncClient, body: dict[str, Any], key: dict[str, str] = AS_SUPERVISOR
) -> dict[str, Any]:
    saved = await api.post("/v1/care/macros", json=body, headers=key)
    assert saved.status_code == 201, saved.text
    macro: dict[str, Any] = saved.json()
    return macro


async def test_supervisors_save_macros_and_care_applies_them_to_a_report(api: httpx.AsyncClient) -> None:
    name = f"selesai-{uuid.uuid4().hex[:6]}"
    text = "Halo {user_id}, laporan {case_id} ({topic}) sudah kami selesaikan."
    body: dict[str, Any] = {
        "name": name,
        "locale": "id",
        "kind": "ticket",
        "text": text,
        "action": {"name": "solve"},
    }
    # Who may write and read them.
    assert (await api.post("/v1/care/macros", json=body, headers=AS_CARE)).status_code == 403
    assert (await api.post("/v1/care/macros", json=body)).status_code == 403
    assert (await api.get("/v1/care/macros")).status_code == 403
    macro = await _macro(api, body)
    assert (macro["placeholders"], macro["version"], macro["created_by"]) == (
        ["user_id", "case_id", "topic"],
        1,
        "care-leads",
    )
    listed = (
        await api.get("/v1/care/macros", params={"locale": "id", "kind": "ticket"}, headers=AS_CARE)
    ).json()
    assert macro["id"] in [m["id"] for m in listed["items"]]
    assert (await api.get(f"/v1/care/macros/{macro['id']}", headers=AS_CARE)).json() == macro
    assert (await api.get("/v1/care/macros/mac-none", headers=AS_CARE)).status_code == 404

    # Refused when saved: an unknown placeholder, a name taken in the locale, an action no kind has.
    unknown = await api.post(
        "/v1/care/macros", json=body | {"name": f"{name}-2", "text": "Halo {nama}"}, headers=AS_SUPERVISOR
    )
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (422, "text")
    assert "{nama}" in unknown.json()["detail"]
    taken = await api.post("/v1/care/macros", json=body, headers=AS_ADMIN)
    assert (taken.status_code, taken.json()["errors"][0]["field"]) == (409, "name")
    await _macro(api, body | {"locale": "en", "text": "Hi {user_id}, report {case_id} is solved."}, AS_ADMIN)
    flying = await api.post(
        "/v1/care/macros", json=body | {"name": f"{name}-3", "action": {"name": "fly"}}, headers=AS_SUPERVISOR
    )
    assert (flying.status_code, flying.json()["errors"][0]["field"]) == (422, "action.name")
    replaced = await api.put(
        f"/v1/care/macros/{macro['id']}",
        json=body | {"text": text + " Terima kasih."},
        headers=AS_SUPERVISOR,
    )
    assert replaced.status_code == 200 and replaced.json()["version"] == 2, replaced.text
    assert (await api.put(f"/v1/care/macros/{macro['id']}", json=body, headers=AS_CARE)).status_code == 403

    user = f"u-{uuid.uuid4().hex[:8]}"
    filed = await api.post(
        "/v1/tickets",
        json={"user_id": user, "role": "buyer", "topic": "REFUNDS", "details": "Dana belum kembali"},
    )
    ticket_id = filed.json()["id"]
    apply_url = f"/v1/tickets/{ticket_id}/care/macros/{macro['id']}/apply"
    assert (await api.post(apply_url, json={"actor": CARE})).status_code == 403  # the platform key
    assert (
        await api.post(
            f"/v1/tickets/{ticket_id}/care/macros/mac-none/apply", json={"actor": CARE}, headers=AS_CARE
        )
    ).status_code == 404

    # A reply names only a saved macro (applying one names it).
    named = {"actor": CARE, "text": "Halo", "macro_id": "mac-none"}
    unknown = await api.post(f"/v1/tickets/{ticket_id}/care/replies", json=named, headers=AS_CARE)
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (422, "macro_id"), unknown.text

    applied = await api.post(apply_url, json={"actor": CARE}, headers=AS_CARE)
    assert applied.status_code == 200, applied.text
    ticket = applied.json()
    filled = f"Halo {user}, laporan {ticket_id} (REFUNDS) sudah kami selesaikan. Terima kasih."
    assert ticket["status"] == "SOLVED"
    reply, solved = ticket["timeline"][-2:]
    assert (reply["event"], reply["detail"]) == ("reply", {"text": filled, "macro_id": macro["id"]})
    assert (solved["event"], solved["actor"]) == ("solve", CARE)

    async def in_inbox() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await api.get(f"/v1/users/{user}/inbox")).json()["items"]
        return items

    assert [item["text"] for item in await eventually(in_inbox)] == [filled]
    read = (await api.get(f"/v1/tickets/{ticket_id}", params={"actor_role": "user", "actor_id": user})).json()
    assert read["messages"][-1]["text"] == filled


async def test_a_macro_fills_a_dispute_takes_its_action_and_applies_once_per_key(
    api: httpx.AsyncClient,
) -> None:
    suffix = uuid.uuid4().hex[:6]
    ask = await _macro(
        api,
        {
            "name": f"tanya-{suffix}",
            "locale": "id",
            "text": "Halo {buyer_id} dan {seller_id}: kami periksa pesanan {order_id} senilai {order_total}.",
        },
    )
    release = await _macro(
        api,
        {
            "name": f"lepas-{suffix}",
            "locale": "id",
            "kind": "dispute",
            "text": "Dana pesanan {order_id} diteruskan ke penjual.",
            "action": {
                "name": "decide",
                "body": {"solution": {"kind": "RELEASE_TO_SELLER"}, "note": "{order_id}"},
            },
        },
    )
    dispute_id = await _to_mediation(api, total=150_000)
    order_id = dispute_id.removeprefix("dispute-")
    url = f"/v1/disputes/{dispute_id}/care/macros"
    keyed = AS_CARE | {"Idempotency-Key": f"ask-{suffix}"}
    first = await api.post(f"{url}/{ask['id']}/apply", json={"actor": CARE}, headers=keyed)
    assert first.status_code == 200, first.text
    again = await api.post(f"{url}/{ask['id']}/apply", json={"actor": CARE}, headers=keyed)
    assert again.json() == first.json()
    text = f"Halo {BUYER['id']} dan {SELLER['id']}: kami periksa pesanan {order_id} senilai Rp150.000."
    read = (await api.get(f"/v1/disputes/{dispute_id}", params=_as(BUYER))).json()
    replies = [e for e in read["timeline"] if e["event"] == "reply"]
    assert [r["detail"] for r in replies] == [{"text": text, "macro_id": ask["id"]}]  # the retry sent none

    # An action not allowed once the reply is sent: 409 saying the reply went; a retry with the
    # same key sends no second reply.
    redecide = await _macro(
        api,
        {
            "name": f"ulang-{suffix}",
            "locale": "id",
            "text": "Kami ubah keputusan untuk {order_id}.",
            "action": {"name": "redecide", "body": {"solution": {"kind": "EXCHANGE"}}},
        },
    )
    keyed = AS_CARE | {"Idempotency-Key": f"redecide-{suffix}"}
    for _ in range(2):
        partly = await api.post(f"{url}/{redecide['id']}/apply", json={"actor": CARE}, headers=keyed)
        assert (partly.status_code, partly.json()["applied"]) == (409, ["reply"]), partly.text
        assert "redecide" not in partly.json()["allowed_actions"]["care"]
    read = (await api.get(f"/v1/disputes/{dispute_id}")).json()
    assert [e["detail"].get("macro_id") for e in read["timeline"] if e["event"] == "reply"] == [
        ask["id"],
        redecide["id"],
    ]

    decided = await api.post(f"{url}/{release['id']}/apply", json={"actor": CARE}, headers=AS_CARE)
    assert decided.status_code == 200, decided.text
    reply, decision = decided.json()["timeline"][-2:]
    assert reply["detail"]["macro_id"] == release["id"]
    assert (decision["event"], decision["detail"]["note"]) == ("decide", order_id)
    assert decided.json()["agreed_solution"] == {"kind": "RELEASE_TO_SELLER", "amount": None}

    # A macro that does not fit the case: refused before anything is sent.
    user = f"u-{uuid.uuid4().hex[:8]}"
    filed = await api.post(
        "/v1/tickets", json={"user_id": user, "role": "buyer", "topic": "ACCOUNT", "details": "Akun terkunci"}
    )
    ticket_id = filed.json()["id"]
    for macro, field in ((ask, "text"), (release, "macro_id")):
        refused = await api.post(
            f"/v1/tickets/{ticket_id}/care/macros/{macro['id']}/apply", json={"actor": CARE}, headers=AS_CARE
        )
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, field), refused.text
    decide_anywhere = await _macro(
        api,
        {
            "name": f"putus-{suffix}",
            "locale": "en",
            "text": "Decided for {case_id}.",
            "action": {"name": "decide", "body": {"solution": {"kind": "EXCHANGE"}}},
        },
    )
    refused = await api.post(
        f"/v1/tickets/{ticket_id}/care/macros/{decide_anywhere['id']}/apply",
        json={"actor": CARE},
        headers=AS_CARE,
    )
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "action.name"), refused.text
    unchanged = (await api.get(f"/v1/tickets/{ticket_id}")).json()
    assert [e["event"] for e in unchanged["timeline"]] == ["opened"]
