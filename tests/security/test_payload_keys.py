"""Where every process finds the payload keys: DISPUTES_PAYLOAD_KEYS, else the data folder's
payload-keys.json (made once by ``make run`` and compose's ``payload-keys`` step)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.codec import new_key_file
from core.settings import PAYLOAD_KEYS_FILE, Settings


def test_without_the_setting_the_data_folders_keys_are_used(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).payload_keys == {}  # no file: no encryption
    path = new_key_file(tmp_path / "data")
    assert path == tmp_path / "data" / PAYLOAD_KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text())
    assert new_key_file(tmp_path / "data") == path and json.loads(path.read_text()) == keys  # made once
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.payload_keys == keys
    assert settings.dispute_policy().redact_details


def test_the_setting_wins_and_an_empty_one_turns_encryption_off(tmp_path: Path) -> None:
    new_key_file(tmp_path)
    assert Settings(data_dir=tmp_path, payload_keys={}).payload_keys == {}
    given = {"ops-1": "A" * 43 + "="}
    assert Settings(data_dir=tmp_path, payload_keys=given).payload_keys == given


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"k1": 5}', '{"k1": "c2hvcnQ="}', '{"bad id!": "' + "A" * 43 + '="}']
)
def test_a_broken_key_file_stops_start_up_naming_the_file_not_the_key(tmp_path: Path, content: str) -> None:
    (tmp_path / PAYLOAD_KEYS_FILE).write_text(content)
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path)
    assert str(tmp_path / PAYLOAD_KEYS_FILE) in str(refused.value)
    assert "c2hvcnQ=" not in str(refused.value)
