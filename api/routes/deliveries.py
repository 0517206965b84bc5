"""``POST /v1/disputes/{id}/shipments/{tracking_number}/delivered``: the marketplace reports a
shipment delivered (the REST twin of the CloudEvent ``com.marketplace.shipment.delivered``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.cases import CasesDep
from domain.commands import Delivered
from domain.types import IDENTIFIER_PATTERN


class DeliveredBody(BaseModel):
    """When the carrier delivered the shipment."""

    model_config = ConfigDict(extra="forbid")

    delivered_at: AwareDatetime = Field(description="with a UTC offset; not in the future")


async def record_delivery(
    dispute_id: Annotated[str, Path(description="the dispute's id")],
    tracking_number: Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="the shipment's resi")],
    body: DeliveredBody,
    cases: CasesDep,
) -> JSONResponse:
    """Record a shipment of the dispute delivered (platform keys): a return's inspection window
    starts from it and a receipt window that started at sending is moved to count from it. A
    repeat changes nothing (200); an unknown tracking number is 404 and changes nothing."""
    delivery = Delivered(
        tracking_number=tracking_number, delivered_at=body.delivered_at, reported_by=cases.caller.name[:64]
    )
    return await cases.keyed(lambda: cases.record_delivery(dispute_id, delivery))
