"""How cases are shown: the Temporal UI's summaries and details for on-call, and the whole case as
the API answers it (the state merged with its full timeline)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from domain.case import CareCase, DeadlineEvent, PauseKind, TimelineEntry
from domain.dispute import Dispute, DisputeClaim, DisputeStatus, OpenDisputeInput, Proposal
from domain.ticket import OpenTicketInput, Priority, Ticket, TicketMessage, TicketReport, TicketStatus
from domain.types import (
    CareTarget,
    DisputePolicy,
    EvidenceType,
    ReplyPolicy,
    Role,
    Solution,
    SolutionKind,
    at_minute,
    short_duration,
)

# -- the whole case, as the API answers it -----------------------------------------------------


def merge_timeline(stored: list[TimelineEntry], pending: list[TimelineEntry]) -> list[TimelineEntry]:
    """The full timeline: what the store holds, then what the case has not handed over yet."""
    seen = {entry.seq for entry in stored}
    return sorted([*stored, *(entry for entry in pending if entry.seq not in seen)], key=lambda e: e.seq)


def evidence_by_type(case: CareCase, timeline: list[TimelineEntry], own: list[str]) -> dict[str, list[str]]:
    """Every evidence reference the case cites (``own``: the opening's, then the timeline's, each
    once, oldest first) grouped by the type its upload gave it (``OTHER`` when unknown: a file
    cited before uploads had types)."""
    cited = list(own)
    for entry in timeline:
        for field in ("evidence", "attachments"):
            value = entry.detail.get(field)
            if isinstance(value, list):
                cited += [item for item in value if isinstance(item, str)]
    groups: dict[str, list[str]] = {kind.value: [] for kind in EvidenceType}
    for reference in dict.fromkeys(cited):
        groups[case.evidence_types.get(reference, EvidenceType.OTHER).value].append(reference)
    return {kind: references for kind, references in groups.items() if references}


class DisputeView(Dispute):
    """A dispute with its full timeline and the offer history read from it."""

    proposals: list[Proposal] = []
    evidence_by_type: dict[str, list[str]] = {}
    stale: bool = Field(default=False, description="read from the store: the case did not answer in time")
    as_of: datetime | None = Field(default=None, description="when a stale state was last seen")

    @classmethod
    def of(cls, dispute: Dispute, timeline: list[TimelineEntry]) -> DisputeView:
        """Show ``dispute`` with ``timeline`` (its full audit trail)."""
        proposals = [
            _proposal(entry) for entry in timeline if entry.event in ("offer", "appeal") and entry.actor
        ]
        grouped = evidence_by_type(dispute, timeline, dispute.evidence)
        return cls.model_validate(
            dispute.model_dump() | {"timeline": timeline, "proposals": proposals, "evidence_by_type": grouped}
        )


def _proposal(entry: TimelineEntry) -> Proposal:
    assert entry.actor is not None
    if entry.event == "appeal":
        release = Solution(kind=SolutionKind.RELEASE_TO_SELLER)
        return Proposal(
            by=Role.SELLER, solution=release, note=entry.detail.get("reason", ""), appeal=True, at=entry.at
        )
    solution = Solution.model_validate(entry.detail["solution"])
    return Proposal(by=entry.actor.role, solution=solution, note=entry.detail.get("note", ""), at=entry.at)


class TicketView(Ticket):
    """A report with its full timeline and the conversation read from it."""

    messages: list[TicketMessage] = []
    evidence_by_type: dict[str, list[str]] = {}
    stale: bool = Field(default=False, description="read from the store: the case did not answer in time")
    as_of: datetime | None = Field(default=None, description="when a stale state was last seen")

    @classmethod
    def of(cls, ticket: Ticket, timeline: list[TimelineEntry]) -> TicketView:
        """Show ``ticket`` with ``timeline`` (its full audit trail)."""
        said = [
            TicketMessage(
                author=entry.actor.role, author_id=entry.actor.id, text=entry.detail["text"], at=entry.at
            )
            for entry in timeline
            if entry.event in ("opened", "message", "reply") and entry.actor and "text" in entry.detail
        ]
        grouped = evidence_by_type(ticket, timeline, ticket.attachments)
        return cls.model_validate(
            ticket.model_dump() | {"timeline": timeline, "messages": said, "evidence_by_type": grouped}
        )


# -- the Temporal UI: static summary and details at start ----------------------------------------


def dispute_summary(claim: DisputeClaim) -> str:
    """One line for the Temporal UI's static summary."""
    return (
        f"Dispute on order {claim.order_id}: buyer {claim.buyer_id} vs seller {claim.seller_id},"
        f" {claim.reason.value}, asks to {claim.requested_solution.describe()}"
    )


