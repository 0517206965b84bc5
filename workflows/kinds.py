"""The Temporal side of every registered kind of case: its workflow class, its run input and its
typed search attributes. The worker registers the workflows listed here; the API starts a case
with them. Every kind in ``domain.kinds.KINDS`` has one entry (checked on import)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

from domain.kinds import DISPUTE, KINDS, TICKET, CaseKind
from workflows.base import CaseWorkflow
from workflows.dispute import DisputeWorkflow, dispute_search_attributes
from workflows.inputs import CaseRun, DisputeRun, TicketRun
from workflows.ticket import CareTicketWorkflow, ticket_search_attributes


@dataclass(frozen=True)
class KindWorkflow:
    """One kind of case on Temporal: the workflow type that runs it and what it starts with."""

    kind: CaseKind[Any, Any]
    workflow: type[CaseWorkflow[Any, Any]]
    run_input: type[CaseRun[Any, Any]]
    search_attributes: Callable[[Any], dict[SearchAttributeKey[Any], Any]]

    @property
    def type_name(self) -> str:
        """The workflow type's name (what histories and the Web UI call it)."""
        name = workflow._Definition.must_from_class(self.workflow).name
        assert name is not None, "a case workflow is never dynamic"
        return name

    def start_input(self, request: Any) -> CaseRun[Any, Any]:
        """The workflow input that opens a case for ``request`` (the kind's opening input)."""
        return self.run_input(open=request)


CASE_WORKFLOWS: dict[str, KindWorkflow] = {
    DISPUTE.name: KindWorkflow(DISPUTE, DisputeWorkflow, DisputeRun, dispute_search_attributes),
    TICKET.name: KindWorkflow(TICKET, CareTicketWorkflow, TicketRun, ticket_search_attributes),
}
_missing = [kind.name for kind in KINDS if kind.name not in CASE_WORKFLOWS]
if _missing:
    raise RuntimeError(f"kinds of case without a workflow: {_missing}")


def workflow_of(kind: CaseKind[Any, Any]) -> KindWorkflow:
    """The Temporal side of ``kind``."""
    return CASE_WORKFLOWS[kind.name]


def case_workflows() -> list[type[CaseWorkflow[Any, Any]]]:
    """The workflow class of every registered kind, for the worker and the replayer."""
    return [workflow_of(kind).workflow for kind in KINDS]
