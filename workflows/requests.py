"""Keyed requests inside a case: an Idempotency-Key and the request's fingerprint, carried in the
update id, so a case runs each keyed request once, also across continue-as-new."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

#: How many keyed requests a case remembers (the oldest are forgotten first).
REQUEST_MEMORY = 1000
_PREFIX = "idem-"


@dataclass(frozen=True)
class RequestId:
    """A caller's hashed Idempotency-Key and the fingerprint of the request it was sent with."""

    key: str
    fingerprint: str

    def update_id(self) -> str:
        """The update id that carries this request to the case."""
        return f"{_PREFIX}{self.key}.{self.fingerprint}"

    @classmethod
    def parse(cls, update_id: str) -> RequestId | None:
        """The request an update id carries, if it carries one."""
        if not update_id.startswith(_PREFIX):
            return None
        key, _, fingerprint = update_id.removeprefix(_PREFIX).partition(".")
        return cls(key, fingerprint) if key and fingerprint else None

    @classmethod
    def current(cls) -> RequestId | None:
        """The request of the update being handled or validated now (inside a workflow)."""
        info = workflow.current_update_info()
        return cls.parse(info.id) if info is not None else None