#: What the UI shows instead of a party's words when details are redacted.
REDACTED = "(in the encrypted workflow input)"


def dispute_details(request: OpenDisputeInput, *, redact: bool = False) -> str:
    """Markdown for the Temporal UI's static details: the claim and the policy it runs under;
    ``redact`` leaves out the buyer's description (ids, statuses and amounts only)."""
    policy = request.policy
    description = REDACTED if redact else request.description
    return "\n\n".join(
        [
            f"**Order** {request.order_id} · total {request.order_total}",
            f"**Buyer** {request.buyer_id} · **Seller** {request.seller_id}",
            f"**Reason** {request.reason.value}: {description}",
            f"**Requested** {request.requested_solution.describe()}",
            f"**Policy** inactivity {short_duration(policy.turn_inactivity)} · care reply target"
            f" {short_duration(policy.care_reply_target)} (warning at"
            f" {short_duration(policy.care_reply_warning)})" + _clocks_that_act(policy),
        ]
    )


def _clocks_that_act(policy: DisputePolicy) -> str:
    """The dispute's clocks that act by themselves, those its policy turns on."""
    named = [
        ("seller response", policy.seller_response),
        ("shipment", policy.shipment_window),
        ("receipt", policy.receipt_window),
        ("care decision target", policy.care_decision_target),
        ("decision appeal window", policy.decision_appeal_window),
        ("reminders", policy.reminder_lead),
        ("return inspection", policy.return_inspection_window),
        ("return transit", policy.return_transit_window),
    ]
    said = [f"{name} {short_duration(value)}" for name, value in named if value is not None]
    return "".join(f" · {words}" for words in said) + _business_hours(policy)


def _business_hours(policy: ReplyPolicy) -> str:
    """The calendar care's targets count in, if the policy has one."""
    calendar = policy.care_calendar
    return f" · care targets in business hours ({calendar.describe()})" if calendar else ""


def ticket_summary(report: TicketReport) -> str:
    """One line for the Temporal UI's static summary."""
    about = f" about order {report.order_id}" if report.order_id else ""
    raised = " [priority]" if report.priority is Priority.HIGH else ""
    return (
        f"Help-center report{raised}: {report.topic.value} from {report.role.value} {report.user_id}{about}"
    )


def ticket_details(request: OpenTicketInput, *, redact: bool = False) -> str:
    """Markdown for the Temporal UI's static details; ``redact`` leaves out the user's details."""
    policy = request.policy
    lines = [
        f"**Topic** {request.topic.value} · **Priority** {request.priority.value}",
        f"**User** {request.user_id} ({request.role.value})",
        f"**Details** {REDACTED if redact else request.details}",
    ]
    if request.order_id:
        lines.append(f"**Order** {request.order_id}")
    if request.dispute_id:
        lines.append(f"**Linked dispute** {request.dispute_id}")
    waits = policy.user_wait
    lines.append(
        f"**Policy** care reply target {short_duration(policy.care_reply_target)} (warning at"
        f" {short_duration(policy.care_reply_warning)}) · solved reports close after"
        f" {short_duration(policy.solved_quiet_period)} of quiet"
        + (f" · solved after {short_duration(waits)} waiting on the user" if waits else "")
        + (f" · reminders {short_duration(policy.reminder_lead)}" if policy.reminder_lead else "")
        + _business_hours(policy)
    )
    return "\n\n".join(lines)


