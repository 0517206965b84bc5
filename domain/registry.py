"""One registry per kind of case: every action is one registered thing.

An action is its command model, the roles that may ever take it, the HTTP path it is posted to,
the rule that says when it is allowed, and the rule that carries it out. The workflow's update
path and validator, the HTTP routes, the CloudEvents mapping, ``allowed_actions`` and the rule
tests all read the registry (cosmicpython's ``COMMAND_HANDLERS`` table, one per aggregate)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from domain.commands import Command
from domain.events import DomainEvent
from domain.types import Role

CaseT = TypeVar("CaseT")
CommandT = TypeVar("CommandT", bound=Command)

#: May ``role`` take the action on the case now? ``None`` for now means "the recorded state only".
Allowed = Callable[[CaseT, Role, datetime | None], bool]
#: Carry the action out: change the case and return what happened.
Apply = Callable[[CaseT, Any, datetime], list[DomainEvent]]
#: Refuse this actor's command (a ``DomainError``) where the role alone does not decide, e.g. a
#: care agent claiming a case another agent owns.
Check = Callable[[CaseT, Any, datetime], None]


@dataclass(frozen=True)
class ActionSpec(Generic[CaseT]):
    """One registered action of one kind of case."""

    name: str
    command: type[Command]
    roles: frozenset[Role]
    path: str
    summary: str
    allowed: Allowed[CaseT]
    apply: Apply[CaseT]
    check: Check[CaseT] | None = None


class ActionRegistry(Generic[CaseT]):
    """The actions of one kind of case, in the order they are listed to callers."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._specs: dict[str, ActionSpec[CaseT]] = {}

    def action(
        self,
        command: type[CommandT],
        *,
        roles: set[Role],
        path: str,
        allowed: Allowed[CaseT],
        check: Check[CaseT] | None = None,
    ) -> Callable[[Callable[[CaseT, CommandT, datetime], list[DomainEvent]]], Any]:
        """Register ``command`` with the function that carries it out (used as a decorator).

        ``allowed`` is asked for each of ``roles`` only; ``check`` (optional) then refuses what
        depends on the actor or the command, not on the role; the command's docstring is its summary."""

        def register(
            apply: Callable[[CaseT, CommandT, datetime], list[DomainEvent]],
        ) -> Callable[[CaseT, CommandT, datetime], list[DomainEvent]]:
            name = str(command.action)
            if name in self._specs:
                raise ValueError(f"{self.kind} already has an action {name!r}")
            self._specs[name] = ActionSpec(
                name=name,
                command=command,
                roles=frozenset(roles),
                path=path,
                summary=(command.__doc__ or name).strip().splitlines()[0],
                allowed=allowed,
                apply=apply,
                check=check,
            )
            return apply

        return register

    def remove(self, name: str) -> None:
        """Take an action out again (tests that register one of their own)."""
        self._specs.pop(name, None)

    def get(self, name: str) -> ActionSpec[CaseT] | None:
        """The action called ``name``, if this kind of case has one."""
        return self._specs.get(name)

    def __iter__(self) -> Iterator[ActionSpec[CaseT]]:
        return iter(list(self._specs.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def allowed_actions(self, case: CaseT, roles: list[Role], now: datetime | None) -> dict[Role, list[str]]:
        """What each of ``roles`` may do now, in registration order."""
        return {
            role: [spec.name for spec in self if role in spec.roles and spec.allowed(case, role, now)]
            for role in roles
        }
