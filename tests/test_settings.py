"""Durations are settings read from the environment as ISO-8601 and copied into each case."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import FOR_NEW_CASES, SUPERVISORS_GROUP, Settings, env_name
from domain.ticket import TicketPolicy
from domain.types import DisputePolicy

ROOT = Path(__file__).resolve().parent.parent


def test_seed_values_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BUYER_INACTIVITY", "CARE_REPLY_TARGET", "CARE_REPLY_WARNING"):
        monkeypatch.delenv(f"DISPUTES_{name}", raising=False)
    policy = Settings().dispute_policy()
    assert policy.turn_inactivity == timedelta(days=3)
    assert policy.care_reply_target == timedelta(hours=24)
    assert policy.care_reply_warning == timedelta(hours=20)


def test_iso_durations_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPUTES_BUYER_INACTIVITY", "PT5S")
    monkeypatch.setenv("DISPUTES_CARE_REPLY_TARGET", "PT10S")
    monkeypatch.setenv("DISPUTES_CARE_REPLY_WARNING", "PT8S")
    policy = Settings().dispute_policy()
    assert (policy.turn_inactivity, policy.care_reply_target, policy.care_reply_warning) == (
        timedelta(seconds=5),
        timedelta(seconds=10),
        timedelta(seconds=8),
    )


def test_a_warning_after_the_target_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPUTES_CARE_REPLY_TARGET", "PT10S")
    monkeypatch.setenv("DISPUTES_CARE_REPLY_WARNING", "PT1M")
    with pytest.raises(ValidationError, match="care_reply_warning must be positive and shorter"):
        Settings()


def test_a_malformed_duration_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPUTES_BUYER_INACTIVITY", "three days")
    with pytest.raises(ValidationError, match="buyer_inactivity"):
        Settings()


def test_the_clocks_that_act_default_on_for_new_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SELLER_RESPONSE",
        "SHIPMENT_WINDOW",
        "RECEIPT_WINDOW",
        "CARE_DECISION_TARGET",
        "CARE_DECISION_WARNING",
        "DECISION_APPEAL_WINDOW",
        "TICKET_USER_WAIT",
        "REMINDER_LEAD",
        "RETURN_TRANSIT_WINDOW",
    ):
        monkeypatch.delenv(f"DISPUTES_{name}", raising=False)
    settings = Settings()
    policy = settings.dispute_policy()
    assert (policy.seller_response, policy.shipment_window, policy.receipt_window) == (
        timedelta(days=2),
        timedelta(days=3),
        timedelta(days=3),
    )
    assert (policy.care_decision_target, policy.care_decision_warning) == (
        timedelta(days=3),
        timedelta(days=2),
    )
    assert (policy.decision_appeal_window, policy.reminder_lead) == (timedelta(days=2), timedelta(hours=24))
    assert policy.return_transit_window == timedelta(days=14)
    assert DisputePolicy().return_transit_window is None  # a dispute opened before it: no transit clock
    assert (settings.ticket_policy().user_wait, settings.ticket_policy().reminder_lead) == (
        timedelta(days=7),
        timedelta(hours=24),
    )


def test_an_empty_value_turns_a_clock_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPUTES_SELLER_RESPONSE", "")
    monkeypatch.setenv("DISPUTES_DECISION_APPEAL_WINDOW", "")
    monkeypatch.setenv("DISPUTES_TICKET_USER_WAIT", "")
    monkeypatch.setenv("DISPUTES_RETURN_TRANSIT_WINDOW", "")
    settings = Settings()
    assert settings.dispute_policy().return_transit_window is None
    assert settings.dispute_policy().seller_response is None
    assert settings.dispute_policy().decision_appeal_window is None
    assert settings.ticket_policy().user_wait is None
    assert settings.dispute_policy().receipt_window == timedelta(days=3)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("DISPUTES_CARE_DECISION_WARNING", "P4D", "care_decision_warning must be positive and shorter"),
        ("DISPUTES_SELLER_RESPONSE", "PT0S", "seller_response"),
        ("DISPUTES_REMINDER_LEAD", "soon", "reminder_lead"),
    ],
)
def test_a_bad_clock_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, error: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=error):
        Settings()


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)


def test_the_policies_defaults_are_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # Declared once: a case opened under the default settings runs under the policy's own defaults,
    # with only the clocks that act turned on.
    _clear(monkeypatch)
    settings = Settings()
    clocks = {name: FOR_NEW_CASES[name] for name in DisputePolicy.model_fields if name in FOR_NEW_CASES}
    # ... and cases opened now move to the supervisors' group when a care target is missed.
    supervisors = {"care_supervisors_group": SUPERVISORS_GROUP}
    assert settings.dispute_policy() == DisputePolicy().model_copy(update=clocks | supervisors)
    assert settings.ticket_policy() == TicketPolicy().model_copy(
        update={
            "reminder_lead": FOR_NEW_CASES["reminder_lead"],
            "user_wait": FOR_NEW_CASES["ticket_user_wait"],
        }
        | supervisors
    )


def test_every_policy_field_is_a_documented_setting() -> None:
    # The settings are made of the policy's fields: renaming one in domain/ renames its variable,
    # which the README's table (and every deployment) would no longer match.
    table = (ROOT / "README.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(DISPUTES_[A-Z0-9_]+)`", table))
    policy = {*DisputePolicy.model_fields, *TicketPolicy.model_fields} - {"solved_quiet_period", "user_wait"}
    wanted = {"DISPUTES_TICKET_QUIET_PERIOD", "DISPUTES_TICKET_USER_WAIT"}
    wanted |= {env_name(name) for name in policy if name in Settings.model_fields}
    assert policy <= {*Settings.model_fields}
    assert wanted <= documented, sorted(wanted - documented)
    assert env_name("turn_inactivity") == "DISPUTES_BUYER_INACTIVITY"  # the setting kept its name


def test_a_policy_duration_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPUTES_MONEY_RETRY_WINDOW", "PT2H")
    monkeypatch.setenv("DISPUTES_TICKET_QUIET_PERIOD", "P1D")
    monkeypatch.setenv("DISPUTES_TICKET_USER_WAIT", "P2D")
    monkeypatch.setenv("DISPUTES_HISTORY_MAX_EVENTS", "500")
    settings = Settings()
    assert settings.dispute_policy().money_retry_window == timedelta(hours=2)
    assert settings.dispute_policy().history_max_events == 500
    ticket = settings.ticket_policy()
    assert (ticket.money_retry_window, ticket.solved_quiet_period, ticket.user_wait) == (
        timedelta(hours=2),
        timedelta(days=1),
        timedelta(days=2),
    )


def test_encrypted_payloads_keep_free_text_out_of_the_details(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    key = base64.b64encode(bytes(32)).decode()
    assert Settings().dispute_policy().redact_details is False
    assert Settings(payload_keys={"k1": key}).dispute_policy().redact_details is True
    assert Settings(payload_keys={"k1": key}).ticket_policy().redact_details is True
    monkeypatch.setenv("DISPUTES_PAYLOAD_KEYS", json.dumps({"k1": key}))
    monkeypatch.setenv("DISPUTES_REDACT_DETAILS", "false")
    with pytest.raises(ValidationError, match="redact_details cannot be off while payloads are encrypted"):
        Settings()


def test_care_groups_and_routing_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups and routing (a topic or reason to a group) are copied into each case's policy; a rule
    naming an unknown topic or group is refused at start-up; empty keeps breached cases in place."""
    monkeypatch.setenv("DISPUTES_CARE_GROUPS", '["payments", "logistics"]')
    monkeypatch.setenv("DISPUTES_CARE_ROUTING", '{"PAYMENT": "payments", "NOT_RECEIVED": "logistics"}')
    settings = Settings()
    assert settings.dispute_policy().care_routing == {"PAYMENT": "payments", "NOT_RECEIVED": "logistics"}
    assert settings.ticket_policy().care_groups == ["payments", "logistics"]
    assert settings.ticket_policy().care_supervisors_group == "supervisors"
    monkeypatch.setenv("DISPUTES_CARE_ROUTING", '{"PAYMENT": "payments", "*": "supervisors"}')
    assert Settings().care_routing["*"] == "supervisors"  # the supervisors' group is always known
    monkeypatch.setenv("DISPUTES_CARE_ROUTING", '{"PAYMENTS": "payments"}')
    with pytest.raises(ValidationError, match="no report topic or dispute reason"):
        Settings()
    monkeypatch.setenv("DISPUTES_CARE_ROUTING", '{"PAYMENT": "billing"}')
    with pytest.raises(ValidationError, match="not in care_groups"):
        Settings()
    monkeypatch.delenv("DISPUTES_CARE_ROUTING")
    monkeypatch.setenv("DISPUTES_CARE_SUPERVISORS_GROUP", "")
    assert Settings().dispute_policy().care_supervisors_group is None
