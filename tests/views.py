"""Read-model rows for list tests and benchmarks: built from real case states (the domain opens
and drives them), written straight into ``case_views`` in bulk."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from domain.case import CareCase
from domain.commands import Command
from domain.kinds import DISPUTE, TICKET
from store.migrate import migrate
from store.schema import case_views
from tests.factories import T0, dispute_request, ticket_request
from tests.postgres import PostgresServer

#: The service databases list tests run on (a module's ``settings`` fixture is parametrized by them).
ENGINES = ["sqlite", "postgresql"]


def settings_on(request: pytest.FixtureRequest, task_queue: str, tmp_path: Path) -> Settings:
    """A test's settings on a SQLite file (``request.param == "sqlite"``) or on a new, migrated
    database of the session's PostgreSQL server."""
    base = Settings(task_queue=task_queue, data_dir=tmp_path, webhook_allow_private_hosts=True)
    if request.param == "sqlite":
        return base
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create_database("lists")
    migrate(url)
    return base.model_copy(update={"database_url": url})


def row_of(case: CareCase, version: int = 1, updated_at: datetime | None = None) -> dict[str, Any]:
    """The read-model row of ``case`` as the case's publish step writes it (columns + state)."""
    kind = "dispute" if case.id.startswith(DISPUTE.workflow_id("")) else "ticket"
    state = case.model_dump(mode="json")
    return {
        "case_id": case.id,
        "kind": kind,
        "version": version,
        "status": case.status,
        "closed": case.closed,
        "buyer_id": state.get("buyer_id"),
        "seller_id": state.get("seller_id"),
        "order_id": state.get("order_id"),
        "opened_at": case.opened_at,
        "updated_at": updated_at or case.opened_at,
        "next_deadline_at": case.next_deadline_at,
        "sla_breached": case.sla_breached,
        "needs_attention": case.needs_attention,
        "assignee": case.assignee,
        "care_group": case.care_group,
        "state": state,
    }


def dispute(n: int, opened_at: datetime, *steps: Command, **overrides: Any) -> dict[str, Any]:
    """The row of dispute number ``n`` (order o-<n>, buyer b-<n % 7>, seller s-<n % 5>) opened at
    ``opened_at`` and driven through ``steps`` an hour apart."""
    fields = {"order_id": f"o-{n}", "buyer_id": f"b-{n % 7}", "seller_id": f"s-{n % 5}"} | overrides
    case = DISPUTE.open(DISPUTE.workflow_id(fields["order_id"]), dispute_request(**fields), opened_at)
    for index, step in enumerate(steps, start=1):
        case.apply(step, opened_at + index * timedelta(hours=1))
    return row_of(case, version=1 + len(steps), updated_at=opened_at + len(steps) * timedelta(hours=1))


def ticket(n: int, opened_at: datetime, **overrides: Any) -> dict[str, Any]:
    """The row of report number ``n`` (user u-<n % 7>) opened at ``opened_at``."""
    fields = {"user_id": f"u-{n % 7}"} | overrides
    return row_of(TICKET.open(TICKET.workflow_id(f"r{n}"), ticket_request(**fields), opened_at))


def many_disputes(
    count: int, start: datetime = T0, step: timedelta = timedelta(seconds=1)
) -> list[dict[str, Any]]:
    """``count`` dispute rows opened ``step`` apart, built from one real opened dispute (cheap enough
    for 100,000): each its own id, order, parties, times and state."""
    template = dispute(0, start)
    rows = []
    for n in range(count):
        at = start + n * step
        order = f"o-{n}"
        case_id = DISPUTE.workflow_id(order)
        parties = {"buyer_id": f"b-{n % 97}", "seller_id": f"s-{n % 89}", "order_id": order}
        state = template["state"] | parties | {"id": case_id, "opened_at": at.isoformat()}
        rows.append(
            template | parties | {"case_id": case_id, "opened_at": at, "updated_at": at, "state": state}
        )
    return rows


async def insert(engine: AsyncEngine, rows: Iterable[dict[str, Any]], batch: int = 2000) -> None:
    """Write ``rows`` into ``case_views`` in bulk (executemany), as they are."""
    pending = list(rows)
    async with engine.begin() as connection:
        for first in range(0, len(pending), batch):
            await connection.execute(sa.insert(case_views), pending[first : first + batch])


async def touch(engine: AsyncEngine, case_ids: Iterable[str], at: datetime) -> None:
    """A change to each case: its version grows, its ``updated_at`` becomes ``at``."""
    async with engine.begin() as connection:
        await connection.execute(
            sa.update(case_views)
            .where(case_views.c.case_id.in_(list(case_ids)))
            .values(version=case_views.c.version + 1, updated_at=at)
        )
