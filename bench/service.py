"""Everything the benchmark knows about the service, in one place.

The rest of ``bench/`` is generic: it starts processes, drives load and reads Temporal history.
When the service changes how a step is shaped (workflow and update names, what an update
returns, how a case opens, which effects a step records), adapt this module only:

- how the worker and the API are started, and with which settings;
- the HTTP requests that open a dispute and send a message, and what a response tells;
- which outside effects a step records, and where they are read (the outbox);
- the SDK calls that drive ``DisputeWorkflow`` directly, without the API;
- which history events count as one message.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter

from core import search_attributes as sa
from core.settings import Settings
from domain.commands import SendMessage
from domain.dispute import Dispute, DisputeClaim, OpenDisputeInput
from domain.ids import dispute_workflow_id
from domain.types import DisputePolicy
from domain.views import dispute_details, dispute_summary
from store.files import sqlite_file
from workflows.base import Ack
from workflows.dispute import DisputeRun, DisputeWorkflow, dispute_search_attributes

ROOT = Path(__file__).resolve().parent.parent
#: The project's own top-level modules, to tell its code from libraries in a profile.
PACKAGES = {"activities", "api", "core", "domain", "store", "workflows", "worker", "scripts", "bench"}

# -- processes --------------------------------------------------------------------------------

API_KEY = "pk-bench-platform"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def dev_server_flags() -> list[str]:
    """The search attributes the service needs on a dev server (workflows hang without them)."""
    return sa.dev_server_flags()


def worker_command() -> list[str]:
    """The service's worker, as ``make run`` starts it."""
    return [sys.executable, str(ROOT / "worker.py")]


def api_command(port: int) -> list[str]:
    """The service's API, as ``make run`` starts it."""
    return [
        *(sys.executable, "-m", "uvicorn", "api.main:app"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
    ]


def service_env(
    base: dict[str, str],
    *,
    temporal_address: str,
    data_dir: Path,
    task_queue: str,
    metrics_port: int,
    inactivity: timedelta | None,
) -> dict[str, str]:
    """The environment of the worker and the API: settings as ``make run`` passes them."""
    env = {k: v for k, v in base.items() if not k.startswith(("TEMPORAL_", "DISPUTES_"))}
    env |= {
        "TEMPORAL_ADDRESS": temporal_address,
        "DISPUTES_DATA_DIR": str(data_dir),
        "DISPUTES_TASK_QUEUE": task_queue,
        "DISPUTES_WORKER_METRICS_PORT": str(metrics_port),
        "DISPUTES_API_KEYS": json.dumps({API_KEY: {"name": "bench", "role": "platform"}}),
        "DISPUTES_WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        # The load generator is one key polling at many requests a second (GET .../effects): the
        # per-key limit a hostile client meets (50/s) would measure the limit, not the service.
        "DISPUTES_RATE_LIMIT_PER_SECOND": "1000000",
        "DISPUTES_RATE_LIMIT_BURST": "1000000",
    }
    if inactivity is not None:
        env["DISPUTES_BUYER_INACTIVITY"] = f"PT{inactivity.total_seconds():g}S"
    return env


# -- the HTTP API -----------------------------------------------------------------------------

OPEN_PATH = "/v1/disputes"
OPENED = 201
BUYER = {"role": "buyer", "id": "b-bench"}


def claim(order_id: str) -> dict[str, Any]:
    """The body of ``POST /v1/disputes`` for one order."""
    return {
        "order_id": order_id,
        "buyer_id": BUYER["id"],
        "seller_id": "s-bench",
        "order_total": 150000,
        "reason": "NOT_RECEIVED",
        "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": 150000},
        "description": "The parcel never arrived",
    }


def message_path(case_id: str) -> str:
    """Where a party's message goes."""
    return f"/v1/disputes/{case_id}/messages"


def message(text: str) -> dict[str, Any]:
    """The body of a buyer's message (allowed in every open stage)."""
    return {"actor": BUYER, "text": text}


def case_path(case_id: str) -> str:
    """Where the whole case is read."""
    return f"/v1/disputes/{case_id}"


def effects_path(case_id: str) -> str:
    """Where a case's outside effects are listed."""
    return f"/v1/disputes/{case_id}/effects"