# -- the Temporal UI: clocks and current details on every change ---------------------------------


def deadline_name(case: CareCase, event: DeadlineEvent) -> str:
    """Name a clock the way the timer summary and on-call see it."""
    policy = case.policy
    if event is DeadlineEvent.PARTY_INACTIVE and isinstance(case, Dispute):
        return f"{case.turn} inactivity {short_duration(case.policy.turn_inactivity)}"
    if event is DeadlineEvent.QUIET_PERIOD_OVER and isinstance(case, Ticket):
        return f"close after quiet period {short_duration(case.policy.solved_quiet_period)}"
    hours = " business hours" if policy.care_calendar is not None else ""
    if event is DeadlineEvent.CARE_REPLY_WARNING:
        return f"care reply warning at {short_duration(policy.care_reply_warning)}{hours}"
    if event is DeadlineEvent.CARE_REPLY_BREACHED:
        return f"care reply target {short_duration(policy.care_reply_target)}{hours}"
    if event is DeadlineEvent.INFO_REQUEST_DUE:
        asked = [p.party.value for p in case.pauses if p.due_at is not None]
        return f"{' and '.join(asked) or 'party'} asked for information"
    if event is DeadlineEvent.REMINDER:
        reminder = case.next_reminder()
        party = reminder[1].party.value if reminder else "party"
        return f"reminder to the {party}"
    window = case.window
    if window is not None and event is window.kind.closes:
        return (
            f"{window.kind.value.replace('_', ' ')} window {short_duration(window.due_at - window.opened_at)}"
        )
    named = {
        DeadlineEvent.CARE_DECISION_WARNING: "care decision warning",
        DeadlineEvent.CARE_DECISION_BREACHED: "care decision target",
        DeadlineEvent.APPEAL_REVIEW_WARNING: "supervisor review warning",
        DeadlineEvent.APPEAL_REVIEW_BREACHED: "supervisor review target",
    }
    if event in named:
        return named[event] + hours
    return event.value.replace("_", " ")


def deadline_effect(case: CareCase, event: DeadlineEvent) -> str:
    """What happens when the clock for ``event`` runs out, in words."""
    if event is DeadlineEvent.PARTY_INACTIVE and isinstance(case, Dispute):
        silent = case.turn or Role.BUYER
        other = Role.SELLER if silent is Role.BUYER else Role.BUYER
        return f"the {silent} counts as inactive and the {other} may ask care for help"
    if event is DeadlineEvent.REMINDER and (reminder := case.next_reminder()) is not None:
        deadline = reminder[1]
        return f"the {deadline.party.value} is reminded to {deadline.action} by {at_minute(deadline.due_at)}"
    if event is DeadlineEvent.RECEIPT_DUE and isinstance(case, Dispute) and case.receipt_problem:
        return "care takes over the problem the buyer raised"
    if (
        event is DeadlineEvent.SHIPMENT_DUE
        and isinstance(case, Dispute)
        and case.next_shipper() is Role.BUYER
    ):
        if case.agreed_solution is not None and case.agreed_solution.kind is SolutionKind.RETURN_AND_REFUND:
            return "the buyer's claim lapses and the funds are released to the seller"
    return {
        DeadlineEvent.CARE_REPLY_WARNING: "care is warned that the reply target is near",
        DeadlineEvent.CARE_REPLY_BREACHED: "the reply target is breached and escalated",
        DeadlineEvent.QUIET_PERIOD_OVER: "the report closes",
        DeadlineEvent.CARE_DECISION_WARNING: "care is warned that the decision target is near",
        DeadlineEvent.CARE_DECISION_BREACHED: "the decision target is breached and escalated",
        DeadlineEvent.APPEAL_REVIEW_WARNING: "the supervisor is warned that the review target is near",
        DeadlineEvent.APPEAL_REVIEW_BREACHED: "the review target is breached and escalated",
        DeadlineEvent.SELLER_RESPONSE_DUE: "care takes over (escalated by the system)",
        DeadlineEvent.SHIPMENT_DUE: "care takes over (escalated by the system)",
        DeadlineEvent.RECEIPT_DUE: "receipt is confirmed by the system and the funds are released",
        DeadlineEvent.RETURN_INSPECTION_DUE: "the return is confirmed by the system and the refund is paid",
        DeadlineEvent.RETURN_TRANSIT_DUE: "care takes over (escalated by the system)",
        DeadlineEvent.DECISION_APPEAL_OVER: "care's decision is final and carried out",
        DeadlineEvent.USER_REPLY_DUE: "the report is solved by the system",
        DeadlineEvent.INFO_REQUEST_DUE: "the request for information expires; care's targets resume",
    }.get(event, "")


