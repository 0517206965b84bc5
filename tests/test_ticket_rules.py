"""The pure help-center ticket rules with plain objects: actions, reply clock, solve, notices, input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.case import DeadlineEvent
from domain.commands import (
    Accept,
    Action,
    Appeal,
    Cancel,
    Command,
    ConfirmReceipt,
    Decide,
    MakeOffer,
    Reject,
    RequestHelp,
    Ship,
)
from domain.errors import InvalidTransition, NotAParty
from domain.notices import Notice, NoticeCategory, on_ticket_command, on_ticket_open
from domain.ticket import (
    OpenTicketInput,
    Priority,
    ReporterRole,
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
from domain.types import Actor, Role, Solution, SolutionKind

# -- fixtures as plain values -----------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(hours=1)
TARGET = timedelta(hours=24)
WARNING = timedelta(hours=20)
QUIET = timedelta(days=3)
POLICY = TicketPolicy(care_reply_target=TARGET, care_reply_warning=WARNING, solved_quiet_period=QUIET)

TICKET_ID = "t-1"
USER = Actor(role=Role.USER, id="u-1")
CARE = Actor(role=Role.CARE, id="agent-7")
ACTORS = {Role.USER: USER, Role.CARE: CARE}
DETAILS = "I cannot withdraw my balance"


def request(**overrides: Any) -> OpenTicketInput:
    """A valid report by user u-1 about order o-1 unless ``overrides`` say otherwise."""
    fields: dict[str, Any] = {
        "user_id": USER.id,
        "role": ReporterRole.BUYER,
        "topic": TicketTopic.BALANCE_WITHDRAWAL,
        "order_id": "o-1",
        "details": DETAILS,
        "attachments": ["blob:screenshot-1"],
        "policy": POLICY,
    }
    fields.update(overrides)
    return OpenTicketInput(**fields)


def drive(*steps: Command, **overrides: Any) -> Ticket:
    """Open a ticket at T0 and apply ``steps`` one hour apart."""
    ticket = Ticket.open(TICKET_ID, request(**overrides), T0)
    for index, step in enumerate(steps, start=1):
        ticket.apply(step, T0 + index * STEP)
    return ticket


def after(ticket: Ticket) -> datetime:
    """A moment one minute after the ticket's last recorded event (before any deadline)."""
    return ticket.timeline[-1].at + timedelta(minutes=1)


def status_of(ticket: Ticket) -> TicketStatus:
    """The status, read through a call so mypy does not keep an earlier narrowing."""
    return ticket.status


def write(text: str = "any news?") -> UserMessage:
    return UserMessage(actor=USER, text=text)


def reply(text: str = "we are checking your withdrawal") -> TicketReply:
    return TicketReply(actor=CARE, text=text)


def solve() -> Solve:
    return Solve(actor=CARE)


# Every action name, ticket commands for the ticket's own actions and dispute commands for the rest.
COMMANDS: dict[Action, Callable[[Actor], Command]] = {
    Action.MESSAGE: lambda actor: UserMessage(actor=actor, text="hello"),
    Action.REPLY: lambda actor: TicketReply(actor=actor, text="hello from care"),
    Action.SOLVE: lambda actor: Solve(actor=actor),
    Action.OFFER: lambda actor: MakeOffer(actor=actor, solution=Solution(kind=SolutionKind.EXCHANGE)),
    Action.ACCEPT: lambda actor: Accept(actor=actor),
    Action.REJECT: lambda actor: Reject(actor=actor),
    Action.APPEAL: lambda actor: Appeal(actor=actor, reason="no"),
    Action.HELP: lambda actor: RequestHelp(actor=actor),
    Action.CANCEL: lambda actor: Cancel(actor=actor),
    Action.DECIDE: lambda actor: Decide(actor=actor, solution=Solution(kind=SolutionKind.EXCHANGE)),
    Action.SHIP: lambda actor: Ship(actor=actor, tracking_number="JNE-1", carrier="jne"),
    Action.CONFIRM_RECEIPT: lambda actor: ConfirmReceipt(actor=actor),
}


def command(action: Action, actor: Actor) -> Command:
    built = COMMANDS[action](actor)
    assert built.action is action
    return built


