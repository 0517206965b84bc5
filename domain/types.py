"""Value types shared by every case: roles, actors, solutions, policies and identifiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema

from domain.calendar import BusinessCalendar

#: Business keys (order, buyer, seller, agent ids) end up in workflow ids and in visibility
#: queries, so they are restricted to characters that need no quoting anywhere.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
Identifier = Annotated[
    str,
    StringConstraints(pattern=IDENTIFIER_PATTERN),
    Field(description="1-64 characters: letters, digits, '.', '_', ':' or '-'", examples=["b-1"]),
]
#: What ``POST /v1/evidence`` hands out for each upload: ``ev-`` and 32 random hex digits.
EVIDENCE_REFERENCE_PATTERN = r"^ev-[0-9a-f]{32}$"


class CitesEvidence:
    """Marks a field whose references the citing party must be allowed to cite (see api/citations.py)."""


#: A reference to an evidence file held elsewhere; history holds references only. The API checks
#: the pattern and who may cite it before a case sees it; the type itself stays as lenient as the
#: histories already recorded (a stricter type would fail to replay them).
EvidenceRef = Annotated[
    str,
    StringConstraints(min_length=1, max_length=512),
    Field(
        description="a reference from POST /v1/evidence, uploaded by the citing party or cited on the case",
        examples=["ev-3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d"],
        # The schema states the form the API checks (api/citations.py); the type stays lenient.
        json_schema_extra={"pattern": EVIDENCE_REFERENCE_PATTERN},
    ),
]
EvidenceList = Annotated[list[EvidenceRef], Field(max_length=20), CitesEvidence()]


class CitesArticles:
    """Marks a field of Help Center article ids: each must be a published article (api/citations.py)."""


#: Help Center articles care cites in a reply (``art-`` ids from ``/v1/help/articles``). History
#: holds the ids only; the inbox shows each one's title and slug as they are when it is read.
ArticleList = Annotated[
    list[Identifier],
    Field(max_length=10, description="ids of published Help Center articles the reply cites"),
    CitesArticles(),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
#: The saved reply (macro) a care reply was filled from, recorded in its timeline entry. Set by
#: ``POST .../care/macros/{macro_id}/apply``; replies recorded before it existed have none.
MacroId = Annotated[
    Identifier | None,
    Field(description="the saved reply (macro) this reply was filled from, set when one is applied"),
]
Note = Annotated[str, StringConstraints(max_length=2000)]
#: A clock's length that may be turned off (``None``); when set it is positive.
OptionalDuration = Annotated[timedelta | None, Field(gt=timedelta(0))]


class Role(StrEnum):
    """Who acts on a case: a dispute's buyer or seller, a help-center report's user, care, a care
    supervisor (who reviews an appealed decision), or an operator (on-call staff repairing a case
    whose outside effect was refused)."""

    BUYER = "buyer"
    SELLER = "seller"
    CARE = "care"
    USER = "user"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"


class Actor(BaseModel):
    """The party performing an action, as named by the calling platform."""

    model_config = ConfigDict(frozen=True)

    role: Role
    id: Identifier


class SolutionKind(StrEnum):
    """The solutions the Resolution Center offers (Pusat Resolusi)."""

    REFUND_TO_BUYER = "REFUND_TO_BUYER"
    RELEASE_TO_SELLER = "RELEASE_TO_SELLER"
    EXCHANGE = "EXCHANGE"
    SEND_REMAINING = "SEND_REMAINING"
    RETURN_AND_REFUND = "RETURN_AND_REFUND"


#: The solutions that carry an amount: the rupiah refunded to the buyer (never above the total).
WITH_AMOUNT = (SolutionKind.REFUND_TO_BUYER, SolutionKind.RETURN_AND_REFUND)


class Solution(BaseModel):
    """A proposed or agreed solution; only a refund (with or without a return) carries an amount
    (integer rupiah)."""

    model_config = ConfigDict(frozen=True)

    kind: SolutionKind
    amount: int | None = Field(
        default=None,
        gt=0,
        le=10**15,
        description="rupiah; required for a refund (with or without a return) only",
    )

    @model_validator(mode="after")
    def _amount_matches_kind(self) -> Self:
        if self.kind in WITH_AMOUNT and self.amount is None:
            raise ValueError(f"amount is required for {self.kind}")
        if self.kind not in WITH_AMOUNT and self.amount is not None:
            raise ValueError(
                f"amount is only allowed for REFUND_TO_BUYER or RETURN_AND_REFUND, not {self.kind}"
            )
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Say in the schema what the validator enforces: one shape per ``kind``, discriminated by
        it, with an amount for a refund only (a client generated from the schema gets it right)."""
        return handler(TypeAdapter(SolutionShape).core_schema)

    def describe(self) -> str:
        """Say the solution in a few words for timelines and summaries."""
        if self.kind is SolutionKind.REFUND_TO_BUYER:
            return f"refund {self.amount} to buyer"
        if self.kind is SolutionKind.RETURN_AND_REFUND:
            return f"return the item, refund {self.amount} to buyer"
        return {
            SolutionKind.RELEASE_TO_SELLER: "release funds to seller",
            SolutionKind.EXCHANGE: "exchange the product",
            SolutionKind.SEND_REMAINING: "send the remaining items",
        }[self.kind]


