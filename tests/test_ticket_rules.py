"""The pure help-center report rules with plain objects: the action registry and every transition,
the reply clock, solve and close, parked effects and their repair, the message limit, what each
change sets off, the words on-call staff read, and input validation."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.care import Assign, Claim, Release
from domain.case import Attention, DeadlineEvent
from domain.commands import Action, CareReply, Command, ResolveEffect, RetryEffect, SendMessage
from domain.dispute import DISPUTE_ACTIONS
from domain.errors import InvalidInput, InvalidTransition, LimitReached, NotAParty
from domain.events import (
    Acted,
    CareReplyDue,
    CareSpoke,
    Closed,
    DomainEvent,
    EffectParked,
    EffectRepaired,
    Opened,
    Reminded,
    Solved,
)
from domain.kinds import TICKET
from domain.notices import render
from domain.outbound import EventType
from domain.reactions import Notice, NoticeCategory, consequences, snapshot
from domain.ticket import (
    TICKET_ACTIONS,
    Hold,
    Priority,
    ReporterRole,
    Resume,
    Solve,
    Ticket,
    TicketMessage,
    TicketPolicy,
    TicketReply,
    TicketReport,
    TicketStatus,
    TicketTopic,
    UserMessage,
)
from domain.types import Actor, Deadline, Locale, Role, Then
from domain.views import (
    TicketView,
    current_details,
    deadline_effect,
    deadline_name,
    ticket_details,
    ticket_summary,
)
from tests.factories import (
    ACTORS,
    CARE,
    CLOCKED_TICKET_POLICY,
    DETAILS,
    EXTERNAL_REF,
    LEAD,
    OPERATOR,
    QUIET,
    REFUSED,
    STEP,
    T0,
    TARGET,
    TICKET_ID,
    TICKET_POLICY,
    USER,
    USER_WAIT,
    WARNING,
    after,
    breached,
    hold,
    park,
    reply,
    resolve,
    retry,
    solve,
    ticket_request,
    warned,
    write,
)
from tests.factories import drive_ticket as drive
from tests.rules_harness import Registered, RulesTable, State
from tests.test_rules import DISPUTE_TABLE

MSG, REPLY, SOLVE = Action.MESSAGE, Action.REPLY, Action.SOLVE
HOLD, RESUME = Hold.action, Resume.action
RETRY, RESOLVE = RetryEffect.action, ResolveEffect.action
ASSIGN, CLAIM, UNCLAIM = Assign.action, Claim.action, Release.action
#: Care's ownership actions (domain/care.py) on a report nobody owns, and on one care owns.
UNOWNED = [ASSIGN, CLAIM]
OWNED = [ASSIGN, CLAIM, UNCLAIM]
#: What each action leaves the report in (an operator's repair leaves the status as it was).
AFTER_ACTION: dict[str, TicketStatus] = {
    MSG: TicketStatus.AWAITING_CARE,
    REPLY: TicketStatus.AWAITING_USER,
    SOLVE: TicketStatus.SOLVED,
}


def status_of(ticket: Ticket) -> TicketStatus:
    """The status, read through a call so mypy does not keep an earlier narrowing."""
    return ticket.status


def command(action: str, actor: Actor) -> Command:
    """A valid report command of ``action`` by ``actor``."""
    return TICKET_TABLE.command(action, actor)


def allowed(
    user: list[str] | None = None,
    care: list[str] | None = None,
    operator: list[str] | None = None,
    supervisor: list[str] | None = None,
) -> dict[Role, list[str]]:
    """An ``allowed_actions`` value, empty for every role not named."""
    return {
        Role.USER: user or [],
        Role.CARE: care or [],
        Role.SUPERVISOR: supervisor or [],
        Role.OPERATOR: operator or [],
    }


def waiting_for_care(operator: list[str] | None = None, *, owned: bool = False) -> dict[Role, list[str]]:
    """What a report waiting for care allows: the user writes, care replies, solves and owns it."""
    mine = OWNED if owned else UNOWNED
    return allowed(
        [MSG], [REPLY, SOLVE, HOLD, *mine], [*(operator or []), ASSIGN, *([UNCLAIM] if owned else [])], mine
    )


def to_user(text: str, category: NoticeCategory = NoticeCategory.UPDATE) -> tuple[str, NoticeCategory]:
    """A notice for the reporting user u-1 (its English text)."""
    return text, category


def said(notices: list[Notice]) -> list[tuple[str, NoticeCategory]]:
    """The notices to u-1 rendered in English from their template and parameters (each one given:
    ``strict``); the user reads Indonesian."""
    assert all((n.party, n.party_id, n.locale) == (Role.USER, USER.id, Locale.ID) for n in notices)
    return [(render(n.template, n.params, Locale.EN, strict=True), n.category) for n in notices]


def conversation(ticket: Ticket) -> list[TicketMessage]:
    """The report's conversation as the API shows it (read from the timeline)."""
    return TicketView.of(ticket, ticket.timeline).messages


# -- the registry: every report action is one registered thing ---------------------------------

#: The documented actions (docs/rules.md, README), in the order ``allowed_actions`` lists them:
#: the roles that may ever take each one and the path it is posted to under /v1/tickets/{id}/.
REGISTERED: dict[str, Registered] = {
    MSG: Registered({Role.USER}, "messages", lambda actor: UserMessage(actor=actor, text="hello")),
    REPLY: Registered({Role.CARE}, "care/replies", lambda a: TicketReply(actor=a, text="hello from care")),
    SOLVE: Registered({Role.CARE}, "solve", lambda actor: Solve(actor=actor)),
    HOLD: Registered({Role.CARE}, "care/hold", lambda a: Hold(actor=a, reason="waiting for the bank")),
    RESUME: Registered({Role.CARE}, "care/resume", lambda actor: Resume(actor=actor)),
    RETRY: Registered({Role.OPERATOR}, "operator/retry", lambda actor: RetryEffect(actor=actor)),
    RESOLVE: Registered(
        {Role.OPERATOR}, "operator/resolve", lambda a: ResolveEffect(actor=a, external_ref=EXTERNAL_REF)
    ),
    ASSIGN: Registered(
        {Role.CARE, Role.SUPERVISOR, Role.OPERATOR},
        "care/assign",
        lambda a: Assign(actor=a, assignee="agent-9"),
    ),
    CLAIM: Registered({Role.CARE, Role.SUPERVISOR}, "care/claim", lambda a: Claim(actor=a)),
    UNCLAIM: Registered(
        {Role.CARE, Role.SUPERVISOR, Role.OPERATOR}, "care/release", lambda a: Release(actor=a)
    ),
}


# -- the transition table (the spec, from docs/rules.md) ----------------------------------------


