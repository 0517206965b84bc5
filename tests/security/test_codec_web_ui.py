"""The Temporal Web UI decrypts payloads through the API's /codec when the dev server names it
(``--ui-codec-endpoint`` with the UI's token, as ``make run`` starts it), and shows only
ciphertext without it; a request that only claims to be the UI (its ``Origin``, no credential) is
refused while the UI decodes.

Two runs of a dev server on one database file: the first with the codec endpoint (the dispute is
opened then, through the API), the second without; headless Chromium reads the same workflow page
in each."""

from __future__ import annotations

import asyncio
import base64
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from google.protobuf import json_format
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core import binaries
from core import search_attributes as sa
from core.settings import Settings
from store.db import database
from tests.support import API_KEYS, AS_PLATFORM, claim
from tests.test_web_ui import CHROMIUM_ARGS, UI_TIMEOUT_MS, VIEWPORT, _free_port, _markdown
from tests.test_web_ui import chromium as chromium  # the fixture: Debian's Chromium, or skip / fail
from wiring.temporal import build_worker, case_activities, data_converter

DESCRIPTION = "The parcel never arrived (ui-4412)"
UI_TOKEN = "ui-token-" + "x" * 40
CIPHERTEXT = re.compile(r'"[A-Za-z0-9+/]{200,}={0,2}"')


@asynccontextmanager
async def dev_server(
    settings: Settings, db: Path, ui_port: int, codec: str | None
) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binaries.temporal_cli(),
        dev_server_database_filename=str(db),
        dev_server_extra_args=["--ui-codec-endpoint", codec] if codec else [],
        search_attributes=sa.ALL,
        data_converter=data_converter(settings),
        ui=True,
        ui_port=ui_port,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def api_on(
    settings: Settings, env: WorkflowEnvironment, port: int, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The API on a known port (the UI must be told where /codec is before it starts) and a worker."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, client=env.client, engine=engine),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        async with (
            build_worker(env.client, settings, case_activities(settings, env.client, engine), engine),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AS_PLATFORM, timeout=30) as api,
        ):
            yield api
    finally:
        server.should_exit = True
        await serving


async def open_workflow(page: Page, ui: str, workflow_id: str) -> None:
    await page.goto(f"{ui}/namespaces/default/workflows/{workflow_id}")
    await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible(timeout=UI_TIMEOUT_MS)


async def a_claimed_origin_decodes_nothing(env: WorkflowEnvironment, api: httpx.AsyncClient, ui: str) -> None:
    """A local curl sending the UI's Origin, but not the UI's credential, gets 401 for the very
    payload the UI just showed decrypted (before: 200 and the plain text)."""
    history = await env.client.get_workflow_handle("dispute-o-ui").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads, "the dispute's input as the server stores it"
    sealed = {"payloads": [json_format.MessageToDict(p) for p in started.input.payloads]}
    assert DESCRIPTION not in str(sealed)
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=10) as curl:
        for origin in (ui, ui.replace("127.0.0.1", "localhost")):
            for path in ("/codec/decode", "/codec/ui/guess/decode"):
                response = await curl.post(
                    path, json=sealed, headers={"Origin": origin, "X-Namespace": "default"}
                )
                assert response.status_code == 401, (origin, path, response.text)
                assert DESCRIPTION not in response.text
        # the UI's own endpoint, with its token, is what decodes (the page above went through it)
        decoded = await curl.post(f"/codec/ui/{UI_TOKEN}/decode", json=sealed, headers={"Origin": ui})
        assert decoded.status_code == 200
        assert DESCRIPTION in str(base64.b64decode(decoded.json()["payloads"][0]["data"]))


async def test_the_ui_shows_plain_payloads_with_the_codec_and_ciphertext_without(
    chromium: str, task_queue: str, tmp_path: Path
) -> None:
    api_port, ui_port = _free_port(), _free_port()
    ui = f"http://127.0.0.1:{ui_port}"
    settings = Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        api_keys=API_KEYS,
        payload_keys={"ui-test": base64.b64encode(os.urandom(32)).decode()},
        codec_ui_origin=ui,
        codec_ui_token=UI_TOKEN,
    )
    db = tmp_path / "temporal.sqlite3"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            async with (
                database(settings) as engine,
                dev_server(settings, db, ui_port, f"http://127.0.0.1:{api_port}/codec/ui/{UI_TOKEN}") as env,
                api_on(settings, env, api_port, engine) as api,
            ):
                opened = await api.post("/v1/disputes", json=claim("o-ui", description=DESCRIPTION))
                assert opened.status_code == 201, opened.text
                page = await browser.new_page(viewport=VIEWPORT)
                await open_workflow(page, ui, "dispute-o-ui")
                await expect(page.get_by_text(f'"description": "{DESCRIPTION}"')).to_be_visible(
                    timeout=UI_TIMEOUT_MS
                )
                await page.get_by_role("tab", name="User Metadata").click()
                # decrypted too, but with ids, statuses and amounts only: the words stay in the input
                details = _markdown(page, "user-metadata-details")
                await expect(details).to_contain_text("Reason NOT_RECEIVED", timeout=UI_TIMEOUT_MS)
                assert "ui-4412" not in await details.inner_text()
                await expect(_markdown(page, "user-metadata-current-details")).to_contain_text(
                    "Status: AWAITING_SELLER", timeout=UI_TIMEOUT_MS
                )
                await page.close()
                await a_claimed_origin_decodes_nothing(env, api, ui)

            async with dev_server(settings, db, ui_port, None):
                page = await browser.new_page(viewport=VIEWPORT)
                await open_workflow(page, ui, "dispute-o-ui")
                await expect(page.locator("body")).to_contain_text(CIPHERTEXT, timeout=UI_TIMEOUT_MS)
                await page.get_by_role("tab", name="User Metadata").click()
                await expect(page.get_by_text("No details available")).to_be_visible(timeout=UI_TIMEOUT_MS)
                assert "ui-4412" not in await page.inner_text("body")
                await page.close()
        finally:
            await browser.close()
