"""Who owns a case in care, the same on every kind of case: ``assign``, ``claim`` and ``release``,
the groups and routing of the case's policy, and the move of a case whose care target was missed
to the supervisors' group.

Each kind registers the three actions in its own registry (``register_care_actions``) with the
rule that says in which of its states care works on it and which roles may act there. What an
actor may do beyond its role:

- a care agent (role ``care``) claims a case nobody else owns, releases its own, and assigns a
  case that is unowned or its own (hands it over, to another agent and/or a group); a case another
  agent owns is refused with 409;
- a supervisor (role ``supervisor``) and an operator (role ``operator``, admin keys) assign and
  release any case, whoever owns it; an operator claims nothing (it is no care agent).

Assigning to a group without an agent puts the case unowned in that group's queue; assigning to
an agent without a group keeps the group. A group must be one the case's policy lists (or its
supervisors' group)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from domain.commands import Command
from domain.errors import InvalidInput, InvalidTransition
from domain.events import Assigned, DomainEvent
from domain.registry import ActionRegistry
from domain.types import CareTarget, CasePolicy, Identifier, Role

if TYPE_CHECKING:
    from domain.case import CareCase

#: The roles that may take a case from its owner.
OVERSEERS = frozenset({Role.SUPERVISOR, Role.OPERATOR})
#: The routing key that catches every topic and reason not named.
ANY = "*"


class Assign(Command):
    """Assign the case to a care agent and/or a care group.

    A supervisor or an operator may reassign anyone's case; a care agent one that is unowned or
    its own (409 otherwise)."""

    action = "assign"
    # The schema says what the rule checks: an assignee, a group, or both.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["assignee"], "properties": {"assignee": {"type": "string"}}},
                {"required": ["group"], "properties": {"group": {"type": "string"}}},
            ]
        }
    )
    assignee: Identifier | None = Field(default=None, description="the care agent who owns it from now")
    group: Identifier | None = Field(
        default=None, description="the care group it goes to; without an assignee it is unowned there"
    )


class Claim(Command):
    """A care agent takes the case for itself (409 when another agent owns it)."""

    action = "claim"


class Release(Command):
    """The owner gives the case back, unowned, to its group's queue.

    A supervisor or an operator may release anyone's case; a care agent only its own."""

    action = "release"


def known_groups(policy: CasePolicy) -> list[str]:
    """The groups a case under ``policy`` may be assigned to."""
    groups = list(policy.care_groups)
    if policy.care_supervisors_group is not None and policy.care_supervisors_group not in groups:
        groups.append(policy.care_supervisors_group)
    return groups


def routed_group(policy: CasePolicy, key: str) -> str | None:
    """The group a case reaching care goes to by its report topic or dispute reason ``key``."""
    return policy.care_routing.get(key) or policy.care_routing.get(ANY)


def route(case: CareCase, key: str, now: datetime) -> None:
    """The case reaches care: it goes to the group its routing names, unless it has a group."""
    group = routed_group(case.policy, key)
    if case.care_group is None and group is not None:
        case.care_group = group
        case._record(now, "routed", None, group=group, by=key)


def to_supervisors(case: CareCase, target: CareTarget, now: datetime) -> list[DomainEvent]:
    """A care target of ``case`` was missed: it moves, unowned, to the supervisors' group (once:
    a case already there stays with the supervisor who took it), and its assignee is told."""
    group = case.policy.care_supervisors_group
    if group is None or case.care_group == group:
        return []
    previous = case.assignee
    case.care_group, case.assignee = group, None
    reason = f"{target.value} target missed"
    case._record(now, "reassigned", None, group=group, previous_assignee=previous, reason=reason)
    return [Assigned(assignee=None, group=group, previous=previous, reason=reason)]


def _owned_by_another(case: CareCase, command: Command) -> InvalidTransition | None:
    """The refusal of a care agent acting on a case another agent owns."""
    actor = command.actor
    if actor.role in OVERSEERS or case.assignee is None or case.assignee == actor.id:
        return None
    allowed = case.allowed_actions_at(None)
    return InvalidTransition(
        f"{case.id} is assigned to {case.assignee}: care agent {actor.id} may not {command.action} it",
        current_status=case.status,
        allowed_actions={role.value: list(names) for role, names in allowed.items()},
        assignee=case.assignee,
    )


def _check_assign(case: CareCase, command: Assign, now: datetime) -> None:
    if command.assignee is None and command.group is None:
        raise InvalidInput("assignee", "give an assignee, a group, or both")
    groups = known_groups(case.policy)
    if command.group is not None and command.group not in groups:
        raise InvalidInput("group", f"no care group {command.group!r}; the groups are {groups}")
    if (refused := _owned_by_another(case, command)) is not None:
        raise refused


def _check_owner(case: CareCase, command: Command, now: datetime) -> None:
    if (refused := _owned_by_another(case, command)) is not None:
        raise refused


def _changed(
    case: CareCase, command: Command, assignee: str | None, group_before: str | None
) -> list[DomainEvent]:
    """The case is now ``assignee``'s; nothing is told when nothing changed (a claim repeated)."""
    previous, case.assignee = case.assignee, assignee
    if previous == assignee and case.care_group == group_before:
        return []
    return [Assigned(assignee=assignee, group=case.care_group, previous=previous, by=command.actor)]


def register_care_actions(
    actions: ActionRegistry[Any], works_on: Callable[[Any, Role, datetime | None], bool]
) -> None:
    """Register ``assign``, ``claim`` and ``release`` for a kind whose care works on a case where
    ``works_on(case, role, now)`` says so (its own states and roles)."""

    def owned(case: CareCase, role: Role, now: datetime | None) -> bool:
        return case.assignee is not None and works_on(case, role, now)

    @actions.action(
        Assign, roles={Role.CARE, *OVERSEERS}, path="care/assign", allowed=works_on, check=_check_assign
    )
    def _assign(case: CareCase, command: Assign, now: datetime) -> list[DomainEvent]:
        group_before = case.care_group
        if command.group is not None:
            case.care_group = command.group
        return _changed(case, command, command.assignee, group_before)

    @actions.action(
        Claim, roles={Role.CARE, Role.SUPERVISOR}, path="care/claim", allowed=works_on, check=_check_owner
    )
    def _claim(case: CareCase, command: Claim, now: datetime) -> list[DomainEvent]:
        return _changed(case, command, command.actor.id, case.care_group)

    @actions.action(
        Release, roles={Role.CARE, *OVERSEERS}, path="care/release", allowed=owned, check=_check_owner
    )
    def _release(case: CareCase, command: Release, now: datetime) -> list[DomainEvent]:
        return _changed(case, command, None, case.care_group)