def _owner_lines(case: CareCase) -> list[str]:
    """Who owns the case in care (search attribute ``CareAssignee``) and its care group."""
    if case.assignee is None and case.care_group is None:
        return []
    group = f" · group {case.care_group}" if case.care_group else ""
    return [f"**Care owner:** {case.assignee or 'nobody'}{group}"]


def _clock_lines(case: CareCase, redact: bool) -> list[str]:
    """The next deadline and what happens then, the breaches so far, since when a breached reply
    is owed (no timer shows that), and parked effects (their reasons, free text from outside
    systems, unless ``redact``)."""
    lines = []
    if deadline := case.next_deadline():
        at, event = deadline
        name, effect = deadline_name(case, event), deadline_effect(case, event)
        lines.append(f"**Next deadline:** {at_minute(at)} ({name}): {effect}")
    if case.sla_breached:
        lines.append(f"**Care reply target breached** {case.sla_breaches} time(s)")
    if case.care_clock is not None and case.care_clock.breached:
        lines.append(f"**Care reply overdue** since {at_minute(case.care_clock.due_at)}")
    if isinstance(case, Dispute) and (decision := case.decision_clock) is not None and not decision.paused:
        late = "overdue since" if decision.breached else "due"
        lines.append(f"**Care decision {late}** {at_minute(decision.due_at)}")
    lines += _paused_lines(case, redact)
    for parked in case.attention:
        reason = "the reason is in the case's attention (API)" if redact else parked.reason
        lines.append(
            f"**Needs attention:** {parked.effect} ({parked.key}) parked since {at_minute(parked.since)}:"
            f" {reason}. Operators: retry it or record it as done by hand (docs/runbook.md)"
        )
    return lines


#: How on-call names each care target in the UI's details.
_TARGET_NAMES = {
    CareTarget.REPLY: "Care reply",
    CareTarget.DECISION: "Care decision",
    CareTarget.REVIEW: "Supervisor review",
}


def _paused_lines(case: CareCase, redact: bool) -> list[str]:
    """The care targets that wait and why: a party asked for information (until when), a report
    on hold (its reason unless ``redact``); and the calendar the targets count in."""
    lines = []
    for clock in case._care_clocks():
        if clock.paused and clock.remaining is not None:
            hours = " of business hours" if clock.business_hours else ""
            lines.append(
                f"**{_TARGET_NAMES[clock.target]} paused** with {short_duration(clock.remaining)}{hours} left"
            )
    for pause in case.pauses:
        if pause.kind is PauseKind.HOLD:
            reason = "(the reason is in the timeline)" if redact else pause.text
            lines.append(f"**On hold** since {at_minute(pause.since)}: {reason}")
        elif pause.due_at is not None:
            lines.append(
                f"**Information asked of the {pause.party.value}** until {at_minute(pause.due_at)}:"
                " care's targets resume when it answers or then"
            )
    if (calendar := case.policy.care_calendar) is not None and case._care_clocks():
        lines.append(f"**Business hours** {calendar.describe()}")
    return lines


