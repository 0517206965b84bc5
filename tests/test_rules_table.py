"""One table-driven rules harness, run for every registered kind of case with that kind's tables
(``DISPUTE_TABLE`` in tests/test_rules.py, ``TICKET_TABLE`` in tests/test_ticket_rules.py): the
registry holds the documented actions, each state allows exactly what its table says, and every
(state, role, action) is either carried out or refused with InvalidTransition, nothing changed."""

from __future__ import annotations

import pytest

from domain.errors import InvalidTransition
from domain.events import Acted
from domain.kinds import KINDS
from domain.types import Role
from tests.factories import ACTORS, BUYER, after
from tests.rules_harness import RulesTable, State, as_details, is_case, role_actions
from tests.test_rules import DISPUTE_TABLE
from tests.test_ticket_rules import TICKET_TABLE

TABLES = {table.kind.name: table for table in (DISPUTE_TABLE, TICKET_TABLE)}
CASES = [(table, state) for table in TABLES.values() for state in table.states]
CHECKS = [
    (table, state, role, action)
    for table in TABLES.values()
    for state in table.states
    for role, action in role_actions(table)
]


def _id(value: object) -> str:
    if isinstance(value, State):
        return value.name
    return value.kind.name if isinstance(value, RulesTable) else str(value)


def test_every_registered_kind_has_its_tables() -> None:
    assert set(TABLES) == {kind.name for kind in KINDS}


@pytest.mark.parametrize("table", TABLES.values(), ids=lambda table: table.kind.name)
def test_the_registry_holds_the_documented_actions(table: RulesTable) -> None:
    """Names, order, roles, paths and summaries of the registry are the documented ones."""
    actions = table.kind.actions
    assert [spec.name for spec in actions] == list(table.registered)
    for spec in actions:
        line = table.registered[spec.name]
        assert (set(spec.roles), spec.path) == (line.roles, line.path), spec.name
        assert spec.command.action == spec.name
        assert spec.summary == (spec.command.__doc__ or "").strip().splitlines()[0]
        assert actions.get(spec.name) is spec
        assert spec.name in actions
    everyone = {role for line in table.registered.values() for role in line.roles}
    assert set(table.kind.state.roles) == everyone


@pytest.mark.parametrize("table", TABLES.values(), ids=lambda table: table.kind.name)
def test_every_registered_action_has_a_test_command(table: RulesTable) -> None:
    """The tests hold one command per registered action, of the registered command type."""
    for spec in table.kind.actions:
        assert type(table.command(spec.name, BUYER)) is spec.command


@pytest.mark.parametrize("table", TABLES.values(), ids=lambda table: table.kind.name)
def test_the_table_covers_every_status_and_every_registered_action(table: RulesTable) -> None:
    """The table reaches every status and allows each registered action to each of its roles
    somewhere (so the matrix below exercises it)."""
    assert {state.status for state in table.states} == table.statuses
    exercised = {
        (role, action)
        for state in table.states
        for role, actions in state.allowed.items()
        for action in actions
    }
    assert exercised == {(role, spec.name) for spec in table.kind.actions for role in spec.roles}


@pytest.mark.parametrize(
    ("table", "state"), CASES, ids=lambda v: v.name if isinstance(v, State) else v.kind.name
)
def test_allowed_actions_per_state(table: RulesTable, state: State) -> None:
    """Each state reports exactly the allowed actions of the table, as plain action names."""
    case = is_case(state.build())
    assert case.status is state.status
    assert case.allowed_actions == state.allowed
    assert case.allowed_actions_at(after(case)) == state.allowed
    assert case.model_dump(mode="json")["allowed_actions"] == as_details(state.allowed)
    assert all(type(name) is str for names in case.allowed_actions.values() for name in names)
    assert case.closed is (state.status in table.closed)


@pytest.mark.parametrize(
    ("table", "state", "role", "action"),
    CHECKS,
    ids=lambda v: v.name if isinstance(v, State) else v.kind.name if isinstance(v, RulesTable) else str(v),
)
def test_check_accepts_exactly_the_allowed_actions(
    table: RulesTable, state: State, role: Role, action: str
) -> None:
    """check() passes for an allowed action and apply carries it out; anything else is refused
    with InvalidTransition, the allowed actions in its details, and nothing changed."""
    case = is_case(state.build())
    actor = ACTORS[role]
    cmd = table.command(action, actor)
    now = after(case)
    if action in state.allowed[role]:
        case.check(cmd, now)
        last_seq = case.timeline_seq
        happened = case.apply(cmd, now)
        assert happened[0] == Acted(actor=actor, action=action)
        entry = case.timeline[-1]
        assert (entry.event, entry.actor, entry.at, entry.status) == (action, actor, now, case.status)
        assert entry.seq == case.timeline_seq > last_seq
        table.followed(case, role, action, happened, state)
        return
    before = case.model_dump()
    with pytest.raises(InvalidTransition) as refused:
        case.check(cmd, now)
    assert refused.value.code == "InvalidTransition"
    assert refused.value.details == {
        "current_status": state.status.value,
        "allowed_actions": as_details(state.allowed),
    }
    assert f"{role.value} may not {action} while {case.id} is {state.status.value}" in refused.value.message
    with pytest.raises(InvalidTransition):
        case.apply(cmd, now)
    assert case.model_dump() == before