class RefundToBuyer(BaseModel):
    """A refund of ``amount`` rupiah to the buyer (never above the order total)."""

    kind: Literal[SolutionKind.REFUND_TO_BUYER]
    amount: int = Field(gt=0, le=10**15, description="rupiah, at most the order total")


class ReleaseToSeller(BaseModel):
    """The funds are released to the seller."""

    kind: Literal[SolutionKind.RELEASE_TO_SELLER]
    amount: None = Field(default=None, description="no amount: the funds held for the order")


class Exchange(BaseModel):
    """The product is exchanged: the buyer ships it back, the seller ships a replacement."""

    kind: Literal[SolutionKind.EXCHANGE]
    amount: None = Field(default=None, description="no amount")


class SendRemaining(BaseModel):
    """The seller sends the items that were missing."""

    kind: Literal[SolutionKind.SEND_REMAINING]
    amount: None = Field(default=None, description="no amount")


class ReturnAndRefund(BaseModel):
    """The buyer ships the item back; once the seller confirms it (or stays silent past the
    inspection window) ``amount`` rupiah is refunded to the buyer, the rest released to the seller."""

    kind: Literal[SolutionKind.RETURN_AND_REFUND]
    amount: int = Field(gt=0, le=10**15, description="rupiah refunded once the return is confirmed")


#: The shapes ``Solution`` accepts, for its schema (``Solution`` itself stays one model, as the
#: histories already recorded hold it).
SolutionShape = Annotated[
    RefundToBuyer | ReleaseToSeller | Exchange | SendRemaining | ReturnAndRefund,
    Field(discriminator="kind"),
]


class ReplyPolicy(BaseModel):
    """The care reply target (1x24 hours in the seed) and when its warning fires, and the business
    hours care's targets count (round the clock without a calendar, as cases opened before it)."""

    care_reply_target: timedelta = timedelta(hours=24)
    care_reply_warning: timedelta = Field(
        default=timedelta(hours=20),
        description="how long after the reply clock starts the warning fires; below the target",
    )
    care_calendar: BusinessCalendar | None = Field(
        default=None,
        description='JSON: {"timezone": "Asia/Jakarta", "hours": {"mon": ["08:00", "17:00"], ...},'
        ' "holidays": "ID", "extra_holidays": ["2026-12-31"]}: care\'s targets count business time'
        " under it; unset: round the clock",
    )

    @model_validator(mode="after")
    def _warning_before_target(self) -> Self:
        if not timedelta(0) < self.care_reply_warning < self.care_reply_target:
            raise ValueError("care_reply_warning must be positive and shorter than care_reply_target")
        return self


#: Temporal's own hard limits on one run's history (the server terminates a run past them).
TEMPORAL_HISTORY_EVENTS = 51_200
TEMPORAL_HISTORY_BYTES = 50 * 1024 * 1024
#: The largest bounds a policy may set: a run continues as new at its bound, or at once at twice
#: it (``workflows/base.py``), so twice the ceiling stays below Temporal's limits with room for
#: the step that crosses it and the state carried into the next run.
HISTORY_EVENTS_CEILING = 25_000
HISTORY_BYTES_CEILING = 20 * 1024 * 1024