def allowed(user: list[Action] | None = None, care: list[Action] | None = None) -> dict[Role, list[Action]]:
    return {Role.USER: user or [], Role.CARE: care or []}


def as_details(expected: dict[Role, list[Action]]) -> dict[str, list[str]]:
    return {role.value: [action.value for action in actions] for role, actions in expected.items()}


# -- the transition table (the spec) ----------------------------------------------------------

MSG, REPLY, SOLVE = Action.MESSAGE, Action.REPLY, Action.SOLVE
AFTER_ACTION = {
    MSG: TicketStatus.AWAITING_CARE,
    REPLY: TicketStatus.AWAITING_USER,
    SOLVE: TicketStatus.SOLVED,
}


def _closed() -> Ticket:
    ticket = drive(reply(), solve())
    assert ticket.closes_at is not None
    ticket.tick(ticket.closes_at)
    return ticket


@dataclass(frozen=True)
class State:
    name: str
    status: TicketStatus
    build: Callable[[], Ticket]
    allowed: dict[Role, list[Action]]


STATES = [
    State("opened", TicketStatus.AWAITING_CARE, lambda: drive(), allowed([MSG], [REPLY, SOLVE])),
    State(
        "user_wrote_again", TicketStatus.AWAITING_CARE, lambda: drive(write()), allowed([MSG], [REPLY, SOLVE])
    ),
    State(
        "user_answered_care",
        TicketStatus.AWAITING_CARE,
        lambda: drive(reply(), write()),
        allowed([MSG], [REPLY, SOLVE]),
    ),
    State("care_replied", TicketStatus.AWAITING_USER, lambda: drive(reply()), allowed([MSG], [REPLY, SOLVE])),
    State("solved", TicketStatus.SOLVED, lambda: drive(reply(), solve()), allowed([MSG])),
    State("closed", TicketStatus.CLOSED, _closed, allowed()),
]


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.name)
def test_allowed_actions_per_state(state: State) -> None:
    """Each state reports exactly the allowed actions of the table."""
    ticket = state.build()
    assert ticket.status is state.status
    assert ticket.allowed_actions == state.allowed
    assert ticket.closed is (state.status is TicketStatus.CLOSED)


def test_the_table_covers_every_status() -> None:
    assert {state.status for state in STATES} == set(TicketStatus)


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("role", [Role.USER, Role.CARE], ids=str)
@pytest.mark.parametrize("state", STATES, ids=lambda s: s.name)
def test_check_accepts_exactly_the_allowed_actions(state: State, role: Role, action: Action) -> None:
    """check() passes for an allowed action (and apply carries it out), else InvalidTransition."""
    ticket = state.build()
    cmd = command(action, ACTORS[role])
    now = after(ticket)
    if action in state.allowed[role]:
        ticket.check(cmd, now)
        ticket.apply(cmd, now)
        assert ticket.status is AFTER_ACTION[action]
        assert ticket.timeline[-1].event == action.value
        assert ticket.timeline[-1].actor == ACTORS[role]
        assert ticket.timeline[-1].at == now
        return
    with pytest.raises(InvalidTransition) as refused:
        ticket.check(cmd, now)
    assert refused.value.code == "InvalidTransition"
    assert refused.value.details["allowed_actions"] == as_details(state.allowed)
    assert refused.value.details["current_status"] == state.status.value
    assert f"{role.value} may not {action.value}" in refused.value.message


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
@pytest.mark.parametrize("action", [MSG, REPLY, SOLVE], ids=str)
def test_not_a_party(stranger: Actor, action: Action) -> None:
    """Only the reporter (as ``user``) and care act on a ticket; buyer/seller roles are refused."""
    ticket = drive()
    with pytest.raises(NotAParty) as refused:
        ticket.check(command(action, stranger), after(ticket))
    assert refused.value.code == "NotAParty"
    assert stranger.id in refused.value.message


def test_not_a_party_comes_before_the_state_check() -> None:
    """Even on a closed ticket a stranger learns only that it is not a party."""
    ticket = _closed()
    with pytest.raises(NotAParty):
        ticket.check(UserMessage(actor=Actor(role=Role.USER, id="u-2"), text="hi"), after(ticket))


