"""Visibility queries built from validated filters; values are never free text."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecution
from temporalio.common import SearchAttributeKey


def query(kind: str, filters: dict[SearchAttributeKey[Any], str | None]) -> str:
    """``CaseKind = 'kind' AND Key = 'value' ...`` for every filter that is set.

    Values come from enums or from identifiers restricted to [A-Za-z0-9._:-], so inlining them
    is safe; the callers validate them before they get here."""
    clauses = [f"CaseKind = '{kind}'"]
    clauses += [f"{key.name} = '{value}'" for key, value in filters.items() if value is not None]
    return " AND ".join(clauses)


async def executions(client: Client, visibility_query: str, limit: int) -> list[WorkflowExecution]:
    """The matching workflow executions, newest first."""
    return [execution async for execution in client.list_workflows(visibility_query, limit=limit)]


RowT = TypeVar("RowT", bound=BaseModel)


def row(model: type[RowT], execution: WorkflowExecution, columns: dict[str, SearchAttributeKey[Any]]) -> RowT:
    """One row of a list: the case's id, when it opened, and each column from its search attribute."""
    attrs = execution.typed_search_attributes
    values = {name: attrs.get(key) for name, key in columns.items()}
    return model.model_validate({"id": execution.id, "opened_at": execution.start_time, **values})
