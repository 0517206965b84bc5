"""The kinds of case, as plugins on one engine.

A ``CaseKind`` bundles everything that differs between a dispute and a help-center report: its
state model and what it opens with, its action registry, its effect registry, its reactions,
how it is shown (the public view, the Temporal UI's summary and details) and how its workflow id
is made. The engine (``workflows/base.py``), the worker, the API and the CloudEvents ingestion
loop over ``KINDS`` instead of naming each kind; a new kind of case is one more ``register``.

Everything here is pure: the Temporal side of a kind (its workflow class, its typed search
attributes) lives in ``workflows/kinds.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from domain.case import CareCase, TimelineEntry
from domain.dispute import Dispute, OpenDisputeInput
from domain.effects import EffectRegistry
from domain.ids import dispute_workflow_id, ticket_workflow_id
from domain.reactions import Reactions, reactions_of
from domain.registry import ActionRegistry
from domain.ticket import OpenTicketInput, Ticket
from domain.views import (
    DisputeView,
    TicketView,
    dispute_details,
    dispute_summary,
    ticket_details,
    ticket_summary,
)

CaseT = TypeVar("CaseT", bound=CareCase)
OpenT = TypeVar("OpenT", bound=BaseModel)


@dataclass(frozen=True)
class CaseKind(Generic[CaseT, OpenT]):
    """One kind of case: what the engine, the API and the worker need to know of it."""

    #: "dispute" or "ticket": the ``CaseKind`` search attribute, the archive's kind, the registry's.
    name: str
    #: The plural the API names it by ("disputes", "tickets").
    noun: str
    #: The state model (the aggregate the rules change).
    state: type[CaseT]
    #: What a case of this kind opens with (the workflow input's ``open``).
    opening: type[OpenT]
    #: The workflow id of a case from its business key (one dispute per order, ...).
    workflow_id: Callable[[str], str]
    #: The Temporal UI's one-line summary at start.
    summary: Callable[[OpenT], str]
    #: The Temporal UI's details at start; the flag leaves free text out.
    details: Callable[[OpenT, bool], str]
    #: The case as the API answers it, with its full timeline.
    view: Callable[[CaseT, list[TimelineEntry]], BaseModel]

    @property
    def actions(self) -> ActionRegistry[CaseT]:
        """Every action of this kind (``domain/registry.py``)."""
        return self.state.actions

    @property
    def effects(self) -> EffectRegistry:
        """Every outside effect of this kind (``domain/effects.py``)."""
        return self.state.effects

    @property
    def reactions(self) -> Reactions:
        """What follows from this kind's events, and what its webhook events carry."""
        return reactions_of(self.state)

    def open(self, case_id: str, request: OpenT, now: datetime) -> CaseT:
        """A new case of this kind, as the workflow opens it (the API computes its first state
        with the same call)."""
        return self.state.open(case_id, request, now)


class KindRegistry:
    """The registered kinds of case, in registration order."""

    def __init__(self) -> None:
        self._kinds: dict[str, CaseKind[Any, Any]] = {}

    def register(self, kind: CaseKind[CaseT, OpenT]) -> CaseKind[CaseT, OpenT]:
        """Add a kind of case (one per name)."""
        if kind.name in self._kinds:
            raise ValueError(f"a kind of case {kind.name!r} is already registered")
        self._kinds[kind.name] = kind
        return kind

    def named(self, name: str) -> CaseKind[Any, Any]:
        """The kind called ``name`` (KeyError when there is none)."""
        return self._kinds[name]

    def of(self, case: CareCase) -> CaseKind[Any, Any]:
        """The kind ``case`` is of (a subclass of a kind's state, such as its view, counts)."""
        for kind in self:
            if isinstance(case, kind.state):
                return kind
        raise LookupError(f"{type(case).__name__} is of no registered kind")

    def __iter__(self) -> Iterator[CaseKind[Any, Any]]:
        return iter(list(self._kinds.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


#: Every kind of case the service runs.
KINDS = KindRegistry()


def _redactable(details: Callable[..., str]) -> Callable[[Any, bool], str]:
    """A views function that takes ``redact`` by keyword, as a kind's ``details``."""
    return lambda request, redact: details(request, redact=redact)


# name, noun, state, opening, workflow id; Temporal UI summary and details; the API's view
DISPUTE: CaseKind[Dispute, OpenDisputeInput] = KINDS.register(
    CaseKind("dispute", "disputes", Dispute, OpenDisputeInput, dispute_workflow_id,
             dispute_summary, _redactable(dispute_details), DisputeView.of)
)  # fmt: skip
TICKET: CaseKind[Ticket, OpenTicketInput] = KINDS.register(
    CaseKind("ticket", "tickets", Ticket, OpenTicketInput, ticket_workflow_id,
             ticket_summary, _redactable(ticket_details), TicketView.of)
)  # fmt: skip
