"""Durations are settings read from the environment as ISO-8601 and copied into each case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from core.settings import Settings


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
    assert (settings.ticket_policy().user_wait, settings.ticket_policy().reminder_lead) == (
        timedelta(days=7),
        timedelta(hours=24),
    )


def test_an_empty_value_turns_a_clock_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPUTES_SELLER_RESPONSE", "")
    monkeypatch.setenv("DISPUTES_DECISION_APPEAL_WINDOW", "")
    monkeypatch.setenv("DISPUTES_TICKET_USER_WAIT", "")
    settings = Settings()
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
