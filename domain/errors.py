"""Business errors raised by the rules; the workflow and the API translate them, nothing else."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the rules refuse; ``code`` names the kind for every layer above."""

    code = "DomainError"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotAParty(DomainError):
    """The actor is not this case's buyer, seller or user, or acts in a role it may not take."""

    code = "NotAParty"


class InvalidTransition(DomainError):
    """The action is not allowed in the case's current state; details say what is allowed now."""

    code = "InvalidTransition"


class InvalidInput(DomainError):
    """The request is well-formed but breaks a rule of this case (e.g. a refund above the total)."""

    code = "InvalidInput"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


class LimitReached(DomainError):
    """The case has reached a limit of its policy (e.g. its number of messages)."""

    code = "LimitReached"


class UnknownShipment(DomainError):
    """A delivery names a tracking number no shipment of the case has (refused, nothing changed)."""

    code = "UnknownShipment"