class CasePolicy(ReplyPolicy):
    """The durations and limits every case runs under, its effect activities' timeouts included."""

    activity_timeout: timedelta = timedelta(seconds=30)
    activity_max_retry_interval: timedelta = timedelta(minutes=1)
    money_retry_window: timedelta = Field(
        default=timedelta(days=1), description="how long a refund or release is retried before it parks"
    )
    care_desk_retry_window: timedelta = Field(
        default=timedelta(hours=12), description="how long a care desk call is retried before it parks"
    )
    publish_retry_window: timedelta = Field(
        default=timedelta(days=1), description="how long handing out a change is retried before it parks"
    )
    max_messages: int = Field(default=2000, ge=1, description="party messages a case accepts (409 above)")
    # No upper bound here: a policy recorded in a running case's input must still decode. The
    # settings refuse bounds above the ceilings, and the engine holds any policy to them
    # (``history_ceilings``).
    history_max_events: int = Field(
        default=10_000, ge=100, description="a run continues as new once its history has this many events"
    )
    history_max_bytes: int = Field(
        default=4 * 1024 * 1024, ge=64 * 1024, description="... or once its history is this large"
    )
    redact_details: bool = Field(
        default=False,
        description="the Temporal UI's details carry ids, statuses and amounts, never free text"
        " (set when payloads are encrypted; off for cases opened before)",
    )
    reminder_lead: OptionalDuration = Field(
        default=None,
        description="how long before a party's window closes it is reminded, once; None: no reminders",
    )
    info_request_window: timedelta = Field(
        default=timedelta(days=2),
        gt=timedelta(0),
        description="how long a party asked for information has to answer unless care says (due_in)",
    )
    info_request_max_window: timedelta = Field(
        default=timedelta(days=14),
        gt=timedelta(0),
        description="the longest due_in care may give a party asked for information",
    )
    # -- care ownership (domain/care.py): groups and routing, kept by the case as it opened -----
    care_groups: list[Identifier] = Field(
        default=[],
        max_length=100,
        description="the care groups a case may be assigned to (the supervisors' group always is one)",
    )
    care_supervisors_group: Identifier | None = Field(
        default=None,
        description="the group a case moves to when a care target is missed; None: it stays where it is"
        " (cases opened before groups existed)",
    )
    care_routing: dict[str, Identifier] = Field(
        default={},
        description="the group a case goes to when it reaches care, by report topic or dispute reason"
        " ('*': any other)",
    )


def history_ceilings(policy: CasePolicy) -> tuple[int, int]:
    """The history bounds a run keeps to: the policy's, never above the ceilings (a policy
    recorded before they were checked, or copied without validation, cannot pass them)."""
    return (
        min(policy.history_max_events, HISTORY_EVENTS_CEILING),
        min(policy.history_max_bytes, HISTORY_BYTES_CEILING),
    )


class DisputePolicy(CasePolicy):
    """Every duration a dispute runs under; copied into the workflow input when it opens.

    The clocks that act by themselves default to ``None`` (off): a dispute opened before they
    existed has none in its stored policy and keeps running exactly as it was opened. The
    settings turn them on for disputes opened now."""

    model_config = ConfigDict(validate_by_name=True)

    turn_inactivity: timedelta = Field(
        default=timedelta(days=3),
        # Disputes opened before the rename carry it as ``buyer_inactivity`` (the setting keeps
        # that name, DISPUTES_BUYER_INACTIVITY): both are read.
        validation_alias=AliasChoices("turn_inactivity", "buyer_inactivity"),
        description="silence of the party whose turn it is (buyer or seller) after which the other may ask"
        " for help",
    )
    seller_response: OptionalDuration = Field(
        default=None, description="the seller's turn after which care takes over by itself"
    )
    shipment_window: OptionalDuration = Field(
        default=None, description="how long the party who must ship has, after which care takes over"
    )
    receipt_window: OptionalDuration = Field(
        default=None,
        description="how long the buyer has after the last shipment before receipt is confirmed for it",
    )
    care_decision_target: OptionalDuration = Field(
        default=None, description="care owes a decision this long after the escalation"
    )
    care_decision_warning: OptionalDuration = Field(
        default=None, description="how long after the escalation care is warned; below the target"
    )
    decision_appeal_window: OptionalDuration = Field(
        default=None, description="how long care's decision may be appealed before it is carried out"
    )
    # Issue 20. Both are absent from the policy of a dispute opened before returns and delivery
    # events existed: such a dispute keeps its rules (no return, windows counted from sending).
    return_inspection_window: OptionalDuration = Field(
        default=None,
        description="how long the seller has to inspect a returned item once it is delivered, after which"
        " the return counts as confirmed and the refund is paid; None: no RETURN_AND_REFUND",
    )
    # Absent from disputes opened before it existed: their returns in transit wait without a clock.
    return_transit_window: OptionalDuration = Field(
        default=None,
        description="how long a returned item may be in transit (shipped back, no delivery known) before"
        " care takes over",
    )
    windows_from_delivery: bool = Field(
        default=False,
        description="a delivery the marketplace reports moves the receipt window to count from it",
    )

    @model_validator(mode="after")
    def _decision_warning_before_target(self) -> Self:
        target, warning = self.care_decision_target, self.care_decision_warning
        if target is not None and warning is not None and not timedelta(0) < warning < target:
            raise ValueError("care_decision_warning must be positive and shorter than care_decision_target")
        return self


