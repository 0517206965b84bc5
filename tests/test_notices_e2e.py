"""Notices in the party's language, over real HTTP against a real dev server: the buyer reads
Indonesian (the default), the seller who asked for English reads English, in the notifications
the platform receives, the outbox, the inbox and the webhook events, each with its template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from store.schema import case_events
from tests.platform import SIGNING_SECRET, Receiver
from tests.support import AS_CARE, BUYER, CARE, SELLER, claim, eventually, new_order

#: Care's own words: written into both languages' frames as they are.
REPLY = "Kami cek ke kurir / checking with the courier"


@pytest.fixture
def settings(task_queue: str, tmp_path: Path, receiver: Receiver) -> Settings:
    """Effects go to the platform's endpoints (the receiver), as a deployment sends them."""
    return Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        effects="http",
        effects_base_url=receiver.url,
        effects_signing_secret=SIGNING_SECRET,
    )


async def notices_to(receiver: Receiver, case_id: str, party_id: str) -> list[dict[str, Any]]:
    """The notifications the platform received for ``party_id`` on the case, in order, once any came."""

    async def received() -> list[dict[str, Any]]:
        return [
            n
            for n in receiver.applied("/notifications")
            if n["case_id"] == case_id and n["party_id"] == party_id
        ]

    found: list[dict[str, Any]] = await eventually(received)
    return found


async def test_each_party_reads_its_own_language(
    api: httpx.AsyncClient, receiver: Receiver, engine: AsyncEngine
) -> None:
    refused = await api.post("/v1/disputes", json=claim(new_order(), buyer_locale="fr"))
    assert refused.status_code == 422, refused.text
    assert [error["field"] for error in refused.json()["errors"]] == ["buyer_locale"]

    opened = await api.post("/v1/disputes", json=claim(new_order(), seller_locale="en"))
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    dispute_id, order_id = dispute["id"], dispute["order_id"]
    assert (dispute["buyer_locale"], dispute["seller_locale"]) == ("id", "en")

    told_seller = await notices_to(receiver, dispute_id, "s-1")
    assert told_seller[0]["template"] == "dispute.opened"
    assert told_seller[0]["locale"] == "en"
    assert told_seller[0]["params"] == {
        "dispute_id": dispute_id,
        "order_id": order_id,
        "buyer_id": "b-1",
        "reason": "NOT_RECEIVED",
        "solution": {"kind": "REFUND_TO_BUYER", "amount": 150000},
    }
    assert told_seller[0]["text"] == (
        f"Buyer b-1 opened dispute {dispute_id} on order {order_id} (item not received), asking for a"
        " refund of Rp150,000 to the buyer. In the Resolution Center you may accept the solution, offer"
        " another one, or appeal."
    )

    offered = await api.post(
        f"/v1/disputes/{dispute_id}/offers",
        json={"actor": SELLER, "solution": {"kind": "REFUND_TO_BUYER", "amount": 50000}},
    )
    assert offered.status_code == 200, offered.text
    told_buyer = await notices_to(receiver, dispute_id, "b-1")
    assert (told_buyer[0]["template"], told_buyer[0]["locale"]) == ("dispute.party_acted", "id")
    assert told_buyer[0]["text"] == (
        f"Penjual menawarkan solusi lain di komplain {dispute_id}. Status komplain sekarang: menunggu"
        " tanggapan pembeli."
    )

    helped = await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER})
    assert helped.json()["status"] == "IN_MEDIATION", helped.text
    replied = await api.post(
        f"/v1/disputes/{dispute_id}/care/replies",
        json={"actor": CARE, "text": REPLY},
        headers=AS_CARE,
    )
    assert replied.status_code == 200, replied.text

    async def inboxes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        buyer = (await api.get("/v1/users/b-1/inbox")).json()["items"]
        seller = (await api.get("/v1/users/s-1/inbox")).json()["items"]
        return (buyer, seller) if buyer and seller else None

    buyer_inbox, seller_inbox = await eventually(inboxes)
    assert [(m["template"], m["locale"], m["text"]) for m in buyer_inbox] == [
        (
            "dispute.care_replied",
            "id",
            f"Balasan Tokopedia Care untuk komplain {dispute_id}: {REPLY}",
        )
    ]
    assert [(m["template"], m["locale"], m["text"]) for m in seller_inbox] == [
        (
            "dispute.care_replied",
            "en",
            f"Care replied on dispute {dispute_id}: {REPLY}",
        )
    ]
    assert buyer_inbox[0]["params"] == {
        "dispute_id": dispute_id,
        "text": "Kami cek ke kurir / checking with the courier",
    }

    # The service's own record of what it sent: every notification with its template.
    effects = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]
    sent = [(e["party_id"], e["template"], e["locale"]) for e in effects if e["kind"] == "NOTIFICATION"]
    assert sent == [
        ("s-1", "dispute.opened", "en"),
        ("b-1", "dispute.party_acted", "id"),
        ("b-1", "dispute.escalated", "id"),
        ("s-1", "dispute.escalated", "en"),
        ("b-1", "dispute.care_replied", "id"),
        ("s-1", "dispute.care_replied", "en"),
    ]
    escalated = {e["party_id"]: e["text"] for e in effects if e["template"] == "dispute.escalated"}
    assert escalated == {
        "b-1": f"Atas permintaan pembeli, komplain {dispute_id} sekarang dimediasi oleh Tokopedia Care. Tim"
        " Tokopedia Care akan membalas dalam 24 jam.",
        "s-1": f"Dispute {dispute_id} is now mediated by care (requested by the buyer); care replies within"
        " 24 hours.",
    }

    # Webhook events carry the notices of their change: a platform may render its own.
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(case_events.c.type, case_events.c.body)
                .where(case_events.c.case_id == dispute_id)
                .order_by(case_events.c.seq)
            )
        ).all()
    bodies = {row.type: row.body for row in rows}
    [opened_notice] = bodies["dispute.opened"]["notices"]
    assert opened_notice == {
        "key": f"{dispute_id}:notice:1",
        "party": "seller",
        "party_id": "s-1",
        "template": "dispute.opened",
        "params": told_seller[0]["params"],
        "locale": "en",
        "text": told_seller[0]["text"],
        "category": "update",
    }
    assert [(n["party_id"], n["locale"]) for n in bodies["dispute.escalated"]["notices"]] == [
        ("b-1", "id"),
        ("s-1", "en"),
    ]


