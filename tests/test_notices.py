"""Notices in the party's language, without Temporal: every template renders in both locales with
every parameter it names, every notice the domain can emit names a template, every word a
parameter is rendered with exists in both locales, and each party gets its own locale."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.adapters import OutboxAdapters
from activities.models import PublishInput
from activities.webhooks import payload_of
from domain.case import CareCase, WindowKind
from domain.commands import Accept
from domain.dispute import DISPUTE_ACTIONS, Dispute, DisputeStatus, Outcome, Reason
from domain.events import (
    Acted,
    Assigned,
    Cancelled,
    CareReplyDue,
    CareSpoke,
    Closed,
    Decided,
    DecisionAppealed,
    DecisionFinal,
    DecisionReviewed,
    DomainEvent,
    EffectParked,
    EffectRepaired,
    Escalated,
    InfoRequested,
    Opened,
    PartyInactive,
    PauseEnded,
    ReceiptConfirmed,
    Reminded,
    Resolved,
    ReturnConfirmed,
    ReturnLapsed,
    ReturnRefused,
    SettlementDue,
    ShipmentDelivered,
    Solved,
)
from domain.notice_texts import TEMPLATES, TERMS
from domain.notices import PARAM_KINDS, MissingParameter, ParamKind, placeholders, render, rupiah
from domain.reactions import Notice, consequences
from domain.ticket import TICKET_ACTIONS, TicketStatus, TicketTopic
from domain.types import Actor, Deadline, EvidenceType, Locale, Role, SolutionKind, Then
from store.outbox import Outbox
from tests.factories import (
    CLOCKED_POLICY,
    CLOCKED_TICKET_POLICY,
    EXCHANGE,
    PARTIAL_REFUND,
    RETURNS_POLICY,
    SELLER,
    T0,
    drive_clocked,
    drive_dispute,
    drive_ticket,
    offer,
)

#: A value of each kind of parameter, as notices carry them (JSON).
SAMPLES: dict[ParamKind, Any] = {
    ParamKind.DATETIME: "2026-01-03T03:00:00Z",
    ParamKind.DURATION: "P3D",
    ParamKind.RUPIAH: 150_000,
    ParamKind.ROLE: "buyer",
    ParamKind.DID: "offer",
    ParamKind.TODO: "ship",
    ParamKind.REASON: "DAMAGED",
    ParamKind.STATUS: "AWAITING_SELLER",
    ParamKind.SOLUTION: {"kind": "REFUND_TO_BUYER", "amount": 150_000},
    ParamKind.TOPIC: "PAYMENT",
    ParamKind.EVIDENCE: "PROOF_OF_DELIVERY",
}


def sample(name: str) -> Any:
    """A value for the parameter ``name``: by its kind, or a text of its own."""
    return SAMPLES.get(PARAM_KINDS.get(name, ParamKind.TEXT), f"<{name}>")


# -- the templates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_renders_in_both_locales_with_every_parameter(template: str) -> None:
    texts = TEMPLATES[template]
    assert set(texts) == set(Locale), f"{template} lacks a text in {set(Locale) - set(texts)}"
    names = placeholders(texts[Locale.ID])
    assert set(placeholders(texts[Locale.EN])) == set(names), f"{template}: the locales take other parameters"
    params = {name: sample(name) for name in names}
    for locale in Locale:
        text = render(template, params, locale, strict=True)
        assert text and "{" not in text and "}" not in text, text
        for name in names:
            if PARAM_KINDS.get(name, ParamKind.TEXT) is ParamKind.TEXT:
                assert f"<{name}>" in text  # care's words and ids are written as given
        for name in names:  # each parameter is needed: without it the template is refused
            with pytest.raises(MissingParameter):
                render(template, {n: v for n, v in params.items() if n != name}, locale, strict=True)


def test_a_missing_template_or_locale_text_is_refused_where_it_is_checked() -> None:
    with pytest.raises(KeyError, match="no notice template"):
        render("dispute.no_such_notice", {}, Locale.ID, strict=True)
    # At run time a notice never fails a case: the placeholder stays, the default locale is used.
    assert render("ticket.closed", {}, Locale.EN) == "Your report {ticket_id} is closed."
    assert render("ticket.closed", {"ticket_id": "t-1"}, "fr") == "Laporan t-1 sudah ditutup."


def test_values_are_written_the_way_each_language_writes_them() -> None:
    params = {"dispute_id": "d-1", "refunded": 1_250_000, "released": 0}
    assert render("dispute.resolved", params, Locale.ID) == (
        "Komplain d-1 sudah selesai: Rp1.250.000 dikembalikan ke pembeli dan Rp0 diteruskan ke penjual."
    )
    assert render("dispute.resolved", params, Locale.EN) == (
        "Dispute d-1 is resolved: refunded Rp1,250,000 to the buyer, released Rp0 to the seller."
    )
    reminder = {"dispute_id": "d-1", "due_at": "2026-08-17T09:05:00+00:00", "todo": "ship"}
    assert render("dispute.reminder.care_takes_over", reminder, Locale.ID) == (
        "Mohon kirim barang dan masukkan nomor resi untuk komplain d-1 sebelum 17 Agu 2026 pukul 09.05 UTC."
        " Kalau tidak, Tokopedia Care akan mengambil alih."
    )
    for duration, indonesian, english in (
        ("PT24H", "24 jam", "24 hours"),
        ("P3D", "3 hari", "3 days"),
        ("PT90M", "90 menit", "90 minutes"),
        ("PT1H", "1 jam", "1 hour"),
    ):
        params = {"ticket_id": "t-1", "closes_in": duration}
        assert indonesian in render("ticket.solved", params, Locale.ID)
        assert english in render("ticket.solved", params, Locale.EN)
    assert rupiah(150_000, Locale.ID) == "Rp150.000"


def test_an_empty_note_leaves_no_gap_and_a_role_opens_the_sentence_capitalised() -> None:
    decided = {"dispute_id": "d-1", "solution": {"kind": "EXCHANGE"}, "note": ""}
    assert (
        render("dispute.decided", decided, Locale.ID)
        == "Tokopedia Care memutuskan solusi untuk komplain d-1: tukar produk."
    )
    appealed = {"dispute_id": "d-1", "by": "seller", "review_due_at": "2026-01-04T02:59:00+00:00"}
    assert render("dispute.decision_appealed", appealed, Locale.ID).startswith(
        "Penjual mengajukan banding atas keputusan Tokopedia Care untuk komplain d-1."
    )
    # Care's own words are never changed, even lower-case at the start.
    assert render("ticket.care_replied", {"text": "silakan cek saldo"}, Locale.ID) == "silakan cek saldo"


# -- the words parameters are written with ---------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TERMS))
def test_every_word_has_both_locales(kind: str) -> None:
    assert ParamKind(kind) in set(PARAM_KINDS.values())
    for value, words in TERMS[kind].items():
        assert set(words) == set(Locale) and all(words.values()), f"{kind}.{value}"


def test_every_value_the_domain_knows_has_its_words() -> None:
    """A new reason, status, solution, topic, role or action needs its words in notice_texts.py."""
    known = {
        "reason": {reason.value for reason in Reason},
        "status": {status.value for status in DisputeStatus},
        "solution": {kind.value for kind in SolutionKind},
        "topic": {topic.value for topic in TicketTopic},
        "role": {role.value for role in Role},
        "did": {spec.name for registry in (DISPUTE_ACTIONS, TICKET_ACTIONS) for spec in registry},
        "todo": {"respond", "ship", "confirm_receipt", "confirm_return", "appeal_decision", "message"},
        "evidence": {kind.value for kind in EvidenceType},
    }
    for kind, values in known.items():
        assert values <= set(TERMS[kind]), f"{kind}: no words for {sorted(values - set(TERMS[kind]))}"
    assert {status.value for status in TicketStatus}  # reports' statuses are never told in a notice


# -- every notice the domain can emit ---------------------------------------------------------------


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found))


def dispute_events() -> list[DomainEvent]:
    """Every kind of event a dispute reacts to, in each of its variants."""
    due = T0 + timedelta(days=2)
    events: list[DomainEvent] = [
        Opened(),
        Cancelled(),
        SettlementDue(),
        Resolved(),
        CareSpoke(text="checking the courier", articles=("art-1",)),
        Decided(solution=PARTIAL_REFUND, note="split"),
        Decided(solution=EXCHANGE, note="", appeal_until=due),
        DecisionAppealed(by=Role.SELLER, review_due_at=due),
        DecisionReviewed(confirmed=True, solution=PARTIAL_REFUND, note="stands"),
        DecisionReviewed(confirmed=False, solution=EXCHANGE, note=""),
        DecisionFinal(reason="both parties accepted it"),
        DecisionFinal(reason="no appeal within 2d"),
        ReceiptConfirmed(reason="the buyer neither confirmed receipt nor raised a problem within 3d"),
        CareReplyDue(due_at=due, started_at=T0, breached=True),
        EffectParked(effect="refund_to_buyer", key="d-1:refund_to_buyer", reason="refused"),
        EffectRepaired(key="d-1:refund_to_buyer", reference=None),
        *(PartyInactive(party=party) for party in (Role.BUYER, Role.SELLER)),
        *(
            ShipmentDelivered(by=by, tracking_number="JNE123", until=until)
            for by in (Role.BUYER, Role.SELLER)
            for until in (due, None)
        ),
        *(ReturnConfirmed(by_system=by_system) for by_system in (True, False)),
        ReturnRefused(reason="the item came back broken"),
        ReturnLapsed(reason="not shipped back within 3d"),
        *(
            InfoRequested(party=Role.SELLER, text="send the resi", due_at=due, evidence_type=evidence)
            for evidence in (EvidenceType.PROOF_OF_SHIPMENT, None)
        ),
        *(
            PauseEnded(kind="info_request", party=Role.SELLER, reason=reason)
            for reason in ("info_request_expired", "info_request_answered")
        ),
        *(Escalated(by=by) for by in ("buyer", "seller")),
        *(Escalated(by="system", reason="a window closed", window=w) for w in [*WindowKind, ""]),
        *(
            Acted(actor=Actor(role=role, id="b-1" if role is Role.BUYER else "s-1"), action=spec.name)
            for spec in DISPUTE_ACTIONS
            for role in sorted(spec.roles)
        ),
        *(
            Reminded(deadline=Deadline(party=party, action=action, due_at=due, then=then))
            for then in Then
            for party in (Role.BUYER, Role.SELLER)
            for action in ("respond", "ship", "confirm_receipt", "appeal_decision")
        ),
    ]
    return events


def ticket_events() -> list[DomainEvent]:
    """Every kind of event a report reacts to."""
    due = T0 + timedelta(days=2)
    return [
        Opened(),
        Closed(),
        Solved(),
        Solved(by_system=True),
        CareSpoke(text="we refunded the double charge"),
        Reminded(deadline=Deadline(party=Role.USER, action="message", due_at=due, then=Then.SOLVED)),
        # ownership (domain/care.py): the agent given the case and the one it was taken from
        Assigned(assignee="agent-2", group=None, previous=None, by=Actor(role=Role.SUPERVISOR, id="lead-1")),
        Assigned(
            assignee="agent-2",
            group="logistics",
            previous="agent-1",
            by=Actor(role=Role.SUPERVISOR, id="lead-1"),
        ),
        Assigned(assignee=None, group="supervisors", previous="agent-1", reason="care_reply target missed"),
        *(
            Acted(actor=Actor(role=role, id="u-1"), action=spec.name)
            for spec in TICKET_ACTIONS
            for role in spec.roles
        ),
    ]


def settled(dispute: Dispute) -> Dispute:
    """The dispute with what a resolution and a decision leave on it, for the events that read them."""
    outcome = Outcome(
        status=DisputeStatus.RESOLVED,
        decided_by="care",
        refunded_to_buyer=150_000,
        released_to_seller=50_000,
        at=T0,
    )
    return dispute.model_copy(update={"agreed_solution": PARTIAL_REFUND, "outcome": outcome})


def walked(cases: list[CareCase], events: list[DomainEvent]) -> list[Notice]:
    return [notice for case in cases for event in events for notice in consequences(case, [event]).notices]


def test_every_event_of_the_domain_is_walked() -> None:
    """A new domain event must be added to the walk below (and given its notices, if any)."""
    walked_kinds = {type(event) for event in dispute_events() + ticket_events()}
    missing = {cls.__name__ for cls in _subclasses(DomainEvent)} - {cls.__name__ for cls in walked_kinds}
    assert not missing, f"add {sorted(missing)} to tests/test_notices.py's walk"


def test_every_notice_the_domain_can_emit_names_a_template_with_its_parameters() -> None:
    """Walk every event on disputes in several states, under a policy with every clock on and one
    with the clocks off (the notices that name a window's length fall back to their general form)."""
    clocks_off = CLOCKED_POLICY.model_copy(update={"seller_response": None, "decision_appeal_window": None})
    disputes: list[CareCase] = [
        settled(drive_dispute(*steps, solution=solution, policy=policy))
        for policy in (CLOCKED_POLICY, clocks_off, RETURNS_POLICY)
        for steps, solution in (
            ((), PARTIAL_REFUND),
            ((offer(SELLER),), PARTIAL_REFUND),
            ((Accept(actor=SELLER),), EXCHANGE),
        )
    ]
    accepted = {"decision_accepted_by": [Role.BUYER, Role.SELLER]}
    disputes.append(disputes[0].model_copy(update=accepted))
    tickets: list[CareCase] = [drive_ticket(), drive_ticket(policy=CLOCKED_TICKET_POLICY)]
    notices = walked(disputes, dispute_events()) + walked(tickets, ticket_events())
    assert {n.template for n in notices} == set(TEMPLATES)  # and every template is used
    for notice in notices:
        for locale in Locale:
            render(notice.template, notice.params, locale, strict=True)
        assert notice.text == render(notice.template, notice.params, notice.locale, strict=True)


def test_each_party_gets_the_locale_its_claim_named() -> None:
    dispute = drive_clocked(solution=PARTIAL_REFUND).model_copy(update={"seller_locale": Locale.EN})
    told = consequences(settled(dispute), [Resolved()]).notices
    assert [(n.party, n.locale) for n in told] == [(Role.BUYER, Locale.ID), (Role.SELLER, Locale.EN)]
    assert told[0].text.startswith("Komplain d-1 sudah selesai")
    assert told[1].text.startswith("Dispute d-1 is resolved")
    english = drive_ticket(locale=Locale.EN)
    assert consequences(english, [Closed()]).notices[0].text == "Your report t-1 is closed."
    assert consequences(drive_ticket(), [Closed()]).notices[0].text == "Laporan t-1 sudah ditutup."


# -- what running cases queued before templates ---------------------------------------------------


async def test_a_notice_queued_before_templates_is_still_delivered(engine: AsyncEngine) -> None:
    """A publish step recorded before notices had templates carries text only: it decodes with
    the defaults and is delivered as it is; its webhook events carry no notices."""
    old = PublishInput.model_validate(
        {
            "case_id": "dispute-o-1",
            "batch": 1,
            "notices": [
                {
                    "case_id": "dispute-o-1",
                    "party": "seller",
                    "party_id": "s-1",
                    "text": "Buyer b-1 opened dispute dispute-o-1 on order o-1 (DAMAGED).",
                    "category": "update",
                    "idempotency_key": "dispute-o-1:notice:1",
                }
            ],
            "events": [
                {
                    "id": "dispute-o-1:1",
                    "type": "dispute.opened",
                    "case_id": "dispute-o-1",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "data": {"id": "dispute-o-1"},
                }
            ],
        }
    )
    [notice] = old.notices
    assert (notice.template, notice.params, notice.locale) == (None, {}, None)
    recorded = await OutboxAdapters(Outbox(engine)).notify(notice)
    assert (recorded.text, recorded.template, recorded.params, recorded.locale) == (
        notice.text,
        None,
        None,
        None,
    )
    assert payload_of(old.events[0])["notices"] == []
