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
    assert policy.buyer_inactivity == timedelta(days=3)
    assert policy.care_reply_target == timedelta(hours=24)
    assert policy.care_reply_warning == timedelta(hours=20)


def test_iso_durations_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPUTES_BUYER_INACTIVITY", "PT5S")
    monkeypatch.setenv("DISPUTES_CARE_REPLY_TARGET", "PT10S")
    monkeypatch.setenv("DISPUTES_CARE_REPLY_WARNING", "PT8S")
    policy = Settings().dispute_policy()
    assert (policy.buyer_inactivity, policy.care_reply_target, policy.care_reply_warning) == (
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