def _closed() -> Ticket:
    ticket = drive(reply(), solve())
    assert ticket.closes_at is not None
    assert ticket.tick(ticket.closes_at) == [Closed()]
    return ticket


#: The idempotency keys of report t-1's effects, as the workflow names them.
WARNING_KEY = "t-1:care_reply_warning:2026-01-01T00:00:00+00:00"
BREACH_KEY = "t-1:care_reply_breached:2026-01-01T00:00:00+00:00"
PUBLISH_KEY = "t-1:publish:4"


def warning_parked() -> Ticket:
    """The care desk refused the reply-target warning for good."""
    ticket = drive()
    ticket.tick(T0 + WARNING)
    park(ticket, "care_reply_warning", WARNING_KEY)
    return ticket


def closed_with_parked(effect: str, key: str) -> Callable[[], Ticket]:
    """A closed report with ``effect`` still waiting for an operator."""

    def build() -> Ticket:
        ticket = _closed()
        park(ticket, effect, key)
        return ticket

    return build


STATES = [
    State("opened", TicketStatus.AWAITING_CARE, lambda: drive(), waiting_for_care()),
    State(
        "claimed", TicketStatus.AWAITING_CARE, lambda: drive(Claim(actor=CARE)), waiting_for_care(owned=True)
    ),
    State(
        "care_replied_user_wait_running",
        TicketStatus.AWAITING_USER,
        lambda: drive(reply(), policy=CLOCKED_TICKET_POLICY),
        allowed([MSG], [REPLY, SOLVE]),
    ),
    State("user_wrote_again", TicketStatus.AWAITING_CARE, lambda: drive(write()), waiting_for_care()),
    State(
        "user_answered_care",
        TicketStatus.AWAITING_CARE,
        lambda: drive(reply(), write()),
        waiting_for_care(),
    ),
    State("solved", TicketStatus.SOLVED, lambda: drive(reply(), solve()), allowed([MSG])),
    State("solved_unanswered", TicketStatus.SOLVED, lambda: drive(solve()), allowed([MSG])),
    State("closed", TicketStatus.CLOSED, _closed, allowed()),
    # on hold: the reply target waits; care resumes it, replies or solves; the user's message ends it
    State(
        "on_hold",
        TicketStatus.AWAITING_CARE,
        lambda: drive(hold()),
        allowed([MSG], [REPLY, SOLVE, RESUME, *UNOWNED], [ASSIGN], UNOWNED),
    ),
    State(
        "on_hold_after_a_reply",
        TicketStatus.AWAITING_CARE,
        lambda: drive(reply(), write(), hold()),
        allowed([MSG], [REPLY, SOLVE, RESUME, *UNOWNED], [ASSIGN], UNOWNED),
    ),
    # an effect refused for good waits for an operator; a closed report is open to the operator only
    State(
        "awaiting_care_warning_parked",
        TicketStatus.AWAITING_CARE,
        warning_parked,
        waiting_for_care([RETRY, RESOLVE]),
    ),
    State(
        "closed_breach_parked",
        TicketStatus.CLOSED,
        closed_with_parked("care_reply_breached", BREACH_KEY),
        allowed(operator=[RETRY, RESOLVE]),
    ),
    State(
        "closed_publish_parked",
        TicketStatus.CLOSED,
        closed_with_parked("publish", PUBLISH_KEY),
        allowed(operator=[RETRY]),
    ),
]


def _moved(ticket: Ticket, role: Role, action: str, happened: list[DomainEvent], state: State) -> None:
    """Each action leaves the report in its status (an operator's repair leaves it as it was)."""
    assert ticket.status is AFTER_ACTION.get(action, state.status)


#: The report's tables for the one rules harness (tests/test_rules_table.py).
TICKET_TABLE = RulesTable(
    kind=TICKET,
    registered=REGISTERED,
    states=STATES,
    closed={TicketStatus.CLOSED},
    followed=_moved,
)


def test_the_roles_of_a_report() -> None:
    """The user, care, supervisors (who reassign) and operators act on a report, in this order."""
    assert Ticket.roles == (Role.USER, Role.CARE, Role.SUPERVISOR, Role.OPERATOR)


DISPUTE_ONLY = [spec.name for spec in DISPUTE_ACTIONS if spec.name not in TICKET_ACTIONS]


@pytest.mark.parametrize("role", Ticket.roles, ids=str)
@pytest.mark.parametrize("action", DISPUTE_ONLY, ids=str)
def test_a_disputes_action_is_refused_by_a_report(action: str, role: Role) -> None:
    """Offers, acceptance, help, decisions, shipments... belong to disputes, not to reports."""
    ticket = drive()
    with pytest.raises(InvalidTransition) as refused:
        ticket.check(DISPUTE_TABLE.command(action, ACTORS[role]), after(ticket))
    assert refused.value.details["allowed_actions"] == {
        "user": ["message"],
        "care": ["reply", "solve", "hold", "assign", "claim"],
        "supervisor": ["assign", "claim"],
        "operator": ["assign"],
    }


@pytest.mark.parametrize(
    "foreign",
    [SendMessage(actor=USER, text="hi", evidence=["blob:x"]), CareReply(actor=CARE, text="hi")],
    ids=["dispute-message", "dispute-care-reply"],
)
def test_a_disputes_command_is_refused_by_a_report_even_under_the_same_name(foreign: Command) -> None:
    """A command of another kind of case is refused, whatever its action is called."""
    ticket = drive()
    with pytest.raises(InvalidTransition):
        ticket.check(foreign, after(ticket))


@pytest.mark.parametrize(
    "stranger",
    [
        Actor(role=Role.USER, id="u-2"),
        Actor(role=Role.BUYER, id=USER.id),
        Actor(role=Role.SELLER, id=USER.id),
        Actor(role=Role.BUYER, id="b-1"),
    ],
    ids=["other-user", "reporter-as-buyer", "reporter-as-seller", "some-buyer"],
)
@pytest.mark.parametrize("action", [spec.name for spec in TICKET_ACTIONS], ids=str)
def test_not_a_party(stranger: Actor, action: str) -> None:
    """Only the reporter (as ``user``) and care act on a report; buyer/seller roles are refused."""
    ticket = drive()
    with pytest.raises(NotAParty) as refused:
        ticket.check(command(action, stranger), after(ticket))
    assert refused.value.code == "NotAParty"
    assert stranger.id in refused.value.message


def test_not_a_party_comes_before_the_state_check() -> None:
    """Even on a closed report a stranger learns only that it is not a party."""
    ticket = _closed()
    with pytest.raises(NotAParty):
        ticket.check(UserMessage(actor=Actor(role=Role.USER, id="u-2"), text="hi"), after(ticket))


