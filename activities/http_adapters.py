"""The adapters over HTTP: every effect is POSTed to the platform's endpoints, once per key.

This is the contract platform teams implement (``DISPUTES_EFFECTS=http``), relative to
``DISPUTES_EFFECTS_BASE_URL``; each body is the activity's input as JSON (amounts in rupiah)::

    POST {base}/refunds                   {"case_id", "party_id": buyer, "amount"}
    POST {base}/releases                  {"case_id", "party_id": seller, "amount"}
    POST {base}/notifications             {"case_id", "party", "party_id", "text", "category", "articles",
                                           "template", "params", "locale"}: ``text`` rendered from
                                          the template in the party's locale ("id" or "en")
    POST {base}/care-desk/mediations      {"case_id", "order_id", "buyer_id", "seller_id", "escalated_by"}
                                          answers {"case_ref": ...} (optional; else "med-<case_id>")
    POST {base}/care-desk/assignments     {"case_id", "case_ref"}
                                          answers {"assignee": ...} (optional; else "care-mediation")
    POST {base}/care-desk/reply-targets   {"kind": "CARE_REPLY_WARNING" | "CARE_REPLY_BREACHED",
                                           "case_id", "due_at", "summary"}

Every request carries ``Idempotency-Key: <case id>:<step>`` (e.g. ``dispute-o-1:refund_to_buyer``),
the same on every retry of the activity: the receiver must apply each key at most once and answer
a repeat with success, so a retry after a lost response never pays twice.

Every request is signed (``DISPUTES_EFFECTS_SIGNING_SECRET``, required in http mode)::

    Effect-Timestamp: <unix seconds of this attempt>
    Effect-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>\n<endpoint>\n<Idempotency-Key>\n" + body)>

where ``<endpoint>`` is the path under the base URL (``refunds``, ``care-desk/mediations``, ...).
The receiver recomputes it over the raw body, compares in constant time, refuses a timestamp more
than a few minutes off, and only then looks at the key: readable keys are safe because an outsider
cannot sign, so cannot claim a key first, move a body to another endpoint or pair it with another
key; a captured request replayed as is only repeats an applied key. With
``DISPUTES_EFFECTS_BEARER_TOKEN`` every request also carries ``Authorization: Bearer <token>``.

- 2xx: applied. The effect is then recorded in the local outbox as well (once per key), which
  stays the service's own view of what it sent: ``GET /v1/disputes/{id}/effects`` and the users'
  inboxes read it.
- 408, 409, 425, 429, 5xx, other non-2xx and transport errors: the activity fails and Temporal
  retries it with backoff (a ``Retry-After`` in seconds sets the next delay).
- Any other 4xx: the platform refused the request for good; the activity fails without retries
  (``ApplicationError`` of type ``EffectRejected``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.adapters import OutboxAdapters
from activities.models import (
    AssignInput,
    Assignment,
    MediationCase,
    MediationInput,
    NotifyInput,
    PayoutInput,
    ReplyTargetInput,
)
from domain.effects import EffectName
from store.outbox import Effect, Outbox

RETRYABLE_4XX = frozenset({408, 409, 425, 429})
"""Client errors that mean "not now" rather than "never": timeout, conflict, too early, too many."""

TIMEOUT_MARGIN = timedelta(seconds=2)
"""How much sooner than the activity's start-to-close timeout a request gives up, so an attempt
fails with the HTTP reason rather than being cut off by Temporal."""


TIMESTAMP_HEADER = "Effect-Timestamp"
SIGNATURE_HEADER = "Effect-Signature"


def effect_signature(secret: bytes, timestamp: int, endpoint: str, key: str, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 of ``"<timestamp>\n<endpoint>\n<key>\n" + body`` with the secret."""
    signed = f"{timestamp}\n{endpoint}\n{key}\n".encode() + body
    return "v1=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()


