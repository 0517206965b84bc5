"""The API answers with public models of its own, apart from the state (api/public.py).

An internal field of the aggregate renamed (here by loading the dispute rules with two internal
fields renamed, as a refactoring would) changes no response and no OpenAPI schema, and no field
that was only ever internal reaches a client."""

from __future__ import annotations

import json
import sys
import types
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.main import create_app
from api.public import DisputePublic, TicketPublic, public
from core.settings import Settings
from domain.commands import MakeOffer, Reject, RequestHelp
from domain.types import Actor, Role, Solution, SolutionKind
from tests.factories import T0, dispute_request

ROOT = Path(__file__).resolve().parent.parent
#: Fields of the state that were internal only: README.md, *Changes*, lists them as removed.
INTERNAL = {
    "policy",
    "done_by_hand",
    "care_clock",
    "decision_clock",
    "window",
    "reminded_for",
    "help_earned",
    "settling",
    "decision_round",
}
BUYER = Actor(role=Role.BUYER, id="b-1")
SELLER = Actor(role=Role.SELLER, id="s-1")


def _load(module_name: str, path: str, renames: dict[str, str]) -> types.ModuleType:
    """``path`` loaded as a module of its own, with each name in ``renames`` renamed throughout."""
    source = (ROOT / path).read_text()
    for old, new in renames.items():
        assert old in source, f"{old} is no longer in {path}: pick another internal field"
        source = source.replace(old, new)
    module = types.ModuleType(module_name)
    module.__dict__["__name__"] = module_name
    sys.modules[module_name] = module
    exec(compile(source, f"{path} (renamed)", "exec"), module.__dict__)
    return module


def _shown(dispute_module: Any, views_module: Any) -> dict[str, Any]:
    """A dispute taken through an offer, a rejection and a request for help, as a client reads it."""
    dispute = dispute_module.Dispute.open("dispute-o-1", dispute_request(), T0)
    for at, command in enumerate(
        [
            MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=500)),
            Reject(actor=BUYER, note="no"),
            RequestHelp(actor=SELLER, note="help"),
        ],
        start=1,
    ):
        dispute.apply(command, T0 + timedelta(hours=at))
    view = views_module.DisputeView.of(dispute, dispute.timeline)
    shown: dict[str, Any] = public(DisputePublic, view).model_dump(mode="json")
    return shown


def test_renaming_internal_fields_of_the_dispute_changes_no_response(monkeypatch: pytest.MonkeyPatch) -> None:
    import domain.dispute
    import domain.views

    document = json.dumps(create_app(Settings(api_keys={})).openapi(), sort_keys=True)
    before = _shown(domain.dispute, domain.views)
    assert before["status"] == "IN_MEDIATION" and before["proposals"], before

    renames = {"help_earned": "help_granted_to", "decision_round": "redecisions"}
    renamed = _load("renamed_dispute", "domain/dispute.py", renames)
    fields = renamed.Dispute.model_fields
    assert "help_granted_to" in fields and "help_earned" not in fields
    monkeypatch.setitem(sys.modules, "domain.dispute", renamed)
    renamed_views = _load("renamed_views", "domain/views.py", {})
    monkeypatch.delitem(sys.modules, "renamed_dispute")
    monkeypatch.delitem(sys.modules, "renamed_views")

    assert _shown(renamed, renamed_views) == before
    assert json.dumps(create_app(Settings(api_keys={})).openapi(), sort_keys=True) == document


def test_no_internal_field_reaches_a_client() -> None:
    document = create_app(Settings(api_keys={})).openapi()
    schemas = document["components"]["schemas"]
    assert not {"Dispute", "Ticket", "DisputeView", "TicketView"} & schemas.keys()
    for model in (DisputePublic, TicketPublic):
        properties = set(schemas[model.__name__]["properties"])
        assert not INTERNAL & properties, INTERNAL & properties
        assert {"id", "status", "allowed_actions", "deadlines", "timeline"} <= properties
    for path in ("/v1/disputes/{dispute_id}", "/v1/disputes/{dispute_id}/offers"):
        operation = document["paths"][path]["get" if path.endswith("}") else "post"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": "#/components/schemas/DisputePublic"}, answer


def test_a_solution_is_a_union_discriminated_by_kind() -> None:
    schemas = create_app(Settings(api_keys={})).openapi()["components"]["schemas"]
    solution = schemas["Solution"]
    assert solution["discriminator"]["propertyName"] == "kind"
    shapes = {ref["$ref"].rsplit("/", 1)[-1] for ref in solution["oneOf"]}
    assert shapes == {"RefundToBuyer", "ReleaseToSeller", "Exchange", "SendRemaining", "ReturnAndRefund"}
    assert "amount" in schemas["RefundToBuyer"]["required"]
    assert "amount" in schemas["ReturnAndRefund"]["required"]
    for other in shapes - {"RefundToBuyer", "ReturnAndRefund"}:
        assert schemas[other]["properties"]["amount"]["type"] == "null", other