def short_duration(value: timedelta) -> str:
    """Render a duration the way on-call staff say it: 3d, 24h, 90m, 8s."""
    seconds = int(value.total_seconds())
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def at_minute(moment: datetime) -> str:
    """A deadline as people read it: 2026-11-27 04:20 UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class CareTarget(StrEnum):
    """What care owes by a target: a reply, a decision in mediation, or a supervisor's review of an
    appealed decision. The values name the target's warning and breach (``<value>_warning``)."""

    REPLY = "care_reply"
    DECISION = "care_decision"
    REVIEW = "appeal_review"


class Then(StrEnum):
    """What happens when a deadline passes."""

    HELP_AVAILABLE = "other_party_may_ask_for_help"
    ESCALATED = "escalated_to_care"
    RECEIPT_CONFIRMED = "receipt_confirmed"
    RETURN_CONFIRMED = "return_confirmed_and_refunded"
    CLAIM_LAPSED = "claim_lapsed_funds_released"
    DECISION_CARRIED_OUT = "decision_carried_out"
    TARGET_BREACHED = "target_breached"
    SOLVED = "report_solved"
    CLOSED = "report_closed"
    TARGET_RESUMES = "care_target_resumes"


class Deadline(BaseModel):
    """A clock running now: who must do what by when, and what happens when it passes."""

    party: Role
    action: str = Field(
        description="what the party does to stop it: an action's name, or 'respond'; 'return_delivered':"
        " the marketplace reports the party's return delivered"
    )
    due_at: datetime
    then: Then
    business_hours: bool = Field(
        default=False, description="the clock counts business hours (care's targets under a calendar)"
    )
    paused: bool = False
    remaining: timedelta | None = None


class PausedDeadline(BaseModel):
    """A care target that waits (a party asked for information, a report on hold): no due time,
    only the time it has left when it counts again."""

    party: Role
    action: str
    due_at: None = None
    then: Then
    business_hours: bool = False
    paused: bool = True
    remaining: timedelta


class Locale(StrEnum):
    """The language a party reads its notices in: Indonesian by default, English on request."""

    ID = "id"
    EN = "en"


#: The locale of a party whose claim or report named none.
DEFAULT_LOCALE = Locale.ID


class EvidenceType(StrEnum):
    """What a piece of evidence shows, as its uploader says (care may ask a party for one type)."""

    PROOF_OF_DELIVERY = "PROOF_OF_DELIVERY"
    PROOF_OF_SHIPMENT = "PROOF_OF_SHIPMENT"
    PHOTO_OF_ITEM = "PHOTO_OF_ITEM"
    VIDEO_UNBOXING = "VIDEO_UNBOXING"
    RECEIPT = "RECEIPT"
    CONVERSATION = "CONVERSATION"
    OTHER = "OTHER"


#: The type of each evidence reference a request cites, read from its upload record: the API sets
#: it (a client's value is replaced) and the case keeps it, so it shows its evidence by type.
EvidenceTypes = Annotated[
    SkipJsonSchema[dict[str, EvidenceType]],
    Field(description="set by the API from the uploads (POST /v1/evidence); not part of a request"),
]
