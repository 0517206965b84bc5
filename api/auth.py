"""Who is calling (Bearer API keys) and in whose name it may act or read."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SettingsDep
from api.problems import Problem
from core.settings import KeyRole
from domain.types import IDENTIFIER_PATTERN, Actor, Role

_bearer = HTTPBearer(auto_error=False, description="an API key from DISPUTES_API_KEYS")

_ACTS_AS = {
    KeyRole.PLATFORM: {Role.BUYER, Role.SELLER, Role.USER},  # the platform authenticated its user
    KeyRole.CARE: {Role.CARE},
    KeyRole.SUPERVISOR: {Role.CARE, Role.SUPERVISOR},  # a supervisor is a care agent who also reviews appeals
    KeyRole.ADMIN: {Role.OPERATOR},  # reads everything; repairs parked effects as an operator
}


@dataclass(frozen=True)
class Caller:
    """The holder of the API key of this request."""

    name: str
    role: KeyRole

    def authorize(self, actor: Actor) -> None:
        """403 unless this key may act in ``actor``'s role."""
        if actor.role not in _ACTS_AS[self.role]:
            raise Problem(
                403,
                "Forbidden",
                f"a {self.role.value} key ({self.name}) may not act as {actor.role.value}",
            )


CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


async def caller(settings: SettingsDep, credentials: CredentialsDep) -> Caller:
    """The caller of a ``/v1`` route; 401 without a valid ``Authorization: Bearer`` key."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("send Authorization: Bearer <api key>")
    presented = credentials.credentials.encode()
    found = None
    for key, holder in settings.api_keys.items():
        # Compare with every key, in constant time, so timing tells nothing about any of them.
        if hmac.compare_digest(key.encode(), presented):
            found = holder
    if found is None:
        raise _unauthorized("the API key is not valid")
    return Caller(name=found.name, role=found.role)


CallerDep = Annotated[Caller, Depends(caller)]


async def reading_as(
    caller: CallerDep,
    actor_role: Annotated[Role | None, Query(description="read as this party (filters and checks)")] = None,
    actor_id: Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)] = None,
) -> Actor | None:
    """The party a read is made for, when the caller names one; the key must be allowed to act so."""
    if actor_role is None and actor_id is None:
        return None
    if actor_role is None or actor_id is None:
        raise Problem(
            422,
            "Invalid input",
            "actor_role and actor_id go together",
            errors=[{"field": "actor_role" if actor_role is None else "actor_id", "reason": "required"}],
        )
    actor = Actor(role=actor_role, id=actor_id)
    caller.authorize(actor)
    return actor


ReadAsDep = Annotated[Actor | None, Depends(reading_as)]


def own_list(reader: Actor | None, listing: str, filters: dict[Role, str | None]) -> dict[Role, str | None]:
    """The party filters of a list read as ``reader``: its own id under its role.

    ``filters`` maps each role the list may be read as to the filter the caller gave for it. A
    party read in any other role is refused (422), and so is a filter naming another party (403):
    a party read never falls back to an unfiltered list."""
    if reader is None:
        return filters
    if reader.role not in filters:
        roles = " or ".join(role.value for role in filters)
        reason = f"{listing} cannot be read as {reader.role.value}" + (
            f"; read as {roles}" if roles else "; leave out actor_role and actor_id"
        )
        raise Problem(422, "Invalid input", reason, errors=[{"field": "actor_role", "reason": reason}])
    given = filters[reader.role]
    if given is not None and given != reader.id:
        raise Problem(
            403,
            "Not a party",
            f"{reader.role.value} {reader.id} may not read the {listing} of {given}",
        )
    return filters | {reader.role: reader.id}