def test_any_care_agent_may_reply() -> None:
    ticket = drive()
    ticket.apply(TicketReply(actor=Actor(role=Role.CARE, id="agent-99"), text="hello"), T0 + STEP)
    assert ticket.status is TicketStatus.AWAITING_USER
    assert ticket.messages[-1] == TicketMessage(
        author=Role.CARE, author_id="agent-99", text="hello", at=T0 + STEP
    )


# -- opening ----------------------------------------------------------------------------------


def test_open_records_the_report() -> None:
    """open() copies the report, starts with the details as the first message and records 'opened'."""
    ticket = drive(dispute_id="d-9")
    assert ticket.id == TICKET_ID
    assert (ticket.user_id, ticket.role, ticket.topic) == (
        "u-1",
        ReporterRole.BUYER,
        TicketTopic.BALANCE_WITHDRAWAL,
    )
    assert (ticket.order_id, ticket.dispute_id) == ("o-1", "d-9")
    assert ticket.attachments == ["blob:screenshot-1"]
    assert ticket.policy == POLICY
    assert ticket.opened_at == T0
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert ticket.messages == [TicketMessage(author=Role.USER, author_id="u-1", text=DETAILS, at=T0)]
    assert [entry.event for entry in ticket.timeline] == ["opened"]
    opened = ticket.timeline[0]
    assert opened.actor == USER
    assert opened.detail["dispute_id"] == "d-9"
    assert opened.detail["topic"] == "BALANCE_WITHDRAWAL"
    assert (ticket.solved_at, ticket.closes_at) == (None, None)


# -- the care reply target ----------------------------------------------------------------------


