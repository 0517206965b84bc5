"""Who is told what when a case moves: the notifications the workflows send."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from domain.case import DeadlineEvent
from domain.commands import CareReply, Command, Decide, RequestHelp
from domain.dispute import Dispute, DisputeStatus
from domain.ticket import Solve, Ticket, TicketReply
from domain.types import Role, short_duration


class NoticeCategory(StrEnum):
    """Care's replies land in the user's inbox (Pesan Bantuan); updates are plain notifications."""

    UPDATE = "update"
    CARE_REPLY = "care_reply"


class Notice(BaseModel):
    """A message for one party of a case."""

    party: Role
    party_id: str
    text: str
    category: NoticeCategory = NoticeCategory.UPDATE


def _to(dispute: Dispute, party: Role, text: str, category: NoticeCategory = NoticeCategory.UPDATE) -> Notice:
    party_id = dispute.buyer_id if party is Role.BUYER else dispute.seller_id
    return Notice(party=party, party_id=party_id, text=text, category=category)


def _both(dispute: Dispute, text: str, category: NoticeCategory = NoticeCategory.UPDATE) -> list[Notice]:
    return [_to(dispute, Role.BUYER, text, category), _to(dispute, Role.SELLER, text, category)]


def on_open(dispute: Dispute) -> list[Notice]:
    """The seller learns of the complaint (it appears in Pesanan Dikomplain)."""
    return [
        _to(
            dispute,
            Role.SELLER,
            f"Buyer {dispute.buyer_id} opened dispute {dispute.id} on order {dispute.order_id}"
            f" ({dispute.reason.value}) asking to {dispute.requested_solution.describe()}.",
        )
    ]


def on_command(dispute: Dispute, command: Command) -> list[Notice]:
    """After an action: care speaks to both parties; a party's action goes to the other one."""
    match command:
        case CareReply():
            return _both(
                dispute, f"Care replied on dispute {dispute.id}: {command.text}", NoticeCategory.CARE_REPLY
            )
        case Decide():
            decided = f"Care decided dispute {dispute.id}: {command.solution.describe()}. {command.note}"
            return _both(dispute, decided.strip(), NoticeCategory.CARE_REPLY)
        case RequestHelp():
            return _both(
                dispute,
                f"Dispute {dispute.id} is now mediated by care (requested by the"
                f" {command.actor.role.value}); care replies within"
                f" {short_duration(dispute.policy.care_reply_target)}.",
            )
    other = Role.SELLER if command.actor.role is Role.BUYER else Role.BUYER
    return [
        _to(
            dispute,
            other,
            f"The {command.actor.role.value} did '{command.action.value}' on dispute {dispute.id};"
            f" it is now {dispute.status.value}.",
        )
    ]


def on_deadline(dispute: Dispute, event: DeadlineEvent) -> list[Notice]:
    """When the party whose turn it is went silent, the other party learns it may ask for help."""
    if event is not DeadlineEvent.PARTY_INACTIVE or dispute.inactive_party is None:
        return []
    silent = dispute.inactive_party
    other = Role.SELLER if silent is Role.BUYER else Role.BUYER
    return [
        _to(
            dispute,
            other,
            f"The {silent.value} has not responded on dispute {dispute.id} for"
            f" {short_duration(dispute.policy.buyer_inactivity)}: you may now ask care for help"
            " (Minta Bantuan).",
        )
    ]


def on_close(dispute: Dispute) -> list[Notice]:
    """Both parties learn how a resolved dispute was settled (a cancel was told as an action)."""
    outcome = dispute.outcome
    if dispute.status is not DisputeStatus.RESOLVED or outcome is None:
        return []
    return _both(
        dispute,
        f"Dispute {dispute.id} is resolved: refunded {outcome.refunded_to_buyer} to the buyer,"
        f" released {outcome.released_to_seller} to the seller.",
    )


def _to_user(ticket: Ticket, text: str, category: NoticeCategory = NoticeCategory.UPDATE) -> Notice:
    return Notice(party=Role.USER, party_id=ticket.user_id, text=text, category=category)


def on_ticket_open(ticket: Ticket) -> list[Notice]:
    """The user learns the report arrived and when care replies at the latest."""
    return [
        _to_user(
            ticket,
            f"We received your report {ticket.id} ({ticket.topic.value}); care replies within"
            f" {short_duration(ticket.policy.care_reply_target)}.",
        )
    ]


def on_ticket_command(ticket: Ticket, command: Command) -> list[Notice]:
    """Care's replies go to the user's inbox; solving tells the user how to reopen."""
    match command:
        case TicketReply():
            return [_to_user(ticket, command.text, NoticeCategory.CARE_REPLY)]
        case Solve():
            return [
                _to_user(
                    ticket,
                    f"Care marked your report {ticket.id} solved. It closes in"
                    f" {short_duration(ticket.policy.solved_quiet_period)} unless you write again.",
                )
            ]
    return []


def on_ticket_close(ticket: Ticket) -> list[Notice]:
    """The user learns the report is closed."""
    return [_to_user(ticket, f"Your report {ticket.id} is closed.")]
