"""The shape of one kind's rules tables, for the one table-driven harness (tests/test_rules_table.py).

Each kind of case gives its tables in its own rules test module (``DISPUTE_TABLE`` in
tests/test_rules.py, ``TICKET_TABLE`` in tests/test_ticket_rules.py): the registered actions with
their roles, paths and a sample command, and the transition table (named states, how to reach
each, what each role may do there). Adding an action is its line in these tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from domain.case import CareCase
from domain.commands import Command
from domain.events import DomainEvent
from domain.kinds import CaseKind
from domain.types import Actor, Role


class Registered(NamedTuple):
    """One line of a kind's registry table: who may ever take the action, its path under the
    case, and a valid sample of its command by any actor."""

    roles: set[Role]
    path: str
    sample: Callable[[Actor], Command]


@dataclass(frozen=True)
class State:
    """A named state, how to reach it, and what each role may do there."""

    name: str
    status: StrEnum
    build: Callable[[], Any]
    allowed: dict[Role, list[str]]


#: A kind's own checks of an allowed action just applied: (case, role, action, what happened, state).
Followed = Callable[[Any, Role, str, list[DomainEvent], State], None]


@dataclass(frozen=True)
class RulesTable:
    """One kind's expected tables and how the harness builds its commands."""

    kind: CaseKind[Any, Any]
    #: Every action in ``allowed_actions`` order: its roles, its path and a sample command.
    registered: dict[str, Registered]
    #: The transition table: every status reached, every registered action allowed somewhere.
    states: list[State]
    #: The statuses of a closed case.
    closed: set[StrEnum]
    #: The kind's own checks after an allowed action (the other party told, the new status...).
    followed: Followed = field(default=lambda case, role, action, happened, state: None)

    def command(self, action: str, actor: Actor) -> Command:
        """A valid command of ``action`` by ``actor`` (its sample in the registry table)."""
        built = self.registered[action].sample(actor)
        assert built.action == action
        return built

    @property
    def statuses(self) -> set[StrEnum]:
        """Every status the kind's state model has."""
        status_type = type(self.states[0].status)
        return set(status_type)


def as_details(expected: dict[Role, list[str]]) -> dict[str, list[str]]:
    """``allowed_actions`` the way InvalidTransition reports it in its details."""
    return {role.value: [str(action) for action in actions] for role, actions in expected.items()}


def role_actions(table: RulesTable) -> list[tuple[Role, str]]:
    """Every (role, action) the registry can be asked about: each action for every role."""
    return [(role, spec.name) for spec in table.kind.actions for role in table.kind.state.roles]


def is_case(value: object) -> CareCase:
    """A built state, typed as a case."""
    assert isinstance(value, CareCase)
    return value