def test_opening_starts_the_care_reply_clock() -> None:
    ticket = drive()
    assert ticket.care_clock is not None
    assert ticket.care_clock.started_at == T0
    assert ticket.care_reply_due_at == T0 + TARGET
    assert ticket.next_deadline() == (T0 + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    assert ticket.model_dump()["care_reply_due_at"] == T0 + TARGET
    assert not ticket.sla_breached


def test_care_clock_warns_once_then_breaches_once() -> None:
    ticket = drive()
    assert ticket.tick(T0 + WARNING - timedelta(seconds=1)) == []
    assert ticket.tick(T0 + WARNING) == [DeadlineEvent.CARE_REPLY_WARNING]
    assert ticket.timeline[-1].event == "care_reply_warning"
    assert ticket.tick(T0 + WARNING + STEP) == []
    assert not ticket.sla_breached
    assert ticket.sla_breaches == 0
    assert ticket.next_deadline() == (T0 + TARGET, DeadlineEvent.CARE_REPLY_BREACHED)
    assert ticket.tick(T0 + TARGET - timedelta(seconds=1)) == []
    assert ticket.tick(T0 + TARGET) == [DeadlineEvent.CARE_REPLY_BREACHED]
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


def test_late_tick_reports_warning_and_breach_together() -> None:
    ticket = drive()
    assert ticket.tick(T0 + TARGET + STEP) == [
        DeadlineEvent.CARE_REPLY_WARNING,
        DeadlineEvent.CARE_REPLY_BREACHED,
    ]
    assert ticket.sla_breaches == 1


def test_care_reply_before_the_warning_stops_the_clock() -> None:
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
    ticket = drive()
    ticket.tick(T0 + TARGET)
    ticket.apply(reply(), T0 + TARGET + STEP)
    assert ticket.care_clock is None
    assert ticket.sla_breached
    assert ticket.sla_breaches == 1


def test_user_message_after_a_care_reply_starts_the_next_reply_target() -> None:
    """After care replied, the user's message starts a fresh clock counted from that message."""
    ticket = drive(reply())
    asked = T0 + 5 * STEP
    ticket.apply(write("it still fails"), asked)
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert ticket.care_clock is not None
    assert ticket.care_clock.started_at == asked
    assert ticket.care_reply_due_at == asked + TARGET
    assert ticket.next_deadline() == (asked + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    assert ticket.tick(asked + WARNING - timedelta(seconds=1)) == []
    assert ticket.tick(asked + TARGET) == [
        DeadlineEvent.CARE_REPLY_WARNING,
        DeadlineEvent.CARE_REPLY_BREACHED,
    ]
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
    assert [m.text for m in ticket.messages] == [
        DETAILS,
        "we are checking your withdrawal",
        "first",
        "second",
        "third",
    ]


def test_user_message_right_after_opening_does_not_move_the_first_clock() -> None:
    ticket = drive(write(), write())
    assert ticket.care_reply_due_at == T0 + TARGET


def test_each_missed_target_counts_as_a_breach() -> None:
    ticket = drive()
    ticket.tick(T0 + TARGET)
    replied = T0 + TARGET + STEP
    ticket.apply(reply(), replied)
    asked = replied + STEP
    ticket.apply(write(), asked)
    assert ticket.tick(asked + TARGET) == [
        DeadlineEvent.CARE_REPLY_WARNING,
        DeadlineEvent.CARE_REPLY_BREACHED,
    ]
    assert ticket.sla_breaches == 2


# -- solve, quiet period, close, reopen ---------------------------------------------------------


def test_solve_starts_the_quiet_period() -> None:
    ticket = drive(reply())
    solved = T0 + 2 * STEP
    ticket.apply(solve(), solved)
    assert ticket.status is TicketStatus.SOLVED
    assert ticket.solved_at == solved
    assert ticket.closes_at == solved + QUIET
    assert ticket.care_clock is None
    assert ticket.next_deadline() == (solved + QUIET, DeadlineEvent.QUIET_PERIOD_OVER)
    assert ticket.timeline[-1].event == "solve"
    assert ticket.timeline[-1].status == TicketStatus.SOLVED
    assert not ticket.closed


def test_solve_while_care_owes_a_reply_stops_the_clock() -> None:
    ticket = drive()
    solved = T0 + STEP
    ticket.apply(solve(), solved)
    assert ticket.care_clock is None
    assert ticket.next_deadline() == (solved + QUIET, DeadlineEvent.QUIET_PERIOD_OVER)
    assert ticket.tick(T0 + TARGET) == []
    assert not ticket.sla_breached


def test_quiet_period_closes_the_ticket() -> None:
    ticket = drive(reply(), solve())
    solved = T0 + 2 * STEP
    closes_at = solved + QUIET
    assert ticket.tick(closes_at - timedelta(seconds=1)) == []
    assert status_of(ticket) is TicketStatus.SOLVED
    assert ticket.tick(closes_at) == [DeadlineEvent.QUIET_PERIOD_OVER]
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
    ticket = drive(reply(), solve())
    old_closes_at = ticket.closes_at
    assert old_closes_at == T0 + 2 * STEP + QUIET
    reopened = T0 + 10 * STEP
    ticket.apply(write("it broke again"), reopened)
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert (ticket.solved_at, ticket.closes_at) == (None, None)
    assert ticket.care_clock is not None
    assert ticket.care_clock.started_at == reopened
    assert ticket.care_reply_due_at == reopened + TARGET
    assert [entry.event for entry in ticket.timeline[-2:]] == ["reopened", "message"]
    assert ticket.timeline[-2].actor == USER
    assert ticket.timeline[-2].at == reopened
    assert ticket.next_deadline() == (reopened + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    assert ticket.allowed_actions == allowed([MSG], [REPLY, SOLVE])
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
    events = ticket.tick(old_closes_at)
    assert DeadlineEvent.QUIET_PERIOD_OVER not in events
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert not ticket.closed


def test_a_message_that_is_not_a_reopen_records_no_reopened() -> None:
    ticket = drive(reply(), write())
    assert [entry.event for entry in ticket.timeline] == ["opened", "reply", "message"]


# -- priority and the Temporal UI texts ---------------------------------------------------------


@pytest.mark.parametrize("topic", list(TicketTopic), ids=str)
def test_priority_by_topic(topic: TicketTopic) -> None:
    expected = Priority.HIGH if topic is TicketTopic.ACCOUNT_SECURITY else Priority.NORMAL
    report = request(topic=topic)
    assert report.priority is expected
    assert Ticket.open(TICKET_ID, report, T0).priority is expected


def test_summary_marks_the_priority() -> None:
    raised = request(topic=TicketTopic.ACCOUNT_SECURITY)
    assert (
        raised.summary() == "Help-center report [priority]: ACCOUNT_SECURITY from buyer u-1 about order o-1"
    )
    normal = request(topic=TicketTopic.PAYMENT, role=ReporterRole.SELLER, order_id=None)
    assert normal.summary() == "Help-center report: PAYMENT from seller u-1"
    assert "[priority]" not in normal.summary()


def test_plain_report_summary_marks_the_priority() -> None:
    report = TicketReport(
        user_id="u-1", role=ReporterRole.BUYER, topic=TicketTopic.ACCOUNT_SECURITY, details="hacked"
    )
    assert report.summary() == "Help-center report [priority]: ACCOUNT_SECURITY from buyer u-1"


def test_details_markdown_names_the_linked_dispute() -> None:
    linked = request(dispute_id="dispute-o-1").details_markdown()
    assert "**Linked dispute** dispute-o-1" in linked
    assert "**Order** o-1" in linked
    assert "**Topic** BALANCE_WITHDRAWAL · **Priority** NORMAL" in linked
    assert "care reply target 24h (warning at 20h)" in linked
    assert "solved reports close after 3d of quiet" in linked
    assert "Linked dispute" not in request().details_markdown()


# -- notices ------------------------------------------------------------------------------------


def test_care_reply_goes_to_the_users_inbox() -> None:
    ticket = drive()
    cmd = reply("please reset your PIN")
    ticket.apply(cmd, T0 + STEP)
    assert on_ticket_command(ticket, cmd) == [
        Notice(
            party=Role.USER, party_id="u-1", text="please reset your PIN", category=NoticeCategory.CARE_REPLY
        )
    ]


def test_solve_tells_the_user_about_the_quiet_period() -> None:
    ticket = drive(reply())
    cmd = solve()
    ticket.apply(cmd, T0 + 2 * STEP)
    notices = on_ticket_command(ticket, cmd)
    assert len(notices) == 1
    notice = notices[0]
    assert (notice.party, notice.party_id, notice.category) == (Role.USER, "u-1", NoticeCategory.UPDATE)
    assert notice.text == "Care marked your report t-1 solved. It closes in 3d unless you write again."


def test_user_message_notifies_nobody() -> None:
    ticket = drive(reply())
    cmd = write()
    ticket.apply(cmd, T0 + 2 * STEP)
    assert on_ticket_command(ticket, cmd) == []


def test_open_tells_the_user_the_reply_target() -> None:
    ticket = drive(topic=TicketTopic.ACCOUNT)
    assert on_ticket_open(ticket) == [
        Notice(
            party=Role.USER,
            party_id="u-1",
            text="We received your report t-1 (ACCOUNT); care replies within 24h.",
            category=NoticeCategory.UPDATE,
        )
    ]


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
    with pytest.raises(ValidationError, match=error):
        request(**overrides)


def test_twenty_attachments_are_accepted() -> None:
    attachments = [f"blob:{i}" for i in range(20)]
    assert request(attachments=attachments).attachments == attachments


def test_report_refuses_unknown_fields() -> None:
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
    model = TicketReply if body["actor"]["role"] == "care" else UserMessage
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_solve_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Solve.model_validate({"actor": CARE.model_dump(), "note": "done"})


@pytest.mark.parametrize(
    ("warning", "target"),
    [(TARGET, TARGET), (TARGET + STEP, TARGET), (timedelta(0), TARGET)],
    ids=["warning-equals-target", "warning-after-target", "zero-warning"],
)
def test_policy_warning_must_come_before_target(warning: timedelta, target: timedelta) -> None:
    with pytest.raises(ValidationError, match="care_reply_warning must be positive and shorter"):
        TicketPolicy(care_reply_warning=warning, care_reply_target=target)


def test_default_policy_is_the_seed() -> None:
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
    ticket = drive(*steps)
    before = ticket.model_dump()
    with pytest.raises(error):
        ticket.apply(refused, after(ticket))
    assert ticket.model_dump() == before


def test_refused_message_on_a_closed_ticket_changes_nothing() -> None:
    ticket = _closed()
    before = ticket.model_dump()
    with pytest.raises(InvalidTransition) as refused:
        ticket.apply(write(), after(ticket))
    assert refused.value.details["allowed_actions"] == {"user": [], "care": []}
    assert ticket.model_dump() == before
