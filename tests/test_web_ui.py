"""The Temporal Web UI shows a dispute in mediation the way on-call reads it (headless Chromium).

The dev server of this module serves the Web UI; the dispute is opened and driven through the API,
then Chromium (the Debian package, never a Playwright download) opens the workflow page and checks
the static summary and details, the current details and the search attributes. The screenshot it
saves (with UPDATE_SCREENSHOTS=1, `make screenshots`) is the one the README shows."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Locator, Page, ViewportSize, async_playwright, expect
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core import binaries
from core import search_attributes as sa
from core.settings import Settings
from domain.dispute import DisputeClaim
from domain.views import dispute_summary
from tests.support import BUYER, SELLER, claim, eventually, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
ROOT = Path(__file__).resolve().parent.parent
# The README's picture is refreshed on purpose (make screenshots), not by every test run.
SCREENSHOT = (
    ROOT / "docs" / "images" / "temporal-ui-dispute.png"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else ROOT / "tests" / "artifacts" / "temporal-ui-dispute.png"
)
UI_TIMEOUT_MS = 15_000  # the UI is a single-page app: every check waits for its content up to this

# The README walk-through's dispute; the dev server below is this module's own, so the id is free.
ORDER = "o-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Debian package's Chromium; CI must have it (``.ci/run`` installs it), elsewhere skip."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium (the Debian package) to run the UI test"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return str(CHROMIUM)


@pytest.fixture(scope="module")
async def ui_env(chromium: str) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    """A dev server of this module's own, with the Web UI on a free port, and the UI's base URL."""
    ui_port = _free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binaries.temporal_cli(),
        search_attributes=sa.ALL,
        data_converter=pydantic_data_converter,
        ui=True,
        ui_port=ui_port,
    )
    yield env, f"http://127.0.0.1:{ui_port}"
    await env.shutdown()


async def _open_dispute_in_mediation(api: httpx.AsyncClient) -> dict[str, Any]:
    """Open the dispute as the buyer, the seller offers a partial refund, the buyer asks care for help."""
    opened = await api.post("/v1/disputes", json=claim(ORDER))
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    offered = await api.post(
        f"/v1/disputes/{dispute_id}/offers",
        json={
            "actor": SELLER,
            "solution": {"kind": "REFUND_TO_BUYER", "amount": 50000},
            "note": "Half the items arrived",
        },
    )
    assert offered.json()["status"] == "AWAITING_BUYER", offered.text
    helped = await api.post(
        f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER, "note": "Nothing arrived at all"}
    )
    assert helped.json()["status"] == "IN_MEDIATION", helped.text

    async def mediation_opened() -> dict[str, Any] | None:
        state: dict[str, Any] = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        return state if state["mediation_case_ref"] else None

    # Once care has the case the workflow waits on its timers: the page shows a settled state.
    settled: dict[str, Any] = await eventually(mediation_opened)
    return settled


def _markdown(page: Page, frame_id: str) -> Locator:
    """The body of one of the User Metadata tab's rendered-markdown frames."""
    return page.frame_locator(f"iframe#{frame_id}").locator("body")


async def _search_attributes(page: Page) -> dict[str, Any]:
    """The Search Attributes tab's JSON document, parsed."""
    editor = page.get_by_role("textbox", name="Search Attributes")
    await expect(editor).to_contain_text('"DisputeStatus"', timeout=UI_TIMEOUT_MS)
    document: dict[str, Any] = json.loads(await editor.inner_text())
    return document


async def _compose(page: Page, top: bytes, bottom: bytes, bottom_left: float, background: str) -> None:
    """One picture for the README: the User Metadata tab, and under it the Search Attributes panel
    (two tabs of the same page, so they cannot be captured at once)."""

    def src(png: bytes) -> str:
        return "data:image/png;base64," + base64.b64encode(png).decode()

    await page.set_content(
        f'<body style="margin:0;background:{background}">'
        f'<img style="display:block" src="{src(top)}">'
        f'<div style="border-top:1px solid #d4d4d8;padding:0 0 24px {bottom_left}px">'
        f'<img style="display:block" src="{src(bottom)}"></div>'
        "</body>"
    )
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOT, full_page=True)


async def test_web_ui_shows_summary_current_details_and_search_attributes_of_a_mediation(
    ui_env: tuple[WorkflowEnvironment, str], chromium: str, task_queue: str, tmp_path: Path
) -> None:
    env, ui = ui_env
    async with serving(Settings(task_queue=task_queue, data_dir=tmp_path), env) as api:
        dispute = await _open_dispute_in_mediation(api)
        dispute_id = dispute["id"]
        run_id = (await env.client.get_workflow_handle(dispute_id).describe()).run_id
        summary = dispute_summary(DisputeClaim.model_validate(claim(ORDER)))  # what the API set at start
        assert summary.startswith(f"Dispute on order {ORDER}: buyer b-1 vs seller s-1")

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport=VIEWPORT)
                # The page on-call opens from a workflow id; the UI redirects to the latest run.
                await page.goto(f"{ui}/namespaces/default/workflows/{dispute_id}")
                latest_run = re.compile(re.escape(f"{ui}/namespaces/default/workflows/{dispute_id}/{run_id}"))
                await expect(page).to_have_url(latest_run, timeout=UI_TIMEOUT_MS)
                await expect(page.get_by_role("heading", name=dispute_id)).to_be_visible(
                    timeout=UI_TIMEOUT_MS
                )

                await page.get_by_role("tab", name="User Metadata").click()
                await expect(page).to_have_url(
                    f"{ui}/namespaces/default/workflows/{dispute_id}/{run_id}/user-metadata"
                )
                static_summary = _markdown(page, "user-metadata-summary")
                await expect(static_summary).to_have_text(summary, timeout=UI_TIMEOUT_MS)
                static_details = _markdown(page, "user-metadata-details")
                await expect(static_details).to_contain_text(
                    "Reason NOT_RECEIVED: The parcel never arrived", timeout=UI_TIMEOUT_MS
                )
                # Current details come from the running worker (the SDK's metadata query).
                current = _markdown(page, "user-metadata-current-details")
                for line in [
                    "Status: IN_MEDIATION",
                    f"Order: {ORDER} · buyer b-1 · seller s-1 · total 150000",
                    "Current offer: refund 50000 to buyer",
                    "Waiting for: care: reply to the parties and decide a solution",
                    "Next deadline:",
                ]:
                    await expect(current).to_contain_text(line, timeout=UI_TIMEOUT_MS)
                await expect(current).to_be_visible()
                metadata_png = await page.screenshot(full_page=True)

                await page.get_by_role("tab", name="Search Attributes").click()
                attributes = await _search_attributes(page)
                assert {name: attributes.get(name) for name in ("DisputeStatus", "OrderId", "BuyerId")} == {
                    "DisputeStatus": "IN_MEDIATION",
                    "OrderId": ORDER,
                    "BuyerId": "b-1",
                }
                assert attributes["SellerId"] == "s-1"
                assert attributes["CaseKind"] == "dispute"
                assert attributes["SlaBreached"] is False
                assert attributes["CareReplyDueAt"].startswith(dispute["care_reply_due_at"][:19])
                panel = page.get_by_role("heading", name="Search Attributes", exact=True).locator("..")
                await expect(panel).to_be_visible()
                box = await panel.bounding_box()
                assert box is not None
                attributes_png = await panel.screenshot()

                background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
                await _compose(page, metadata_png, attributes_png, box["x"], background)
            finally:
                await browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