async def test_a_report_in_english_and_one_by_default(api: httpx.AsyncClient, receiver: Receiver) -> None:
    english = await api.post(
        "/v1/tickets",
        json={
            "user_id": "u-en",
            "role": "buyer",
            "topic": "PAYMENT",
            "details": "Charged twice",
            "locale": "en",
        },
    )
    assert english.status_code == 201, english.text
    assert english.json()["locale"] == "en"
    indonesian = await api.post(
        "/v1/tickets",
        json={"user_id": "u-id", "role": "buyer", "topic": "PAYMENT", "details": "Tertagih dua kali"},
    )
    assert indonesian.json()["locale"] == "id"

    async def both() -> dict[str, dict[str, Any]] | None:
        told = {n["party_id"]: n for n in receiver.applied("/notifications")}
        return told if {"u-en", "u-id"} <= set(told) else None

    told = await eventually(both)
    assert (
        told["u-en"]["text"]
        == f"We received your report {english.json()['id']} (Payment); care replies within 24 hours."
    )
    assert told["u-id"]["text"] == (
        f"Laporan {indonesian.json()['id']} (Pembayaran) sudah kami terima. Tim Tokopedia Care akan membalas"
        " dalam 24 jam lewat Pesan Bantuan di Inbox."
    )
    assert {n["template"] for n in told.values()} == {"ticket.opened"}
