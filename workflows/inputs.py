"""The case workflows' inputs and results.

They live here, imported through the sandbox's pass-through, and not in the workflow modules:
the sandbox runs a workflow module again for every workflow it creates (a new case, or one
replayed after leaving the worker's cache), so a pydantic model defined there would be a new
class each time, its schema built again and a new type adapter made for it in the data
converter (bench: a tenth of the worker's time under load, docs/benchmarks.md)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

from domain.case import CareCase
from domain.dispute import Dispute, OpenDisputeInput
from domain.ticket import OpenTicketInput, Ticket
from workflows.base import Carried

OpenT = TypeVar("OpenT", bound=BaseModel)
CaseT = TypeVar("CaseT", bound=CareCase)


class CaseRun(BaseModel, Generic[OpenT, CaseT]):
    """A case workflow's input: the case as opened, and the run state carried into a later run."""

    open: OpenT
    carried: Carried[CaseT] | None = None


class DisputeRun(CaseRun[OpenDisputeInput, Dispute]):
    """The dispute workflow's input: the claim as opened, and the state carried into a later run."""


class TicketRun(CaseRun[OpenTicketInput, Ticket]):
    """The report workflow's input: the report as filed, and the state carried into a later run."""


class TicketClosed(BaseModel):
    """The result of a report's workflow."""

    id: str
    sla_breaches: int
    messages: int
