"""The kinds of case as the API serves them: each registered kind (``domain/kinds.py``) with what
the API adds to it (its workflow, the body that opens one, who opens it, its public model).

The routes, the reads, the openings and the CloudEvents ingestion loop over ``SERVED``; a new
kind of case is one more entry here beside its ``domain.kinds`` registration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from pydantic import BaseModel
from temporalio.common import SearchAttributeKey

from api.public import CasePublic, DisputePublic, TicketPublic, public
from core import search_attributes as sa
from core.settings import Settings
from domain.case import CareCase, TimelineEntry
from domain.dispute import DisputeClaim, DisputeStatus
from domain.kinds import DISPUTE, KINDS, TICKET, CaseKind
from domain.registry import ActionRegistry
from domain.ticket import TicketReport, TicketStatus
from domain.types import Actor, Role
from workflows.kinds import KindWorkflow, workflow_of


@dataclass(frozen=True)
class CareOwes:
    """Which cases of a kind are in care's queue: those whose ``status`` search attribute holds one
    of ``statuses``, shown with ``columns`` (queue field → search attribute)."""

    status: SearchAttributeKey[Any]
    statuses: tuple[str, ...]
    columns: dict[str, SearchAttributeKey[Any]]
    #: Whether the queue's topic filter applies to this kind (a topic filter leaves out the others).
    has_topic: bool = False


@dataclass(frozen=True)
class ServedKind:
    """One kind of case, as the API opens, reads and acts on it."""

    #: The kind's registration: state, actions, opening, workflow id, summary, details, view.
    kind: CaseKind[Any, Any]
    #: What users call one case of the kind, in API messages ("dispute", "report").
    noun: str
    #: The path of its routes and the name of its id in them.
    path: str
    path_param: str
    #: The request body that opens a case, and the party who must be the one to open it.
    claim: type[BaseModel]
    opener: Callable[[Any], Actor]
    #: The business key a case's id derives from (one dispute per order); ``None``: a new key per
    #: request (from its Idempotency-Key, or the CloudEvent that opened it).
    business_key: Callable[[Any], str] | None
    #: The parties a case is between, from its opening body or its state (a repeat opening between
    #: other parties is refused).
    parties: Callable[[Any], tuple[str, ...]]
    #: The policy a case opened now runs under, from the settings.
    policy: Callable[[Settings], BaseModel]
    #: Whether an opening links the order's open dispute (a report about a disputed order).
    links_dispute: bool
    #: What a read of one answers with (``api/public.py``).
    public: type[CasePublic]
    #: The opening's rules no JSON Schema can state (two fields compared, the server's state),
    #: said in its route's description; each is refused with 422 naming the field.
    opening_rules: str
    #: What of this kind care owes a reply, a decision or a review to (``GET /v1/care/queue``).
    care_owes: CareOwes

    @property
    def temporal(self) -> KindWorkflow:
        """Its Temporal side (``workflows/kinds.py``): workflow type, run input, search attributes."""
        return workflow_of(self.kind)

    @property
    def name(self) -> str:
        """The kind's registered name: ``CaseKind`` search attribute, CloudEvents type segment."""
        return self.kind.name

    @property
    def prefix(self) -> str:
        """How the workflow ids of this kind begin."""
        return self.kind.workflow_id("")

    @property
    def actions(self) -> ActionRegistry[Any]:
        """The kind's registered actions."""
        return self.kind.actions

    def show(
        self, state: CareCase, timeline: list[TimelineEntry], *, version: int, as_of: datetime
    ) -> CasePublic:
        """What a read answers: the case with its full timeline, as clients see it, at ``version``
        as stored at ``as_of``."""
        shown = public(self.public, self.kind.view(state, timeline))
        return shown.model_copy(update={"version": version, "as_of": as_of})

    def owns(self, case_id: str) -> bool:
        """Whether ``case_id`` names a case of this kind."""
        return case_id.startswith(self.prefix)

    def state_of(self, stored: dict[str, Any]) -> CareCase:
        """A case of this kind from its stored JSON (archive, snapshot)."""
        state: CareCase = self.kind.state.model_validate(stored)
        return state


DISPUTES = ServedKind(
    kind=DISPUTE,
    noun="dispute",
    path="/v1/disputes",
    path_param="dispute_id",
    claim=DisputeClaim,
    opener=lambda claim: Actor(role=Role.BUYER, id=claim.buyer_id),
    business_key=attrgetter("order_id"),
    parties=attrgetter("buyer_id", "seller_id"),
    policy=lambda settings: settings.dispute_policy(),
    links_dispute=False,
    public=DisputePublic,
    opening_rules="A refund's `amount` is at most `order_total`; `seller_id` is not the `buyer_id`; each"
    " `evidence` reference is the buyer's own upload.",
    care_owes=CareOwes(
        status=sa.DISPUTE_STATUS,
        statuses=(DisputeStatus.IN_MEDIATION, DisputeStatus.DECISION_APPEALED),
        columns={
            "care_decision_due_at": sa.CARE_DECISION_DUE_AT,
            "order_id": sa.ORDER_ID,
            "buyer_id": sa.BUYER_ID,
            "seller_id": sa.SELLER_ID,
        },
    ),
)
TICKETS = ServedKind(
    kind=TICKET,
    noun="report",
    path="/v1/tickets",
    path_param="ticket_id",
    claim=TicketReport,
    opener=lambda report: Actor(role=Role.USER, id=report.user_id),
    business_key=None,
    parties=lambda report: (report.user_id,),
    policy=lambda settings: settings.ticket_policy(),
    links_dispute=True,
    public=TicketPublic,
    opening_rules="Each `attachments` reference is the user's own upload.",
    care_owes=CareOwes(
        status=sa.TICKET_STATUS,
        statuses=(TicketStatus.AWAITING_CARE,),
        columns={"topic": sa.TICKET_TOPIC, "order_id": sa.ORDER_ID, "user_id": sa.USER_ID},
        has_topic=True,
    ),
)

#: Every kind of case the API serves, by its registered name.
SERVED: dict[str, ServedKind] = {served.name: served for served in (DISPUTES, TICKETS)}
if set(SERVED) != {kind.name for kind in KINDS}:  # a kind registered without its API side
    raise RuntimeError(f"the API serves {sorted(SERVED)}, the registered kinds are {[k.name for k in KINDS]}")


def served_for(case_id: str) -> ServedKind | None:
    """The kind whose ids look like ``case_id``."""
    return next((served for served in SERVED.values() if served.owns(case_id)), None)