def test_any_care_agent_may_reply() -> None:
    """Care is not a party of one report: any agent id replies, and the conversation shows who."""
    ticket = drive()
    happened = ticket.apply(TicketReply(actor=Actor(role=Role.CARE, id="agent-99"), text="hello"), T0 + STEP)
    assert happened == [
        Acted(actor=Actor(role=Role.CARE, id="agent-99"), action=REPLY),
        CareSpoke(text="hello"),
    ]
    assert ticket.status is TicketStatus.AWAITING_USER
    assert conversation(ticket)[-1] == TicketMessage(
        author=Role.CARE, author_id="agent-99", text="hello", at=T0 + STEP
    )


# -- opening ----------------------------------------------------------------------------------


def test_open_records_the_report() -> None:
    """open() copies the report, records 'opened' with the details as the first message."""
    ticket = drive(dispute_id="d-9")
    assert ticket.id == TICKET_ID
    assert (ticket.user_id, ticket.role, ticket.topic) == (
        "u-1",
        ReporterRole.BUYER,
        TicketTopic.BALANCE_WITHDRAWAL,
    )
    assert (ticket.order_id, ticket.dispute_id) == ("o-1", "d-9")
    assert ticket.attachments == ["blob:screenshot-1"]
    assert ticket.policy == TICKET_POLICY
    assert ticket.opened_at == T0
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert conversation(ticket) == [TicketMessage(author=Role.USER, author_id="u-1", text=DETAILS, at=T0)]
    assert [entry.event for entry in ticket.timeline] == ["opened"]
    opened = ticket.timeline[0]
    assert (opened.seq, opened.actor, opened.at) == (1, USER, T0)
    assert opened.detail["dispute_id"] == "d-9"
    assert opened.detail["topic"] == "BALANCE_WITHDRAWAL"
    assert (ticket.solved_at, ticket.closes_at) == (None, None)
    assert ticket.message_count == 0  # the report itself is not a message


def test_the_conversation_is_read_from_the_timeline() -> None:
    """The report's details, the user's messages and care's replies, in order; nothing else."""
    ticket = drive(reply(), write("it still fails"), solve(), write("again"))
    assert conversation(ticket) == [
        TicketMessage(author=Role.USER, author_id="u-1", text=DETAILS, at=T0),
        TicketMessage(
            author=Role.CARE, author_id="agent-7", text="we are checking your withdrawal", at=T0 + STEP
        ),
        TicketMessage(author=Role.USER, author_id="u-1", text="it still fails", at=T0 + 2 * STEP),
        TicketMessage(author=Role.USER, author_id="u-1", text="again", at=T0 + 4 * STEP),
    ]
    assert "messages" not in Ticket.model_fields
    view = TicketView.of(ticket, ticket.timeline)
    assert (view.status, view.allowed_actions, view.timeline) == (
        ticket.status,
        ticket.allowed_actions,
        ticket.timeline,
    )


# -- the care reply target ----------------------------------------------------------------------


