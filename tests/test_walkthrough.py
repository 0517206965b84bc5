"""The README's walk-through, run as a new user runs it: its shell blocks, in order, against `make run`.

Every ```sh block from "Walk-through" to the end of the codec section runs, except those that
start the service themselves (a command line with ``make run``): the script is the README's text with
only ``API=`` pointed at this test's port. What each block prints is checked against what the
README's comments promise, so a step that stops working fails here instead of surprising a reader.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_make_run import ROOT, free_port, launch, stop, wait_ready

README = ROOT / "README.md"
FIRST, LAST = "## Walk-through", "## Observability"
MARK = "### block"


def walkthrough_blocks() -> list[str]:
    """The runnable ```sh blocks of the walk-through and the integration guide, in order."""
    text = README.read_text()
    section = text[text.index(FIRST) : text.index(LAST)]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    return [block for block in blocks if not re.search(r"^[^#\n]*\bmake run\b", block, flags=re.MULTILINE)]


def run_script(blocks: list[str], api: str, cwd: Path, temporal: str) -> dict[int, str]:
    """Run the blocks as one bash script that stops at the first failing command; each block's output.

    Without ``pipefail``: ``grep -m1`` closing its pipe early is how the README reads, not a failure."""
    # The README waits a moment (`sleep 2`) where work happens in the background; on a busy CI
    # machine that moment is longer, so every such wait is tripled here.
    slower = 'sleep() { command sleep "$(( $1 * 3 ))"; }\n'
    script = "set -e\n" + slower + "".join(f"echo '{MARK} {n}'\n{block}" for n, block in enumerate(blocks))
    script = re.sub(r"^API=http://127\.0\.0\.1:8000$", f"API={api}", script, count=1, flags=re.MULTILINE)
    assert f"API={api}" in script, "the walk-through no longer sets API= first"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DISPUTES_"))}
    env |= {"TEMPORAL_ADDRESS": temporal, "PATH": f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    stopped = f"the walk-through stopped (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, stopped
    parts = re.split(rf"^{MARK} (\d+)$", done.stdout, flags=re.MULTILINE)
    return {int(number): output.lstrip("\n") for number, output in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.fixture
def walkthrough(tmp_path: Path) -> dict[int, str]:
    """Start `make run`'s launcher with its data in ``./data`` and run the walk-through there."""
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port(), "metrics": free_port()}
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    service = launch(tmp_path / "data", ports)
    try:
        wait_ready(service)
        api, temporal = f"http://127.0.0.1:{ports['api']}", f"127.0.0.1:{ports['temporal']}"
        return run_script(walkthrough_blocks(), api, tmp_path, temporal)
    finally:
        farewell = stop(service)
        assert service.returncode == 0, farewell


def test_the_readme_walkthrough_does_what_its_comments_say(walkthrough: dict[int, str]) -> None:
    blocks = walkthrough_blocks()

    def printed_by(command: str) -> str:
        """What the one block that contains ``command`` printed."""
        (number,) = (n for n, block in enumerate(blocks) if command in block)
        return walkthrough[number]

    dispute = printed_by("/v1/disputes/dispute-o-1/offers")
    # opened; the same order again is 200; a message sent twice with one key is there once
    assert '"status": "AWAITING_SELLER"' in dispute and '"then": "escalated_to_care"' in dispute
    assert re.search(r"^200$", dispute, flags=re.MULTILINE), dispute
    assert re.search(r"^1\n1$", dispute, flags=re.MULTILINE), dispute
    # a transition the state does not allow: 409 with what is allowed now
    assert '"status": 409' in dispute and '"allowed_actions"' in dispute, dispute
    for status in ("AWAITING_BUYER", "IN_MEDIATION", "DECIDED", "DECISION_APPEALED", "RESOLVED"):
        assert f'"status": "{status}"' in dispute, (status, dispute)
    assert '"action": "review_decision"' in dispute, dispute
    assert "refund 100000 to buyer b-1" in dispute and "release 50000 to seller s-1" in dispute, dispute

    returned = printed_by("/v1/disputes/dispute-o-5/return/confirm")
    # the buyer's shipment window, the transit window, the seller's inspection from the delivery
    assert '{"party":"buyer","action":"ship","then":"claim_lapsed_funds_released"}' in returned, returned
    assert '{"party":"buyer","action":"return_delivered","then":"escalated_to_care"}' in returned, returned
    assert '{"party":"seller","action":"confirm_return","then":"return_confirmed_and_refunded"}' in returned
    assert re.search(r"^404$", returned, flags=re.MULTILINE), returned
    assert "REFUND_TO_BUYER 90000\nRELEASE_TO_SELLER 10000" in returned, returned

    report = printed_by("/v1/tickets/$TICKET/solve")
    assert report.startswith("care-ticket-"), report
    assert '"text": "The duplicate charge is refunded",\n  "read": false' in report, report
    assert re.search(r"^true$", report, flags=re.MULTILINE), report  # marked read
    assert '"status": "SOLVED"' in report, report

    help_center = printed_by("/v1/help/stats")
    assert '["REFUNDS",' in help_center and '["ACCOUNT_SECURITY",' in help_center, help_center
    assert '"searched": [\n    "kembali",\n    "dana"\n  ]' in help_center, help_center
    assert "<mark>dikembalikan</mark>" in help_center, help_center
    assert '"viewed_articles": [\n    "art-' in help_center, help_center
    # care's reply cites the article the user read: the inbox item names it by slug and title
    assert re.search(
        r'"articles":\[\{"id":"art-[0-9a-f]{12}","slug":"[^"]+","title":"[^"]+"\}\]', help_center
    ), help_center
    assert '"query": "kapal selam"' in help_center and '"helpful_ratio": 0' in help_center, help_center
    assert re.search(r"^404$", help_center, flags=re.MULTILINE), help_center  # a draft, to a platform key
    assert "<strong>Daftar Transaksi</strong>" in help_center and "alert(1)" not in help_center, help_center
    assert '{"version":2,"changed":["status"],"changed_by":"local-care"}' in help_center, help_center

    care = printed_by("/care/macros/$MACRO/apply")  # a private note; a saved reply applied
    assert "courier lost it" in care and re.search(r"^403$", care, flags=re.MULTILINE), care
    assert '"field":"text"' in care and "{nama}" in care, care
    assert re.search(
        r'"status":"SOLVED","reply":\{"text":"Halo b-7, laporan care-ticket-\w+ sudah selesai.",'
        r'"macro_id":"mac-',
        care,
    ), care

    auth = printed_by("may not act as care")
    assert auth.splitlines() == [
        "401",
        '"Not a party"',
        '"dispute-o-1"',
        '"disputes cannot be read as user; read as buyer or seller"',
        '"a platform key (local-platform) may not act as care"',
    ], auth

    hooks = printed_by("Nothing listens on port 9999")
    assert '"secret": "whsec_' in hooks and '"event_type":"ticket.opened"' in hooks, hooks
    assert '"delivered":false' in hooks, hooks  # refused connections are retried, not lost
    assert '"previous_secret_expires_at": "' in printed_by("rotate-secret")
    assert printed_by("/enable").startswith('"active"')

    events = printed_by("/v1/events")
    assert events.count('"status":"accepted"') == 4, events
    assert '{"event":"message","detail":null}' in events, events  # once: the repeat was a duplicate
    assert "buyer may not confirm_receipt" in events, events

    evidence = printed_by("receipt.pdf")
    assert evidence.startswith("200 application/pdf"), evidence
    assert '"field":"attachments.0"' in evidence and "no evidence uploaded by user u-9" in evidence, evidence

    # The Temporal CLI reads the encrypted history through the API's codec server.
    assert "The parcel never arrived" in printed_by("--codec-endpoint"), walkthrough