def current_details(case: CareCase, *, redact: bool = False) -> str:
    """Markdown for the Temporal UI: status, whom the case waits for, the next deadline and its
    effect; ``redact`` keeps out free text (ids, statuses and amounts only)."""
    if isinstance(case, Dispute):
        return _dispute_details_now(case, redact)
    assert isinstance(case, Ticket)
    return _ticket_details_now(case, redact)


def _dispute_details_now(dispute: Dispute, redact: bool) -> str:
    lines = [
        f"**Status:** {dispute.status.value}",
        f"**Order:** {dispute.order_id} · buyer {dispute.buyer_id} · seller {dispute.seller_id}"
        f" · total {dispute.order_total}",
        f"**Requested:** {dispute.requested_solution.describe()}",
    ]
    if dispute.current_offer:
        kind = "appeal" if dispute.current_offer.appeal else "offer"
        lines.append(f"**Current {kind}:** {dispute.current_offer.solution.describe()}")
    waiting = {
        DisputeStatus.AWAITING_SELLER: "the seller: accept, offer another solution or appeal",
        DisputeStatus.AWAITING_BUYER: "the buyer: accept, reject or revise",
        DisputeStatus.IN_MEDIATION: "care: reply to the parties and decide a solution",
        DisputeStatus.DECIDED: "the parties: accept care's decision or appeal it once",
        DisputeStatus.DECISION_APPEALED: "a care supervisor: confirm or replace the appealed decision",
        DisputeStatus.AWAITING_FULFILMENT: _fulfilment_waits_for(dispute),
    }.get(dispute.status)
    if waiting:
        lines.append(f"**Waiting for:** {waiting}")
    lines += _owner_lines(dispute) + _clock_lines(dispute, redact)
    if dispute.linked_tickets:
        lines.append(f"**Help-center reports:** {', '.join(dispute.linked_tickets)}")
    if dispute.outcome:
        lines.append(f"**Outcome:** {dispute.outcome.decided_by}, {_outcome_text(dispute)}")
    return "\n\n".join(lines)


def _fulfilment_waits_for(dispute: Dispute) -> str:
    shipper = dispute.next_shipper()
    if dispute.return_in_transit():
        return "the returned item's delivery (the marketplace's delivery event) or the seller's inspection"
    if dispute.awaiting_inspection():
        return "the seller to inspect the returned item: confirm it or refuse it with a reason"
    if shipper is Role.BUYER:
        return "the buyer to ship the product back (tracking number)"
    if shipper is Role.SELLER:
        return "the seller to ship the items (tracking number)"
    if dispute.replacement_shipped() and dispute.received_at is None:
        return "the buyer to confirm receipt"
    return "the payouts to complete"


def _outcome_text(dispute: Dispute) -> str:
    outcome = dispute.outcome
    assert outcome is not None
    if outcome.status is DisputeStatus.CANCELLED:
        return "cancelled by the buyer"
    return f"refunded {outcome.refunded_to_buyer} to buyer, released {outcome.released_to_seller} to seller"


def _ticket_details_now(ticket: Ticket, redact: bool) -> str:
    waiting = {
        TicketStatus.AWAITING_CARE: "care: reply to the user",
        TicketStatus.AWAITING_USER: "the user (care has replied)",
        TicketStatus.SOLVED: "nothing: solved; a user message reopens it",
    }.get(ticket.status)
    lines = [
        f"**Status:** {ticket.status.value} · **Priority:** {ticket.priority.value}",
        f"**Topic:** {ticket.topic.value} · user {ticket.user_id} ({ticket.role.value})",
    ]
    if ticket.dispute_id:
        lines.append(f"**Linked dispute:** {ticket.dispute_id}")
    if waiting:
        lines.append(f"**Waiting for:** {waiting}")
    lines += _owner_lines(ticket) + _clock_lines(ticket, redact)
    return "\n\n".join(lines)
