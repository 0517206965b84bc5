"""The custom search attributes on-call staff filter by; registered wherever a server starts."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

CASE_KIND = SearchAttributeKey.for_keyword("CaseKind")
DISPUTE_STATUS = SearchAttributeKey.for_keyword("DisputeStatus")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
BUYER_ID = SearchAttributeKey.for_keyword("BuyerId")
SELLER_ID = SearchAttributeKey.for_keyword("SellerId")
CARE_REPLY_DUE_AT = SearchAttributeKey.for_datetime("CareReplyDueAt")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
TICKET_STATUS = SearchAttributeKey.for_keyword("TicketStatus")
TICKET_TOPIC = SearchAttributeKey.for_keyword("TicketTopic")
CASE_PRIORITY = SearchAttributeKey.for_keyword("CasePriority")
USER_ID = SearchAttributeKey.for_keyword("UserId")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
NEXT_DEADLINE_AT = SearchAttributeKey.for_datetime("NextDeadlineAt")
CARE_DECISION_DUE_AT = SearchAttributeKey.for_datetime("CareDecisionDueAt")
#: The care agent who owns the case (domain/care.py); unset while nobody does.
CARE_ASSIGNEE = SearchAttributeKey.for_keyword("CareAssignee")

ALL: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    CASE_KIND,
    DISPUTE_STATUS,
    ORDER_ID,
    BUYER_ID,
    SELLER_ID,
    CARE_REPLY_DUE_AT,
    SLA_BREACHED,
    TICKET_STATUS,
    TICKET_TOPIC,
    CASE_PRIORITY,
    USER_ID,
    NEEDS_ATTENTION,
    NEXT_DEADLINE_AT,
    CARE_DECISION_DUE_AT,
    CARE_ASSIGNEE,
)

_CLI_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.BOOL: "Bool",
}


def dev_server_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPES[key.indexed_value_type]}"]
    return flags


async def register(client: Client) -> None:
    """Add any missing search attribute to the client's namespace (idempotent)."""
    namespace = client.namespace
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as error:
        if error.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()  # the time-skipping test server can add but not list
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in ALL
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