def case_id(opened: dict[str, Any]) -> str:
    """The case id in an open's response."""
    return str(opened["id"])


def inactivity_due_at(opened: dict[str, Any]) -> datetime:
    """When the party whose turn it is counts as inactive, from an open's response."""
    return datetime.fromisoformat(opened["response_due_at"])


def inactivity_marked_at(case: dict[str, Any]) -> datetime | None:
    """When the case recorded the inactivity on its timeline (the workflow's time), if it has."""
    for entry in case["timeline"]:
        if entry["event"] == "party_inactive":
            return datetime.fromisoformat(entry["at"])
    return None


# -- effects ----------------------------------------------------------------------------------

#: Outbox entries each step records: the open tells the seller; a message tells the other party.
EFFECTS_PER_OPEN = 1
EFFECTS_PER_MESSAGE = 1
#: On a case nobody acts on, the inactivity notice is its second effect (after the open's).
INACTIVITY_EFFECT = 2


def outbox_path(data_dir: Path) -> Path:
    """The service database (embedded SQLite) whose ``effects`` table is the outbox the worker
    records every effect in (what ``/effects`` lists)."""
    path = sqlite_file(Settings(data_dir=data_dir).store_url)
    assert path is not None, "the bench runs the embedded (SQLite) service database"
    return path


@dataclass(frozen=True)
class EffectRow:
    """One recorded effect: its order, its case, and when the worker recorded it."""

    seq: int
    case_id: str
    created_at: datetime


class EffectStore:
    """Reads new outbox rows through one connection, without writing (the worker owns the file)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = outbox_path(data_dir)
        self._db: aiosqlite.Connection | None = None

    async def after(self, seq: int) -> list[EffectRow]:
        """Every effect recorded after ``seq``, oldest first (none until the outbox exists)."""
        if self._db is None:
            if not self.path.exists():
                return []
            self._db = await aiosqlite.connect(self.path, timeout=30)
        try:
            cursor = await self._db.execute(
                "SELECT seq, case_id, created_at FROM effects WHERE seq > ? ORDER BY seq", (seq,)
            )
        except sqlite3.OperationalError:  # the worker has not created the table yet
            return []
        rows = await cursor.fetchall()
        return [EffectRow(row[0], row[1], _utc(row[2])) for row in rows]

    async def close(self) -> None:
        """Release the connection."""
        if self._db is not None:
            await self._db.close()
            self._db = None


def _utc(stored: str) -> datetime:
    """A time as the store keeps it in SQLite (UTC, written without its zone)."""
    moment = datetime.fromisoformat(stored)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# -- the SDK driving the workflow directly ----------------------------------------------------


async def sdk_client(address: str) -> Client:
    """A client with the service's data converter."""
    return await Client.connect(address, data_converter=pydantic_data_converter)


async def sdk_open(client: Client, task_queue: str, order_id: str) -> str:
    """Start the order's ``DisputeWorkflow`` as the API does, without the API; the case id."""
    claim_ = DisputeClaim.model_validate(claim(order_id))
    now = datetime.now(UTC)
    request = OpenDisputeInput(**claim_.model_dump(), policy=DisputePolicy(), opened_at=now)
    case = dispute_workflow_id(order_id)
    dispute = Dispute.open(case, request, now)
    await client.start_workflow(
        DisputeWorkflow.run,
        DisputeRun(open=request),
        id=case,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(k, v)
                for k, v in dispute_search_attributes(dispute).items()
                if v is not None
            ]
        ),
        static_summary=dispute_summary(claim_),
        static_details=dispute_details(request),
    )
    return case


async def sdk_message(client: Client, case: str, text: str) -> None:
    """Send one buyer message as the workflow update the API uses (named like the action)."""
    command = SendMessage.model_validate(message(text))
    await client.get_workflow_handle(case).execute_update(command.action, command, result_type=Ack)


# -- history ----------------------------------------------------------------------------------

MESSAGE_UPDATE = "message"


def is_message(event: HistoryEvent) -> bool:
    """True for the history event that marks one accepted message."""
    if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        return False
    accepted = event.workflow_execution_update_accepted_event_attributes
    return accepted.accepted_request.input.name == MESSAGE_UPDATE
