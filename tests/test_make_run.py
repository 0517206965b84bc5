"""`make run`'s launcher as a new user meets it: it starts, serves, stops on Ctrl-C, keeps cases."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from scripts.replay_check import OPEN_CASES, check
from tests.incompatible_dispute import ReorderedDisputeWorkflow
from wiring.temporal import WORKFLOWS, connect
from workflows.dispute import DisputeWorkflow

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def launch(data_dir: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DISPUTES_"))}
    env |= {
        "DISPUTES_DATA_DIR": str(data_dir),
        "DISPUTES_API_PORT": str(ports["api"]),
        "DISPUTES_DEV_SERVER_PORT": str(ports["temporal"]),
        "DISPUTES_DEV_UI_PORT": str(ports["ui"]),
        "DISPUTES_WORKER_METRICS_PORT": str(ports["metrics"]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + 90
    while "Press Ctrl-C" not in output:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"launcher exited early:\n{output}")
        output += line
        assert time.monotonic() < deadline, output
    return output


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    return rest


def loose_modes(data_dir: Path) -> dict[str, str]:
    """Everything in the data folder (itself included) that is not 0700 (folders) or 0600 (files)."""
    loose = {}
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            loose[str(path.relative_to(data_dir))] = oct(mode)
    return loose


def test_make_run_serves_stops_cleanly_and_keeps_cases_across_restarts(tmp_path: Path) -> None:
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port(), "metrics": free_port()}
    api = f"http://127.0.0.1:{ports['api']}"
    body = {
        "order_id": "o-restart",
        "buyer_id": "b-1",
        "seller_id": "s-1",
        "order_total": 90000,
        "reason": "DAMAGED",
        "requested_solution": {"kind": "EXCHANGE"},
        "description": "Cracked screen",
    }

    first = launch(tmp_path, ports)
    try:
        banner = wait_ready(first)
        assert f"{api}/docs" in banner
        assert f"http://127.0.0.1:{ports['ui']}" in banner
        assert httpx.get(f"{api}/health").json()["temporal"] == "ok"
        assert "temporal_" in httpx.get(f"http://127.0.0.1:{ports['metrics']}/metrics").text
        keys = json.loads((tmp_path / "api-keys.json").read_text())
        assert {holder["role"] for holder in keys.values()} == {"platform", "care", "supervisor", "admin"}
        platform_key = next(key for key, holder in keys.items() if holder["role"] == "platform")
        assert platform_key in banner  # printed with the URLs
        auth = {"Authorization": f"Bearer {platform_key}"}
        assert httpx.post(f"{api}/v1/disputes", json=body).status_code == 401
        opened = httpx.post(f"{api}/v1/disputes", json=body, headers=auth, timeout=30)
        assert opened.status_code == 201, opened.text
        # payloads are encrypted with keys made once, and the Web UI decrypts through the API
        payload_keys = json.loads((tmp_path / "payload-keys.json").read_text())
        assert stat.S_IMODE((tmp_path / "payload-keys.json").stat().st_mode) == 0o600
        ui_settings = httpx.get(f"http://127.0.0.1:{ports['ui']}/api/v1/settings", timeout=10).json()
        ui_codec = ui_settings["Codec"]["Endpoint"]
        assert ui_codec.startswith(f"{api}/codec/ui/")
        assert ui_codec.removeprefix(f"{api}/codec/ui/") not in banner  # the UI's token is not printed
        assert "Payloads:     encrypted" in banner
        # the UI decodes through its endpoint; a local curl that only sends the UI's Origin does not
        sealed: dict[str, list[object]] = {"payloads": []}
        origin = {"Origin": f"http://127.0.0.1:{ports['ui']}"}
        assert httpx.post(f"{api}/codec/decode", json=sealed, headers=origin).status_code == 401
        assert httpx.post(f"{ui_codec}/decode", json=sealed, headers=origin).status_code == 200
        evidence = {"actor_role": "buyer", "actor_id": "b-1"}
        pdf = {"file": ("r.pdf", b"%PDF-1.4\n%%EOF\n")}
        uploaded = httpx.post(f"{api}/v1/evidence", data=evidence, files=pdf, headers=auth, timeout=30)
        assert uploaded.status_code == 201, uploaded.text
        # The data folder holds keys, every case (the dev server's database), the service
        # database and evidence: all of it is this user's alone, whatever the umask.
        assert loose_modes(tmp_path) == {}
    finally:
        farewell = stop(first)
    assert first.returncode == 0, farewell
    assert "Stopped the API, the workers and the Temporal server." in farewell
    assert (tmp_path / "temporal.sqlite3").exists()
    assert loose_modes(tmp_path) == {}
    # What an older version left readable is made private again at the next start.
    for path in (tmp_path, tmp_path / "evidence", tmp_path / "temporal.sqlite3", tmp_path / "api-keys.json"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", ports["api"])) != 0, "the API is still listening"

    second = launch(tmp_path, ports)
    try:
        wait_ready(second)
        assert loose_modes(tmp_path) == {}
        assert json.loads((tmp_path / "api-keys.json").read_text()) == keys  # created once, kept
        assert json.loads((tmp_path / "payload-keys.json").read_text()) == payload_keys
        kept = httpx.get(f"{api}/v1/disputes/dispute-o-restart", headers=auth, timeout=30)
        assert kept.status_code == 200
        assert kept.json()["status"] == "AWAITING_SELLER"
        assert httpx.post(f"{api}/v1/disputes", json=body, headers=auth, timeout=30).status_code == 200
    finally:
        stop(second)
    assert second.returncode == 0


def replay_check(
    ports: dict[str, int], data_dir: Path, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``make replay-check`` from another shell: the stack's Temporal address and data folder, and
    no payload keys in the environment (``make run`` keeps them in the data folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DISPUTES_"))}
    env |= {"TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}", "DISPUTES_DATA_DIR": str(data_dir)}
    env |= extra or {}
    command = [sys.executable, "-m", "scripts.replay_check"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_replay_check_reads_make_runs_keys_and_catches_an_incompatible_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: every encrypted case of a ``make run`` stack "would break" (Unknown payload encoding
    binary/encrypted), whatever the change."""
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port(), "metrics": free_port()}
    api = f"http://127.0.0.1:{ports['api']}"
    stack = launch(tmp_path, ports)
    try:
        wait_ready(stack)
        keys = json.loads((tmp_path / "api-keys.json").read_text())
        platform = next(key for key, holder in keys.items() if holder["role"] == "platform")
        auth = {"Authorization": f"Bearer {platform}"}
        orders = ["o-replay-1", "o-replay-2"]
        for order in orders:
            body = {
                "order_id": order,
                "buyer_id": "b-1",
                "seller_id": "s-1",
                "order_total": 90000,
                "reason": "DAMAGED",
                "requested_solution": {"kind": "EXCHANGE"},
                "description": "Cracked screen",
            }
            assert httpx.post(f"{api}/v1/disputes", json=body, headers=auth, timeout=30).status_code == 201
        offer = {
            "actor": {"role": "seller", "id": "s-1"},
            "solution": {"kind": "REFUND_TO_BUYER", "amount": 45000},
        }
        offered = httpx.post(
            f"{api}/v1/disputes/dispute-o-replay-1/offers", json=offer, headers=auth, timeout=30
        )
        assert offered.status_code == 200, offered.text

        async def listed() -> int:
            client = await connect(settings=Settings(data_dir=tmp_path))
            return len([w async for w in client.list_workflows(OPEN_CASES)])

        monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{ports['temporal']}")
        deadline = time.monotonic() + 30
        while asyncio.run(listed()) < len(orders):  # visibility catches up with the starts
            assert time.monotonic() < deadline, "the open cases never became visible"
            time.sleep(0.5)

        async def stored_encoding() -> bytes:
            client = await connect(settings=Settings(data_dir=tmp_path))
            history = await client.get_workflow_handle("dispute-o-replay-1").fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            return started.input.payloads[0].metadata["encoding"]

        assert asyncio.run(stored_encoding()) == b"binary/encrypted"  # the server holds ciphertext

        # what the check did before (keys from DISPUTES_PAYLOAD_KEYS only): every case "breaks"
        keyless = replay_check(ports, tmp_path, {"DISPUTES_PAYLOAD_KEYS": "{}"})
        assert keyless.returncode == 1
        assert "Unknown payload encoding" in keyless.stderr

        compatible = replay_check(ports, tmp_path)
        assert compatible.returncode == 0, compatible.stdout + compatible.stderr
        assert f"replayed {len(orders)} open case(s)" in compatible.stdout
        assert ": 0 would break" in compatible.stdout
        assert "Unknown payload encoding" not in compatible.stderr

        # the same check against a deliberately incompatible workflow: every case is caught
        changed = [ReorderedDisputeWorkflow, *(w for w in WORKFLOWS if w is not DisputeWorkflow)]
        checked, failed = asyncio.run(check(settings=Settings(data_dir=tmp_path), workflows=changed))
        assert (checked, failed) == (len(orders), len(orders))
    finally:
        stop(stack)
    assert stack.returncode == 0
