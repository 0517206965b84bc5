"""The outside effects a case causes, registered once each, beside the actions.

An effect is a call into the outside world that the case must see carried out: hand out a
change, archive a closed case, open a mediation on the care desk, pay a refund. Each kind is one
``EffectSpec``: its name (the one vocabulary: a parked effect, the outbox row, the metric label
and the idempotency key all use it), the lane it runs in, the activity that carries it out, how
its idempotency key is made, how long it is retried before it parks, and how an operator may
repair it once parked. The workflow's lanes run from the registry; the rules read the repairs
from it. A new kind of effect is one entry here plus one adapter method (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from domain.types import CasePolicy


class EffectName(StrEnum):
    """Every kind of outside effect, by one name.

    The value is the name a case uses (parked effects, keys, metrics); the member's name is how an
    outbox row records it (``GET /v1/disputes/{id}/effects`` answers ``kind`` with it, as before)."""

    PUBLISH = "publish"
    ARCHIVE = "archive"
    NOTIFICATION = "notification"
    MEDIATION_OPENED = "mediation"
    CARE_ASSIGNED = "care_assigned"
    REFUND_TO_BUYER = "refund_to_buyer"
    RELEASE_TO_SELLER = "release_to_seller"
    CARE_REPLY_WARNING = "care_reply_warning"
    CARE_REPLY_BREACHED = "care_reply_breached"
    CARE_DECISION_WARNING = "care_decision_warning"
    CARE_DECISION_BREACHED = "care_decision_breached"
    APPEAL_REVIEW_WARNING = "appeal_review_warning"
    APPEAL_REVIEW_BREACHED = "appeal_review_breached"

    @property
    def recorded_as(self) -> str:
        """How an outbox row names this effect (upper case, as the effects API has always said)."""
        return self.name


def _recorded(value: Any) -> Any:
    """An outbox row's kind, read by its recorded (upper-case) name or by the effect's name."""
    if isinstance(value, str) and value in EffectName.__members__:
        return EffectName[value]
    return value


#: An effect as an outbox row records it: read and written by its upper-case name.
RecordedEffect = Annotated[
    EffectName,
    BeforeValidator(_recorded),
    PlainSerializer(lambda effect: effect.recorded_as, return_type=str),
    WithJsonSchema({"type": "string", "enum": [effect.recorded_as for effect in EffectName]}),
]


class Lane(StrEnum):
    """Where an effect runs: each lane carries out one step at a time, in order, and never holds
    back the case's clocks or another lane."""

    PUBLISH = "publish"
    CARE = "care"
    MONEY = "money"
    CLOSE = "close"


class Repair(StrEnum):
    """How an operator (or care) mends a parked effect."""

    RETRY = "retry"
    BY_HAND = "by_hand"
    NEW_DECISION = "new_decision"


@dataclass(frozen=True)
class EffectSpec:
    """One registered kind of outside effect."""

    name: EffectName
    lane: Lane
    activity: str
    retry_window: Callable[[CasePolicy], timedelta]
    repairs: frozenset[Repair]
    stem: str

    def key(self, case_id: str, *parts: object) -> str:
        """The effect's idempotency key: the case, the stem, then what tells its runs apart."""
        return ":".join([case_id, self.stem, *(str(part) for part in parts)])

    def repaired_by(self, repair: Repair) -> bool:
        """Whether ``repair`` mends this effect once parked."""
        return repair in self.repairs


class EffectRegistry:
    """The effects of one kind of case, by name."""

    def __init__(self, kind: str, *specs: EffectSpec) -> None:
        self.kind = kind
        self._specs: dict[EffectName, EffectSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: EffectSpec) -> EffectSpec:
        """Add one kind of effect (one entry per name)."""
        if spec.name in self._specs:
            raise ValueError(f"{self.kind} already has an effect {spec.name.value!r}")
        self._specs[spec.name] = spec
        return spec

    def extended(self, kind: str, *specs: EffectSpec) -> EffectRegistry:
        """A registry for ``kind`` with these effects and ``specs`` besides."""
        return EffectRegistry(kind, *self, *specs)

    def __getitem__(self, name: EffectName) -> EffectSpec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[EffectSpec]:
        return iter(list(self._specs.values()))

    def lanes(self) -> list[Lane]:
        """The lanes this kind's effects run in, in ``Lane`` order."""
        used = {spec.lane for spec in self}
        return [lane for lane in Lane if lane in used]

    def repaired_by(self, name: EffectName, repair: Repair) -> bool:
        """Whether a parked ``name`` can be mended by ``repair`` (unknown effects: retry only)."""
        spec = self._specs.get(name)
        return spec.repaired_by(repair) if spec is not None else repair is Repair.RETRY


def effect(
    name: EffectName,
    lane: Lane,
    activity: str,
    retry_window: Callable[[CasePolicy], timedelta],
    repairs: set[Repair] | frozenset[Repair],
    stem: str | None = None,
) -> EffectSpec:
    """One registry entry (``stem``: the key's middle part, the effect's name unless given)."""
    return EffectSpec(
        name=name,
        lane=lane,
        activity=activity,
        retry_window=retry_window,
        repairs=frozenset(repairs),
        stem=stem or name.value,
    )


#: What an operator may do with most parked effects: retry it, or record it as done by hand.
BY_OPERATOR = frozenset({Repair.RETRY, Repair.BY_HAND})


def care_desk_window(policy: CasePolicy) -> timedelta:
    """How long a care desk call is retried before it parks."""
    return policy.care_desk_retry_window


def _target(name: EffectName, activity: str) -> EffectSpec:
    return effect(name, Lane.CARE, activity, care_desk_window, BY_OPERATOR)


#: What every kind of case causes: its changes handed out, its archive, its care targets' alerts.
#: Handing out a change and archiving can only be retried: no one can do them by hand.
CASE_EFFECTS = EffectRegistry(
    "case",
    effect(
        EffectName.PUBLISH, Lane.PUBLISH, "publish_change", lambda p: p.publish_retry_window, {Repair.RETRY}
    ),
    effect(EffectName.ARCHIVE, Lane.CLOSE, "archive_case", care_desk_window, {Repair.RETRY}),
    _target(EffectName.CARE_REPLY_WARNING, "warn_care_reply"),
    _target(EffectName.CARE_REPLY_BREACHED, "escalate_care_breach"),
    _target(EffectName.CARE_DECISION_WARNING, "warn_care_reply"),
    _target(EffectName.CARE_DECISION_BREACHED, "escalate_care_breach"),
    _target(EffectName.APPEAL_REVIEW_WARNING, "warn_care_reply"),
    _target(EffectName.APPEAL_REVIEW_BREACHED, "escalate_care_breach"),
)


def alert_effect(target: str, breached: bool) -> EffectName:
    """The effect of a care target's warning or breach (``target``: a ``CareTarget`` value)."""
    return EffectName(f"{target}_{'breached' if breached else 'warning'}")
