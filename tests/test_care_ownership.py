"""Who owns a case in care (domain/care.py), the pure rules on both kinds: claim, assign, release,
who may take a case from its owner, groups and routing from the case's policy, and the move of a
case whose care target was missed to the supervisors' group, told to its assignee."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from domain.care import Assign, Claim, Release
from domain.case import CareCase
from domain.dispute import Reason
from domain.errors import InvalidInput, InvalidTransition
from domain.events import Acted, Assigned
from domain.notices import render
from domain.outbound import EventType
from domain.reactions import consequences, snapshot
from domain.ticket import TicketReply, TicketTopic
from domain.types import Actor, CareTarget, Locale, Role
from domain.views import current_details
from tests.factories import (
    BUYER,
    CARE,
    CLOCKED_POLICY,
    DECISION_TARGET,
    DISPUTE_POLICY,
    OPERATOR,
    SELLER,
    SUPERVISOR,
    TARGET,
    TICKET_POLICY,
    USER,
    after,
    ask_help,
    drive_dispute,
    drive_ticket,
    offer,
)

OTHER = Actor(role=Role.CARE, id="agent-8")
GROUPS = {
    "care_groups": ["payments", "logistics"],
    "care_supervisors_group": "supervisors",
    "care_routing": {"PAYMENT": "payments", "DAMAGED": "logistics", "*": "payments"},
}
ROUTED_DISPUTE = DISPUTE_POLICY.model_copy(update=GROUPS)
ROUTED_TICKET = TICKET_POLICY.model_copy(update=GROUPS)


def in_mediation(**overrides: Any) -> CareCase:
    """A dispute the buyer took to care, under the routed policy unless told otherwise."""
    return drive_dispute(offer(SELLER), ask_help(BUYER), **({"policy": ROUTED_DISPUTE} | overrides))


def waiting_report(**overrides: Any) -> CareCase:
    """A report waiting for care (topic PAYMENT), under the routed policy unless told otherwise."""
    return drive_ticket(**({"policy": ROUTED_TICKET, "topic": TicketTopic.PAYMENT} | overrides))


CASES = pytest.mark.parametrize("build", [in_mediation, waiting_report], ids=["dispute", "ticket"])


@CASES
def test_a_claim_takes_an_unowned_case_and_another_agent_is_refused(build: Callable[[], CareCase]) -> None:
    case = build()
    happened = case.apply(Claim(actor=CARE), after(case))
    assert case.assignee == CARE.id
    assert happened[1] == Assigned(assignee=CARE.id, group=case.care_group, previous=None, by=CARE)
    follows = consequences(case, happened)
    assert EventType.CARE_ASSIGNED in follows.published
    assert not [n for n in follows.notices if n.party is Role.CARE]  # the claimant is not told of itself
    assert snapshot(case)["assignee"] == CARE.id
    before = case.model_dump()
    for refused in (Claim(actor=OTHER), Release(actor=OTHER), Assign(actor=OTHER, assignee=OTHER.id)):
        with pytest.raises(InvalidTransition) as error:
            case.check(refused, after(case))
        assert f"assigned to {CARE.id}" in error.value.message
        assert error.value.details["assignee"] == CARE.id
    assert case.model_dump() == before
    # a claim repeated by its owner changes nothing and tells nobody
    again = case.apply(Claim(actor=CARE), after(case))
    assert again == [Acted(actor=CARE, action="claim")]


@CASES
def test_a_supervisor_or_an_operator_reassigns_anyone_and_both_agents_are_told(
    build: Callable[[], CareCase],
) -> None:
    case = build()
    case.apply(Claim(actor=CARE), after(case))
    happened = case.apply(Assign(actor=SUPERVISOR, assignee=OTHER.id, group="logistics"), after(case))
    assert (case.assignee, case.care_group) == (OTHER.id, "logistics")
    told = consequences(case, happened).notices
    assert [(n.party, n.party_id, n.template, n.params, n.locale) for n in told] == [
        (
            Role.CARE,
            OTHER.id,
            "care.assigned.group",
            {"case_id": case.id, "group": "logistics", "by_id": "lead-3"},
            Locale.ID,
        ),
        (
            Role.CARE,
            CARE.id,
            "care.reassigned",
            {"case_id": case.id, "now_with": "agent-8", "by_id": "lead-3"},
            Locale.ID,
        ),
    ]
    assert told[0].text == f"Kasus {case.id} sekarang ditugaskan kepadamu di grup logistics oleh lead-3."
    assert render(told[1].template, told[1].params, Locale.EN) == (
        f"Case {case.id} was reassigned from you to agent-8 by lead-3."
    )
    assert f"**Care owner:** {OTHER.id} · group logistics" in current_details(case)  # the Web UI
    case.apply(Release(actor=OPERATOR), after(case))
    assert (case.assignee, case.care_group) == (None, "logistics")
    assert "**Care owner:** nobody · group logistics" in current_details(case)
    assert [e.event for e in case.timeline[-3:]] == ["claim", "assign", "release"]


@CASES
def test_a_care_agent_hands_over_its_own_case_and_releases_it(build: Callable[[], CareCase]) -> None:
    case = build()
    case.apply(Assign(actor=CARE, assignee=CARE.id), after(case))  # an unowned case: anyone may
    case.apply(Assign(actor=CARE, group="logistics"), after(case))  # to a group only: unowned there
    assert (case.assignee, case.care_group) == (None, "logistics")
    case.apply(Claim(actor=OTHER), after(case))
    case.apply(Release(actor=OTHER), after(case))
    assert case.assignee is None
    assert "release" not in case.allowed_actions[Role.CARE]  # nobody owns it: nothing to release


@CASES
def test_an_assignment_names_someone_and_a_known_group(build: Callable[[], CareCase]) -> None:
    case = build()
    with pytest.raises(InvalidInput) as nobody:
        case.check(Assign(actor=SUPERVISOR), after(case))
    assert nobody.value.details["errors"][0]["field"] == "assignee"
    with pytest.raises(InvalidInput) as unknown:
        case.check(Assign(actor=SUPERVISOR, group="billing"), after(case))
    assert unknown.value.details["errors"][0] == {
        "field": "group",
        "reason": "no care group 'billing'; the groups are ['payments', 'logistics', 'supervisors']",
    }
    case.check(Assign(actor=SUPERVISOR, group="supervisors"), after(case))  # always a group


def test_ownership_is_for_cases_care_works_on() -> None:
    """Not before a dispute reaches care, not once it is decided; supervisors during their review;
    a report only while it waits for care; the user never."""
    negotiating = drive_dispute(offer(SELLER))
    with pytest.raises(InvalidTransition):
        negotiating.check(Claim(actor=CARE), after(negotiating))
    replied = drive_ticket(policy=ROUTED_TICKET)
    replied.apply(Claim(actor=CARE), after(replied))
    replied.apply(TicketReply(actor=CARE, text="done"), after(replied))
    assert replied.allowed_actions[Role.CARE] == ["reply", "solve"]
    with pytest.raises(InvalidTransition):
        replied.check(Release(actor=CARE), after(replied))
    assert replied.assignee == CARE.id  # the owner keeps it while the user answers
    with pytest.raises(InvalidTransition):  # the reporting user is no care role
        replied.check(Claim(actor=USER), after(replied))


def test_a_report_is_routed_by_its_topic_when_it_is_filed() -> None:
    ticket = waiting_report()
    assert ticket.care_group == "payments"
    assert [(e.event, e.detail) for e in ticket.timeline] == [
        ("opened", ticket.timeline[0].detail),
        ("routed", {"group": "payments", "by": "PAYMENT"}),
    ]
    assert waiting_report(topic=TicketTopic.SHIPPING).care_group == "payments"  # '*'
    assert drive_ticket().care_group is None  # no routing in its policy: no group


def test_a_dispute_is_routed_by_its_reason_when_it_reaches_care() -> None:
    negotiating = drive_dispute(offer(SELLER), policy=ROUTED_DISPUTE)
    assert negotiating.care_group is None  # not before it reaches care
    dispute = in_mediation()
    assert dispute.care_group == "logistics"  # DAMAGED
    assert in_mediation(reason=Reason.NOT_RECEIVED).care_group == "payments"  # '*'
    assert in_mediation(policy=DISPUTE_POLICY).care_group is None


@CASES
def test_a_missed_target_moves_the_case_to_the_supervisors_and_tells_its_assignee(
    build: Callable[[], CareCase],
) -> None:
    case = build()
    case.apply(Claim(actor=CARE), after(case))
    started = case.care_clock.started_at if case.care_clock else None
    assert started is not None
    happened = case.tick(started + TARGET)
    moved = Assigned(assignee=None, group="supervisors", previous=CARE.id, reason="care_reply target missed")
    assert moved in happened
    assert (case.assignee, case.care_group) == (None, "supervisors")
    assert case.timeline[-1].event == "reassigned"
    assert case.timeline[-1].detail == {
        "group": "supervisors",
        "previous_assignee": CARE.id,
        "reason": "care_reply target missed",
    }
    follows = consequences(case, happened)
    assert EventType.CARE_ASSIGNED in follows.published
    [told] = [n for n in follows.notices if n.template == "care.moved_to_group"]
    assert (told.party, told.party_id) == (Role.CARE, CARE.id)
    assert render(told.template, told.params, Locale.EN) == (
        f"Case {case.id} moved to the supervisors group (care_reply target missed);"
        " it is no longer assigned to you."
    )
    # a supervisor takes it; a later breach leaves it with the supervisor
    case.apply(Claim(actor=SUPERVISOR), after(case))
    assert case.assignee == SUPERVISOR.id


def test_a_second_missed_target_leaves_the_case_with_its_supervisor() -> None:
    policy = CLOCKED_POLICY.model_copy(update=GROUPS)
    dispute = drive_dispute(offer(SELLER), ask_help(BUYER), policy=policy)
    escalated = dispute.escalated_at
    assert escalated is not None
    dispute.tick(escalated + TARGET)
    dispute.apply(Claim(actor=SUPERVISOR), escalated + TARGET + timedelta(minutes=1))
    happened = dispute.tick(escalated + DECISION_TARGET)
    assert [e for e in happened if isinstance(e, Assigned)] == []
    assert dispute.assignee == SUPERVISOR.id
    assert dispute.decision_clock is not None and dispute.decision_clock.target is CareTarget.DECISION


def test_a_case_opened_before_groups_stays_where_it_is_when_a_target_is_missed() -> None:
    """A policy recorded without a supervisors' group (every case before this change) keeps the
    case, and its history, as it was."""
    dispute = drive_dispute(offer(SELLER), ask_help(BUYER))
    assert dispute.policy.care_supervisors_group is None
    escalated = dispute.escalated_at
    assert escalated is not None
    happened = dispute.tick(escalated + TARGET)
    assert not [e for e in happened if isinstance(e, Assigned)]
    assert dispute.care_group is None