def test_opening_starts_the_care_reply_clock() -> None:
    """Care owes the first reply within the target from the moment the report was filed."""
    ticket = drive()
    assert ticket.care_clock is not None
    assert ticket.care_clock.started_at == T0
    assert ticket.care_reply_due_at == T0 + TARGET
    assert ticket.next_deadline() == (T0 + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    assert ticket.model_dump()["care_reply_due_at"] == T0 + TARGET
    assert not ticket.sla_breached


def test_care_clock_warns_once_then_breaches_once() -> None:
    """tick() reports the warning at warn time and the breach at due time, each once."""
    ticket = drive()
    assert ticket.tick(T0 + WARNING - timedelta(seconds=1)) == []
    assert ticket.tick(T0 + WARNING) == [warned(T0)]
    assert ticket.timeline[-1].event == "care_reply_warning"
    assert ticket.tick(T0 + WARNING + STEP) == []
    assert not ticket.sla_breached
    assert ticket.sla_breaches == 0
    assert ticket.next_deadline() == (T0 + TARGET, DeadlineEvent.CARE_REPLY_BREACHED)
    assert ticket.tick(T0 + TARGET - timedelta(seconds=1)) == []
    assert ticket.tick(T0 + TARGET) == [breached(T0)]
    assert ticket.sla_breached
    assert ticket.sla_breaches == 1
    breach = ticket.timeline[-1]
    assert (breach.event, breach.at, breach.actor) == ("care_reply_breached", T0 + TARGET, None)
    assert breach.status == TicketStatus.AWAITING_CARE
    assert breach.detail == {"due_at": (T0 + TARGET).isoformat()}
    assert ticket.tick(T0 + 2 * TARGET) == []
    assert ticket.sla_breaches == 1
    assert ticket.next_deadline() is None
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert "**Care reply overdue** since 2026-01-02 00:00 UTC" in current_details(ticket)


def test_late_tick_reports_warning_and_breach_together() -> None:
    """A tick past the due time reports both, in order."""
    ticket = drive()
    assert ticket.tick(T0 + TARGET + STEP) == [warned(T0), breached(T0)]
    assert ticket.sla_breaches == 1


def test_care_reply_before_the_warning_stops_the_clock() -> None:
    """A reply in time leaves no clock: no warning, no breach, ever."""
    ticket = drive(reply())
    assert ticket.care_clock is None
    assert ticket.care_reply_due_at is None
    assert ticket.next_deadline() is None
    assert ticket.tick(T0 + WARNING) == []
    assert ticket.tick(T0 + TARGET) == []
    assert ticket.tick(T0 + 10 * TARGET) == []
    assert not ticket.sla_breached
    assert ticket.sla_breaches == 0
    assert "care_reply_warning" not in [entry.event for entry in ticket.timeline]


def test_care_reply_after_a_breach_keeps_the_breach() -> None:
    """A late reply stops the clock; the breach stays on the record."""
    ticket = drive()
    ticket.tick(T0 + TARGET)
    ticket.apply(reply(), T0 + TARGET + STEP)
    assert ticket.care_clock is None
    assert ticket.sla_breached
    assert ticket.sla_breaches == 1
    assert "overdue" not in current_details(ticket)


def test_user_message_after_a_care_reply_starts_the_next_reply_target() -> None:
    """After care replied, the user's message starts a fresh clock counted from that message."""
    ticket = drive(reply())
    asked = T0 + 5 * STEP
    assert ticket.apply(write("it still fails"), asked) == [Acted(actor=USER, action=MSG)]
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert ticket.care_clock is not None
    assert ticket.care_clock.started_at == asked
    assert ticket.care_reply_due_at == asked + TARGET
    assert ticket.next_deadline() == (asked + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    assert ticket.tick(asked + WARNING - timedelta(seconds=1)) == []
    assert ticket.tick(asked + TARGET) == [warned(asked), breached(asked)]
    assert ticket.sla_breaches == 1


def test_second_user_message_does_not_move_a_running_clock() -> None:
    """The oldest unanswered message counts."""
    ticket = drive(reply())
    first = T0 + 2 * STEP
    ticket.apply(write("first"), first)
    ticket.apply(write("second"), first + 3 * STEP)
    assert ticket.care_reply_due_at == first + TARGET
    ticket.apply(write("third"), first + 4 * STEP)
    assert ticket.care_reply_due_at == first + TARGET
    assert [m.text for m in conversation(ticket)] == [
        DETAILS,
        "we are checking your withdrawal",
        "first",
        "second",
        "third",
    ]


def test_user_message_right_after_opening_does_not_move_the_first_clock() -> None:
    """Messages before care's first reply leave the filing's clock as it is."""
    ticket = drive(write(), write())
    assert ticket.care_reply_due_at == T0 + TARGET


def test_each_missed_target_counts_as_a_breach() -> None:
    """A second missed target after a reply raises sla_breaches to 2."""
    ticket = drive()
    ticket.tick(T0 + TARGET)
    replied = T0 + TARGET + STEP
    ticket.apply(reply(), replied)
    asked = replied + STEP
    ticket.apply(write(), asked)
    assert ticket.tick(asked + TARGET) == [warned(asked), breached(asked)]
    assert ticket.sla_breaches == 2


# -- solve, quiet period, close, reopen ---------------------------------------------------------


def test_solve_starts_the_quiet_period() -> None:
    """Solving stops care's clock and starts the quiet period after which the report closes."""
    ticket = drive(reply())
    solved = T0 + 2 * STEP
    assert ticket.apply(solve(), solved) == [Acted(actor=CARE, action=SOLVE), Solved()]
    assert ticket.status is TicketStatus.SOLVED
    assert ticket.solved_at == solved
    assert ticket.closes_at == solved + QUIET
    assert ticket.care_clock is None
    assert ticket.next_deadline() == (solved + QUIET, DeadlineEvent.QUIET_PERIOD_OVER)
    assert ticket.timeline[-1].event == "solve"
    assert ticket.timeline[-1].status == TicketStatus.SOLVED
    assert not ticket.closed


def test_solve_while_care_owes_a_reply_stops_the_clock() -> None:
    """Care judged nothing more is owed: no breach follows."""
    ticket = drive()
    solved = T0 + STEP
    ticket.apply(solve(), solved)
    assert ticket.care_clock is None
    assert ticket.next_deadline() == (solved + QUIET, DeadlineEvent.QUIET_PERIOD_OVER)
    assert ticket.tick(T0 + TARGET) == []
    assert not ticket.sla_breached


def test_quiet_period_closes_the_ticket() -> None:
    """tick() at the close time closes the report once; nothing can be done afterwards."""
    ticket = drive(reply(), solve())
    solved = T0 + 2 * STEP
    closes_at = solved + QUIET
    assert ticket.tick(closes_at - timedelta(seconds=1)) == []
    assert status_of(ticket) is TicketStatus.SOLVED
    assert ticket.tick(closes_at) == [Closed()]
    assert status_of(ticket) is TicketStatus.CLOSED
    assert ticket.closed
    closing = ticket.timeline[-1]
    assert (closing.event, closing.at, closing.actor) == ("closed", closes_at, None)
    assert closing.status == TicketStatus.CLOSED
    assert closing.detail == {"solved_at": solved.isoformat()}
    assert ticket.next_deadline() is None
    assert ticket.tick(closes_at + QUIET) == []
    assert ticket.allowed_actions == allowed()


def test_user_message_reopens_a_solved_ticket() -> None:
    """A user message on a solved report reopens it with a new reply target."""
    ticket = drive(reply(), solve())
    old_closes_at = ticket.closes_at
    assert old_closes_at == T0 + 2 * STEP + QUIET
    reopened = T0 + 10 * STEP
    assert ticket.apply(write("it broke again"), reopened) == [Acted(actor=USER, action=MSG)]
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert (ticket.solved_at, ticket.closes_at) == (None, None)
    assert ticket.care_clock is not None
    assert ticket.care_clock.started_at == reopened
    assert ticket.care_reply_due_at == reopened + TARGET
    assert [entry.event for entry in ticket.timeline[-2:]] == ["reopened", "message"]
    assert ticket.timeline[-2].actor == USER
    assert ticket.timeline[-2].at == reopened
    assert ticket.next_deadline() == (reopened + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    assert ticket.allowed_actions == waiting_for_care()
    # care answers the reopened report in time: the old close time then does nothing
    ticket.apply(reply("fixed now"), reopened + STEP)
    assert ticket.tick(old_closes_at) == []
    assert status_of(ticket) is TicketStatus.AWAITING_USER
    assert not ticket.closed
    assert "closed" not in [entry.event for entry in ticket.timeline]


def test_reopened_ticket_is_not_closed_by_the_old_quiet_period() -> None:
    """Without a care reply only the new reply clock runs out at the old close time, never the close."""
    ticket = drive(reply(), solve())
    old_closes_at = ticket.closes_at
    assert old_closes_at is not None
    ticket.apply(write("it broke again"), T0 + 10 * STEP)
    happened = ticket.tick(old_closes_at)
    assert Closed() not in happened
    assert all(isinstance(event, CareReplyDue) for event in happened)
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert not ticket.closed


def test_a_message_that_is_not_a_reopen_records_no_reopened() -> None:
    """Only a message on a solved report is recorded as reopening it."""
    ticket = drive(reply(), write())
    assert [entry.event for entry in ticket.timeline] == ["opened", "reply", "message"]
    assert [entry.seq for entry in ticket.timeline] == [1, 2, 3]


# -- a report waiting on the user (issue 11) ----------------------------------------------------


def clocked(*steps: Command) -> Ticket:
    """A report filed under the policy with the user-wait clock and reminders on."""
    return drive(*steps, policy=CLOCKED_TICKET_POLICY)


def test_a_report_filed_before_the_user_wait_existed_waits_for_ever() -> None:
    """The stored policy of an older report has no user wait: no window, no reminder."""
    ticket = drive(reply())
    assert (ticket.window, ticket.next_deadline(), ticket.deadlines) == (None, None, [])


def test_care_reply_opens_the_users_window() -> None:
    """Care's reply starts the user's window; the user writing, or care solving, ends it."""
    ticket = clocked(reply())
    replied = T0 + STEP
    assert ticket.deadlines == [
        Deadline(party=Role.USER, action="message", due_at=replied + USER_WAIT, then=Then.SOLVED)
    ]
    assert ticket.next_deadline() == (replied + USER_WAIT - LEAD, DeadlineEvent.REMINDER)
    assert ticket.next_deadline_at == replied + USER_WAIT
    ticket.apply(write(), replied + STEP)
    assert ticket.window is None
    assert [d.action for d in ticket.deadlines] == ["reply"]
    assert clocked(reply(), solve()).deadlines == [
        Deadline(party=Role.USER, action="message", due_at=T0 + 2 * STEP + QUIET, then=Then.CLOSED)
    ]


def test_a_silent_user_gets_one_reminder_then_the_report_is_solved_and_closes() -> None:
    """The user is reminded once; when the wait passes the report is solved by the system, then
    closes after the quiet period as a solved report does."""
    ticket = clocked(reply())
    due = T0 + STEP + USER_WAIT
    reminded = ticket.tick(due - LEAD)
    assert reminded == [
        Reminded(deadline=Deadline(party=Role.USER, action="message", due_at=due, then=Then.SOLVED))
    ]
    assert said(consequences(ticket, reminded).notices) == [
        to_user(
            "Care is waiting for your answer on report t-1: please reply by 8 Jan 2026, 01:00 UTC, or it is"
            " marked solved."
        )
    ]
    assert ticket.tick(due - timedelta(seconds=1)) == []
    happened = ticket.tick(due)
    assert happened == [Solved(by_system=True)]
    assert (ticket.status, ticket.solved_at, ticket.closes_at) == (TicketStatus.SOLVED, due, due + QUIET)
    entry = ticket.timeline[-1]
    assert (entry.event, entry.actor, entry.detail) == (
        "solved",
        None,
        {"by": "system", "reason": "no answer from the user within 7d"},
    )
    follows = consequences(ticket, happened)
    assert said(follows.notices) == [
        to_user(
            "We marked your report t-1 solved as we did not hear back within 7 days. It closes in 3 days"
            " unless you write again."
        )
    ]
    assert follows.published == [EventType.TICKET_SOLVED]
    assert ticket.tick(due + QUIET) == [Closed()]


def test_the_user_writing_after_the_system_solved_reopens_it() -> None:
    """A report solved by the system reopens like one care solved."""
    ticket = clocked(reply())
    ticket.tick(T0 + STEP + USER_WAIT)
    ticket.apply(write("sorry, I was away"), T0 + STEP + USER_WAIT + STEP)
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert ticket.care_clock is not None


def test_a_user_answer_racing_the_timer_wins() -> None:
    """The user's message in the same instant as the wait runs out keeps the report open."""
    ticket = clocked(reply())
    due = T0 + STEP + USER_WAIT
    ticket.apply(write(), due)
    assert [e for e in ticket.tick(due) if isinstance(e, Solved)] == []
    assert ticket.status is TicketStatus.AWAITING_CARE


def test_words_for_the_user_wait() -> None:
    """Timer summary, effect and the static policy line name the user wait."""
    ticket = clocked(reply())
    assert deadline_name(ticket, DeadlineEvent.USER_REPLY_DUE) == "user reply window 7d"
    assert deadline_effect(ticket, DeadlineEvent.USER_REPLY_DUE) == "the report is solved by the system"
    assert ticket_details(ticket_request(policy=CLOCKED_TICKET_POLICY)).endswith(
        "· solved after 7d waiting on the user · reminders 24h"
    )


# -- parked effects and their repair ------------------------------------------------------------


def test_a_refused_alert_parks_the_report() -> None:
    """park() holds the effect for an operator, records it and flags the report; the report and
    its reply clock go on, and on-call (not the user) hears of it."""
    ticket = drive()
    ticket.tick(T0 + WARNING)
    now = after(ticket)
    happened = ticket.park("care_reply_warning", WARNING_KEY, REFUSED, now)
    assert happened == [EffectParked(effect="care_reply_warning", key=WARNING_KEY, reason=REFUSED)]
    assert ticket.attention == [
        Attention(effect="care_reply_warning", key=WARNING_KEY, reason=REFUSED, since=now)
    ]
    assert ticket.needs_attention
    assert ticket.parked(WARNING_KEY)
    entry = ticket.timeline[-1]
    assert (entry.event, entry.actor, entry.at, entry.status) == (
        "needs_attention",
        None,
        now,
        TicketStatus.AWAITING_CARE,
    )
    assert entry.detail == {"effect": "care_reply_warning", "idempotency_key": WARNING_KEY, "reason": REFUSED}
    assert ticket.next_deadline() == (T0 + TARGET, DeadlineEvent.CARE_REPLY_BREACHED)
    follows = consequences(ticket, happened)
    assert follows.published == [EventType.CASE_NEEDS_ATTENTION]
    assert follows.parked == ["care_reply_warning"]
    assert said(follows.notices) == []
    assert not (follows.effects or follows.care_alerts)
    parked = snapshot(ticket)["attention"]
    assert [Attention.model_validate(item) for item in parked] == ticket.attention


def test_parking_the_same_key_again_changes_nothing() -> None:
    """A second refusal of an effect already parked adds no entry, no attention and no event."""
    ticket = warning_parked()
    before = ticket.model_dump()
    assert ticket.park("care_reply_warning", WARNING_KEY, "503 for 12h", after(ticket)) == []
    assert ticket.model_dump() == before


@pytest.mark.parametrize(
    ("repair", "repaired", "done_by_hand"),
    [
        (retry(WARNING_KEY), EffectRepaired(key=WARNING_KEY, reference=None), []),
        (resolve(), EffectRepaired(key=WARNING_KEY, reference=EXTERNAL_REF), [WARNING_KEY]),
    ],
    ids=["retry", "resolve"],
)
def test_an_operator_repairs_a_report_and_tells_only_subscribers(
    repair: Command, repaired: EffectRepaired, done_by_hand: list[str]
) -> None:
    """A repair takes the effect off the list and is recorded with the operator; it changes nothing
    the user sees, counts as no message, tells the user nothing and subscribers case.repaired."""
    ticket = warning_parked()
    before = ticket.model_dump(include={"status", "care_clock", "message_count", "sla_breaches"})
    now = after(ticket)
    happened = ticket.apply(repair, now)
    assert happened == [Acted(actor=OPERATOR, action=repair.action), repaired]
    assert (ticket.attention, ticket.needs_attention, ticket.done_by_hand) == ([], False, done_by_hand)
    entry = ticket.timeline[-1]
    assert (entry.event, entry.actor, entry.at) == (repair.action, OPERATOR, now)
    assert ticket.model_dump(include={"status", "care_clock", "message_count", "sla_breaches"}) == before
    follows = consequences(ticket, happened)
    assert (follows.notices, follows.published) == ([], [EventType.CASE_REPAIRED])
    assert ticket.allowed_actions[Role.OPERATOR] == [ASSIGN]  # nothing left to repair


def test_several_effects_park_and_a_publish_step_is_only_retried() -> None:
    """A parked warning and a parked publish step wait side by side: the publish step cannot be
    done by hand (by name it is refused; unnamed, the warning is taken); alone it is only retried."""
    ticket = drive()
    park(ticket, "publish", PUBLISH_KEY)
    ticket.tick(T0 + WARNING)
    park(ticket, "care_reply_warning", WARNING_KEY)
    assert [p.key for p in ticket.attention] == [PUBLISH_KEY, WARNING_KEY]
    assert ticket.allowed_actions[Role.OPERATOR] == [RETRY, RESOLVE, ASSIGN]
    with pytest.raises(InvalidInput) as refused:
        ticket.check(resolve(PUBLISH_KEY), after(ticket))
    assert refused.value.details["errors"][0]["field"] == "key"
    assert "cannot be done by hand: retry it" in refused.value.details["errors"][0]["reason"]
    assert ticket.apply(resolve(), after(ticket))[-1].key == WARNING_KEY  # type: ignore[attr-defined]
    assert ticket.allowed_actions[Role.OPERATOR] == [RETRY, ASSIGN]
    with pytest.raises(InvalidTransition):
        ticket.check(resolve(PUBLISH_KEY), after(ticket))
    assert ticket.apply(retry(), after(ticket))[-1] == EffectRepaired(key=PUBLISH_KEY, reference=None)
    assert not ticket.needs_attention


@pytest.mark.parametrize("repair", [retry("t-1:nope"), resolve("t-1:nope")], ids=["retry", "resolve"])
def test_an_unknown_key_is_invalid_input(repair: Command) -> None:
    """Naming an effect that is not parked is InvalidInput on ``key``, listing what is parked."""
    ticket = warning_parked()
    before = ticket.model_dump()
    with pytest.raises(InvalidInput) as refused:
        ticket.apply(repair, after(ticket))
    assert refused.value.details == {
        "errors": [{"field": "key", "reason": f"no parked effect t-1:nope; parked: ['{WARNING_KEY}']"}]
    }
    assert ticket.model_dump() == before


def test_a_closed_report_is_open_to_the_operator_only_while_something_is_parked() -> None:
    """The user cannot reopen a closed report because an alert of it is parked; the operator
    repairs it, and then the report is closed to everybody again."""
    ticket = closed_with_parked("care_reply_breached", BREACH_KEY)()
    for refused in (write(), reply(), solve()):
        with pytest.raises(InvalidTransition):
            ticket.check(refused, after(ticket))
    ticket.apply(resolve(external_ref="desk-9"), after(ticket))
    assert ticket.done_by_hand == [BREACH_KEY]
    assert ticket.status is TicketStatus.CLOSED
    assert ticket.timeline[-1].status == TicketStatus.CLOSED
    assert ticket.allowed_actions == allowed()
    with pytest.raises(InvalidTransition):
        ticket.check(retry(), after(ticket))


@pytest.mark.parametrize("repair", [retry, resolve], ids=["retry", "resolve"])
@pytest.mark.parametrize("actor", [USER, CARE], ids=["user", "care"])
def test_only_an_operator_repairs(repair: Callable[..., Command], actor: Actor) -> None:
    """Neither the reporter nor care may retry or resolve an effect."""
    ticket = warning_parked()
    with pytest.raises(InvalidTransition):
        ticket.check(repair(actor=actor), after(ticket))


@pytest.mark.parametrize("repair", [retry, resolve], ids=["retry", "resolve"])
@pytest.mark.parametrize(
    "stranger",
    [Actor(role=Role.USER, id="u-2"), Actor(role=Role.BUYER, id=USER.id)],
    ids=["other-user", "reporter-as-buyer"],
)
def test_a_stranger_may_not_repair(repair: Callable[..., Command], stranger: Actor) -> None:
    """Someone who is no party learns only that; any operator id is accepted."""
    ticket = warning_parked()
    with pytest.raises(NotAParty):
        ticket.check(repair(actor=stranger), after(ticket))
    ticket.check(repair(actor=Actor(role=Role.OPERATOR, id="oncall-99")), after(ticket))


# -- the message limit -------------------------------------------------------------------------

LIMITED = TicketPolicy(
    care_reply_target=TARGET, care_reply_warning=WARNING, solved_quiet_period=QUIET, max_messages=2
)


def test_only_the_users_messages_are_counted() -> None:
    """The report's details and care's replies do not count toward the limit."""
    ticket = drive(reply(), write(), reply(), write(), solve())
    assert ticket.message_count == 2


def test_a_message_beyond_the_limit_is_refused_and_changes_nothing() -> None:
    """Once ``max_messages`` messages were accepted the next one is LimitReached."""
    ticket = drive(write(), reply(), write(), policy=LIMITED)
    assert ticket.message_count == 2
    before = ticket.model_dump()
    with pytest.raises(LimitReached) as refused:
        ticket.check(write(), after(ticket))
    assert refused.value.code == "LimitReached"
    assert refused.value.details == {"limit": 2}
    assert refused.value.message == "t-1 has reached its limit of 2 messages"
    with pytest.raises(LimitReached):
        ticket.apply(write(), after(ticket))
    assert ticket.model_dump() == before


def test_care_may_still_reply_and_solve_at_the_limit() -> None:
    """The limit holds the user's messages only; care finishes the report."""
    ticket = drive(write(), write(), policy=LIMITED)
    ticket.apply(reply(), after(ticket))
    ticket.apply(solve(), after(ticket))
    assert ticket.status is TicketStatus.SOLVED
    # a report at its limit cannot be reopened by the user; it closes after the quiet period
    with pytest.raises(LimitReached):
        ticket.check(write(), after(ticket))
    assert ticket.closes_at is not None
    assert ticket.tick(ticket.closes_at) == [Closed()]


def test_the_limit_is_checked_after_the_party_and_the_state() -> None:
    """A stranger is NotAParty and a closed report InvalidTransition, limit or not."""
    ticket = drive(write(), write(), solve(), policy=LIMITED)
    with pytest.raises(NotAParty):
        ticket.check(UserMessage(actor=Actor(role=Role.USER, id="u-2"), text="hi"), after(ticket))
    assert ticket.closes_at is not None
    ticket.tick(ticket.closes_at)
    with pytest.raises(InvalidTransition):
        ticket.check(write(), after(ticket))


def test_the_default_limit_is_a_setting_of_at_least_one() -> None:
    """The policy carries the limit (2000 by default); zero is refused."""
    assert TicketPolicy().max_messages == 2000
    with pytest.raises(ValidationError, match="max_messages"):
        TicketPolicy(max_messages=0)


# -- what each change sets off (domain/reactions.py) -------------------------------------------


@pytest.mark.parametrize(
    ("build", "cmd", "happened", "notices", "published"),
    [
        (
            drive,
            reply("please reset your PIN"),
            [Acted(actor=CARE, action=REPLY), CareSpoke(text="please reset your PIN")],
            [to_user("please reset your PIN", NoticeCategory.CARE_REPLY)],
            [EventType.TICKET_REPLIED],
        ),
        (
            lambda: drive(reply()),
            solve(),
            [Acted(actor=CARE, action=SOLVE), Solved()],
            [to_user("Care marked your report t-1 solved. It closes in 3 days unless you write again.")],
            [EventType.TICKET_SOLVED],
        ),
        (lambda: drive(reply()), write(), [Acted(actor=USER, action=MSG)], [], []),
        (lambda: drive(reply(), solve()), write(), [Acted(actor=USER, action=MSG)], [], []),
    ],
    ids=["care-reply-to-inbox", "solve", "user-message", "user-reopens"],
)
def test_what_an_action_returns_and_sets_off(
    build: Callable[[], Ticket],
    cmd: Command,
    happened: list[DomainEvent],
    notices: list[tuple[str, NoticeCategory]],
    published: list[EventType],
) -> None:
    """Care's reply lands in the user's inbox; solving tells the user how to reopen; the user's own
    messages tell nobody and publish nothing."""
    ticket = build()
    assert ticket.apply(cmd, after(ticket)) == happened
    follows = consequences(ticket, happened)
    assert said(follows.notices) == notices
    assert follows.published == published
    assert not (follows.effects or follows.care_alerts)


def test_open_tells_the_user_the_reply_target() -> None:
    """The user learns the report arrived and when care replies at the latest."""
    follows = consequences(drive(topic=TicketTopic.ACCOUNT), [Opened()])
    assert said(follows.notices) == [
        to_user("We received your report t-1 (Account); care replies within 24 hours.")
    ]
    assert follows.published == [EventType.TICKET_OPENED]


def test_close_tells_the_user() -> None:
    """The user learns the report is closed; subscribers get ticket.closed."""
    ticket = drive(reply(), solve())
    assert ticket.closes_at is not None
    follows = consequences(ticket, ticket.tick(ticket.closes_at))
    assert said(follows.notices) == [to_user("Your report t-1 is closed.")]
    assert follows.published == [EventType.TICKET_CLOSED]


def test_care_clock_events_alert_care_and_tell_subscribers() -> None:
    """The warning and the breach go to care (not to the user) and out as webhook events, in order."""
    ticket = drive()
    follows = consequences(ticket, ticket.tick(T0 + TARGET))
    assert follows.care_alerts == [warned(T0), breached(T0)]
    assert follows.published == [EventType.CARE_REPLY_WARNING, EventType.CARE_REPLY_BREACHED]
    assert said(follows.notices) == []


SNAPSHOT_FIELDS = {
    "id",
    "user_id",
    "role",
    "topic",
    "priority",
    "status",
    "order_id",
    "dispute_id",
    "care_reply_due_at",
    "sla_breached",
    "closes_at",
    "attention",
}


def test_snapshot_carries_no_free_text() -> None:
    """A webhook event carries ids, status, topic and deadlines: never the details or a message."""
    ticket = drive(
        reply("my-private-care-reply"), write("my-private-user-message"), solve(), dispute_id="d-9"
    )
    data = snapshot(ticket)
    assert (
        {"id", "user_id", "role", "topic", "priority", "status", "sla_breached", "attention"}
        <= set(data)
        <= SNAPSHOT_FIELDS
    )
    text = json.dumps(data)
    for secret in (DETAILS, "my-private-care-reply", "my-private-user-message", "blob:screenshot"):
        assert secret not in text
    assert (data["id"], data["status"], data["dispute_id"], data["topic"]) == (
        "t-1",
        "SOLVED",
        "d-9",
        "BALANCE_WITHDRAWAL",
    )
    assert ticket.closes_at is not None
    assert datetime.fromisoformat(data["closes_at"]) == ticket.closes_at


# -- priority and the Temporal UI texts ---------------------------------------------------------


@pytest.mark.parametrize("topic", list(TicketTopic), ids=str)
def test_priority_by_topic(topic: TicketTopic) -> None:
    """Account-security reports are raised; every other topic is normal."""
    expected = Priority.HIGH if topic is TicketTopic.ACCOUNT_SECURITY else Priority.NORMAL
    report = ticket_request(topic=topic)
    assert report.priority is expected
    assert Ticket.open(TICKET_ID, report, T0).priority is expected


def test_summary_marks_the_priority() -> None:
    """The summary line names topic, reporter and order, and marks a raised report."""
    raised = ticket_request(topic=TicketTopic.ACCOUNT_SECURITY)
    assert (
        ticket_summary(raised)
        == "Help-center report [priority]: ACCOUNT_SECURITY from buyer u-1 about order o-1"
    )
    normal = ticket_request(topic=TicketTopic.PAYMENT, role=ReporterRole.SELLER, order_id=None)
    assert ticket_summary(normal) == "Help-center report: PAYMENT from seller u-1"


def test_plain_report_summary_marks_the_priority() -> None:
    """The summary works on the report as filed, before it has a policy."""
    report = TicketReport(
        user_id="u-1", role=ReporterRole.BUYER, topic=TicketTopic.ACCOUNT_SECURITY, details="hacked"
    )
    assert ticket_summary(report) == "Help-center report [priority]: ACCOUNT_SECURITY from buyer u-1"


def test_details_markdown_names_the_linked_dispute() -> None:
    """The static details: topic, user, details, order, linked dispute and the policy."""
    linked = ticket_details(ticket_request(dispute_id="dispute-o-1"))
    assert linked.split("\n\n") == [
        "**Topic** BALANCE_WITHDRAWAL · **Priority** NORMAL",
        "**User** u-1 (buyer)",
        f"**Details** {DETAILS}",
        "**Order** o-1",
        "**Linked dispute** dispute-o-1",
        "**Policy** care reply target 24h (warning at 20h) · solved reports close after 3d of quiet",
    ]
    assert "Linked dispute" not in ticket_details(ticket_request())
    assert "**Order**" not in ticket_details(ticket_request(order_id=None))


@pytest.mark.parametrize(
    ("build", "lines"),
    [
        (
            drive,
            [
                "**Waiting for:** care: reply to the user",
                "**Next deadline:** 2026-01-01 20:00 UTC (care reply warning at 20h): care is warned that"
                " the reply target is near",
            ],
        ),
        (lambda: drive(reply()), ["**Waiting for:** the user (care has replied)"]),
        (
            lambda: drive(reply(), solve()),
            [
                "**Waiting for:** nothing: solved; a user message reopens it",
                "**Next deadline:** 2026-01-04 02:00 UTC (close after quiet period 3d): the report closes",
            ],
        ),
        (_closed, []),
    ],
    ids=["awaiting-care", "awaiting-user", "solved", "closed"],
)
def test_current_details_say_what_the_report_waits_for(build: Callable[[], Ticket], lines: list[str]) -> None:
    """Status and priority, topic and user, whom it waits for, and the next deadline with its effect."""
    ticket = build()
    shown = current_details(ticket).split("\n\n")
    assert shown[:2] == [
        f"**Status:** {ticket.status} · **Priority:** NORMAL",
        "**Topic:** BALANCE_WITHDRAWAL · user u-1 (buyer)",
    ]
    assert shown[2:] == lines


def test_current_details_name_the_linked_dispute() -> None:
    """A report about a disputed order shows the dispute."""
    assert "**Linked dispute:** dispute-o-1" in current_details(drive(dispute_id="dispute-o-1"))


def test_deadline_names_and_effects() -> None:
    """Each clock is named as the timer summary shows it, with what happens when it runs out."""
    ticket = drive(solve())
    assert deadline_name(ticket, DeadlineEvent.QUIET_PERIOD_OVER) == "close after quiet period 3d"
    assert deadline_effect(ticket, DeadlineEvent.QUIET_PERIOD_OVER) == "the report closes"
    assert deadline_name(ticket, DeadlineEvent.CARE_REPLY_BREACHED) == "care reply target 24h"
    assert deadline_effect(ticket, DeadlineEvent.CARE_REPLY_WARNING) == (
        "care is warned that the reply target is near"
    )


# -- input validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"topic": "VOUCHER"}, "topic"),
        ({"topic": "account"}, "topic"),
        ({"user_id": "u 1"}, "user_id"),
        ({"user_id": "u/1"}, "user_id"),
        ({"user_id": ""}, "user_id"),
        ({"order_id": "o 1"}, "order_id"),
        ({"role": "care"}, "role"),
        ({"details": ""}, "details"),
        ({"attachments": [f"blob:{i}" for i in range(21)]}, "attachments"),
        ({"attachments": [""]}, "attachments"),
        ({"priority": "HIGH"}, "Extra inputs are not permitted"),
        ({"status": "CLOSED"}, "Extra inputs are not permitted"),
    ],
    ids=[
        "unknown-topic",
        "lowercase-topic",
        "space-in-user-id",
        "slash-in-user-id",
        "empty-user-id",
        "space-in-order-id",
        "care-as-reporter",
        "empty-details",
        "21-attachments",
        "empty-attachment",
        "priority-field",
        "status-field",
    ],
)
def test_invalid_open_request(overrides: dict[str, Any], error: str) -> None:
    """OpenTicketInput refuses what no report may be filed with."""
    with pytest.raises(ValidationError, match=error):
        ticket_request(**overrides)


def test_twenty_attachments_are_accepted() -> None:
    """Twenty attachment references is the most a report carries."""
    attachments = [f"blob:{i}" for i in range(20)]
    assert ticket_request(attachments=attachments).attachments == attachments


def test_report_refuses_unknown_fields() -> None:
    """A report with a field it does not have is refused, not ignored."""
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TicketReport.model_validate(
            {"user_id": "u-1", "role": "buyer", "topic": "ACCOUNT", "details": "hi", "urgent": True}
        )


@pytest.mark.parametrize(
    "body",
    [
        {"actor": {"role": "user", "id": "u-1"}, "text": "hi", "evidence": []},
        {"actor": {"role": "care", "id": "agent-7"}, "text": ""},
        {"actor": {"role": "user", "id": "u 1"}, "text": "hi"},
    ],
    ids=["unknown-field", "empty-text", "bad-actor-id"],
)
def test_invalid_ticket_commands(body: dict[str, Any]) -> None:
    """Report commands refuse unknown fields, empty text and bad actor ids."""
    model = TicketReply if body["actor"]["role"] == "care" else UserMessage
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_solve_refuses_unknown_fields() -> None:
    """Solving takes no note."""
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Solve.model_validate({"actor": CARE.model_dump(), "note": "done"})


@pytest.mark.parametrize(
    ("warning", "target"),
    [(TARGET, TARGET), (TARGET + STEP, TARGET), (timedelta(0), TARGET)],
    ids=["warning-equals-target", "warning-after-target", "zero-warning"],
)
def test_policy_warning_must_come_before_target(warning: timedelta, target: timedelta) -> None:
    """TicketPolicy refuses a warning that is not strictly between zero and the target."""
    with pytest.raises(ValidationError, match="care_reply_warning must be positive and shorter"):
        TicketPolicy(care_reply_warning=warning, care_reply_target=target)


def test_default_policy_is_the_seed() -> None:
    """The defaults are the seed's 1x24 hours, and three quiet days before a solved report closes."""
    policy = TicketPolicy()
    assert policy.care_reply_target == timedelta(hours=24)
    assert policy.care_reply_warning < policy.care_reply_target
    assert policy.solved_quiet_period == timedelta(days=3)


# -- refused commands change nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "refused", "error"),
    [
        ((reply(), solve()), reply(), InvalidTransition),
        ((reply(), solve()), solve(), InvalidTransition),
        ((), UserMessage(actor=Actor(role=Role.USER, id="u-2"), text="hi"), NotAParty),
        ((), UserMessage(actor=Actor(role=Role.BUYER, id=USER.id), text="hi"), NotAParty),
        ((), TicketReply(actor=USER, text="answering myself"), InvalidTransition),
        ((), Solve(actor=USER), InvalidTransition),
        ((), UserMessage(actor=CARE, text="care writing as user"), InvalidTransition),
    ],
    ids=[
        "reply-when-solved",
        "solve-when-solved",
        "other-user",
        "reporter-as-buyer",
        "user-replies",
        "user-solves",
        "care-messages",
    ],
)
def test_refused_command_changes_nothing(
    steps: tuple[Command, ...], refused: Command, error: type[Exception]
) -> None:
    """apply() of a refused command raises and leaves the whole state as it was."""
    ticket = drive(*steps)
    before = ticket.model_dump()
    with pytest.raises(error):
        ticket.apply(refused, after(ticket))
    assert ticket.model_dump() == before


def test_refused_message_on_a_closed_ticket_changes_nothing() -> None:
    """A closed report allows nothing to anyone."""
    ticket = _closed()
    before = ticket.model_dump()
    with pytest.raises(InvalidTransition) as refused:
        ticket.apply(write(), after(ticket))
    assert refused.value.details["allowed_actions"] == {
        "user": [],
        "care": [],
        "supervisor": [],
        "operator": [],
    }
    assert ticket.model_dump() == before