def effects_client(
    base_url: str, activity_timeout: timedelta, bearer_token: str | None = None
) -> httpx.AsyncClient:
    """The one HTTP client the adapters share, for the platform's effect endpoints."""
    if httpx.URL(base_url).scheme not in ("http", "https"):
        raise ValueError(f"the effects base URL must be http(s)://..., got {base_url!r}")
    timeout = max(activity_timeout - TIMEOUT_MARGIN, activity_timeout / 2)
    headers = {"Accept": "application/json"}
    if bearer_token:
        headers["Authorization"] = f"Bearer {bearer_token}"
    return httpx.AsyncClient(base_url=base_url, timeout=timeout.total_seconds(), headers=headers)


class HttpAdapters:
    """Payments, Notifier and CareDesk over HTTP; what was applied is also kept in the outbox."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        outbox: Outbox,
        signing_secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not signing_secret:
            raise ValueError("effect requests are signed: a signing secret is required")
        self.client = client
        self.record = OutboxAdapters(outbox)
        self.signing_secret = signing_secret
        self.clock = clock

    async def aclose(self) -> None:
        """Close the HTTP client (at worker shutdown)."""
        await self.client.aclose()

    async def refund_buyer(self, request: PayoutInput) -> Effect:
        """Refund the buyer through the platform's payments."""
        await self._post("refunds", request.idempotency_key, request)
        return await self.record.refund_buyer(request)

    async def release_to_seller(self, request: PayoutInput) -> Effect:
        """Release held funds to the seller through the platform's payments."""
        await self._post("releases", request.idempotency_key, request)
        return await self.record.release_to_seller(request)

    async def notify(self, request: NotifyInput) -> Effect:
        """Have the platform deliver a notification to one party."""
        await self._post("notifications", request.idempotency_key, request)
        return await self.record.notify(request)

    async def open_mediation(self, request: MediationInput) -> MediationCase:
        """Open the mediation case at the platform's care desk; its reference comes back."""
        reply = await self._post("care-desk/mediations", request.idempotency_key, request)
        derived = await self.record.open_mediation(request)
        case_ref = reply.get("case_ref")
        return MediationCase(case_ref=case_ref) if isinstance(case_ref, str) and case_ref else derived

    async def assign(self, request: AssignInput) -> Assignment:
        """Have the platform's care desk assign the case; the assignee comes back."""
        reply = await self._post("care-desk/assignments", request.idempotency_key, request)
        assignee = reply.get("assignee")
        return await self.record.assign(request, assignee if isinstance(assignee, str) else None)

    async def reply_target(self, kind: EffectName, request: ReplyTargetInput) -> Effect:
        """Tell the platform's care desk that a reply target is near or missed."""
        await self._post("care-desk/reply-targets", request.idempotency_key, request, kind=kind.recorded_as)
        return await self.record.reply_target(kind, request)

    async def _post(self, path: str, key: str, request: BaseModel, **extra: str) -> dict[str, Any]:
        """POST the input, signed, under its idempotency key; the JSON object answered (or {}) on 2xx."""
        body = json.dumps(
            {**extra, **request.model_dump(mode="json", exclude={"idempotency_key"})}, separators=(",", ":")
        ).encode()
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: effect_signature(self.signing_secret, timestamp, path, key, body),
        }
        try:
            response = await self.client.post(path, content=body, headers=headers)
        except httpx.TransportError as error:
            # Short and unchained: a long chain of connection errors outgrows the server's
            # failure size limit and on-call would read "Failure exceeds size limit" instead.
            reason = f"POST {path} ({key}) failed: {type(error).__name__}: {error}"[:500]
            raise ApplicationError(reason, type="EffectUnavailable") from None
        if response.is_success:
            try:
                reply = response.json() if response.content else {}
            except ValueError:
                reply = {}
            return reply if isinstance(reply, dict) else {}
        # The status goes into the message (which the case's timeline shows its parties and
        # operators); what the platform said stays in the failure's details (the UI, encrypted
        # with the payload codec) and the worker's log.
        what = f"POST {response.request.url.path} ({key}) answered {response.status_code}"
        detail = response.text[:300]
        if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX:
            raise ApplicationError(what, detail, type="EffectRejected", non_retryable=True)
        raise ApplicationError(
            what, detail, type="EffectUnavailable", next_retry_delay=_retry_after(response)
        )


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("Retry-After", "")
    return timedelta(seconds=int(value)) if value.isdigit() else None
