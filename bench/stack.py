"""The embedded stack the benchmark measures: a dev server on a temporary SQLite file, the
service's worker and API, and the raw worker, each a process of its own, as ``make run`` runs
them; plus what the benchmark samples from them (RSS, CPU time, file sizes)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx
import psutil
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench import service
from bench.periodic import Periodic
from core import binaries
from wiring.temporal import patiently

START_TIMEOUT = 90.0


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def files_size(*paths: Path) -> int:
    """Bytes in these files and in every file under these folders (missing ones count 0)."""
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total


def _tree(process: psutil.Process) -> list[psutil.Process]:
    if process.pid == os.getpid():  # the benchmark itself: its children are the stack, counted apart
        return [process]
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def rss(process: psutil.Process) -> int:
    """Resident memory of a stack process and its children, in bytes (0 once it is gone)."""
    total = 0
    for each in _tree(process):
        try:
            total += each.memory_info().rss
        except psutil.Error:
            pass
    return total


def cpu_seconds(process: psutil.Process) -> float:
    """User plus system CPU time of a process and its children so far."""
    total = 0.0
    for each in _tree(process):
        try:
            times = each.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process)."""
    times = psutil.cpu_times()
    return float(sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq")))


@dataclass
class Window:
    """What the sampler saw between ``start`` and ``stop``: peak RSS and CPU seconds per process."""

    peak_rss: dict[str, int] = field(default_factory=dict)
    start_rss: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    _cpu_start: dict[str, float] = field(default_factory=dict)
    _t0: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (MB and CPU seconds)."""
        return {
            "seconds": round(self.seconds, 2),
            "start_rss_mb": {k: _mb(v) for k, v in self.start_rss.items()},
            "peak_rss_mb": {k: _mb(v) for k, v in self.peak_rss.items()},
            "cpu_seconds": {k: round(v, 2) for k, v in self.cpu.items()},
        }


def _mb(value: int) -> float:
    return round(value / 1e6, 1)


class Sampler(Periodic):
    """Samples the RSS of named processes in the background; windows report peaks and CPU."""

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(interval)
        self.processes: dict[str, psutil.Process] = {"bench": psutil.Process()}
        self._windows: list[Window] = []

    def watch(self, name: str, pid: int) -> None:
        """Sample this process from now on."""
        self.processes[name] = psutil.Process(pid)

    async def tick(self) -> None:
        """One sample of every process."""
        self._sample()

    def _sample(self) -> None:
        for name, process in self.processes.items():
            value = rss(process)
            for window in self._windows:
                window.peak_rss[name] = max(window.peak_rss.get(name, 0), value)

    async def others_load(self, seconds: float = 1.0) -> float:
        """How many cores every other process on the machine kept busy over the next ``seconds``."""
        ours_before = sum(cpu_seconds(p) for p in self.processes.values())
        busy_before = _machine_busy()
        await asyncio.sleep(seconds)
        ours = sum(cpu_seconds(p) for p in self.processes.values()) - ours_before
        return max(0.0, _machine_busy() - busy_before - ours) / seconds

    @contextmanager
    def window(self) -> Iterator[Window]:
        """Peaks and CPU time of every watched process while the block runs; ``others`` is the
        CPU every other process on the machine used meanwhile (a shared machine's noise)."""
        window = Window(_t0=time.monotonic())
        window.start_rss = {name: rss(p) for name, p in self.processes.items()}
        window._cpu_start = {name: cpu_seconds(p) for name, p in self.processes.items()}
        busy_before = _machine_busy()
        self._windows.append(window)
        self._sample()
        try:
            yield window
        finally:
            self._sample()
            self._windows.remove(window)
            window.seconds = time.monotonic() - window._t0
            window.cpu = {
                name: cpu_seconds(p) - window._cpu_start.get(name, 0.0) for name, p in self.processes.items()
            }
            ours = sum(window.cpu.values())
            window.cpu["others"] = max(0.0, _machine_busy() - busy_before - ours)


class Stack:
    """Starts a dev server, the service's worker and API, and the raw worker; stops them all."""

    def __init__(self, root: Path, *, inactivity: timedelta | None = None) -> None:
        self.root = root
        self.inactivity = inactivity
        root.mkdir(parents=True, exist_ok=True)
        self.temporal_db = root / "temporal.sqlite3"
        self.data_dir = root / "service"
        self.raw_store = root / "raw-effects.sqlite3"
        self.logs = root / "logs"
        self.task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.raw_task_queue = f"{self.task_queue}-raw"
        self.temporal_port = free_port()
        self.api_port = free_port()
        self.address = f"127.0.0.1:{self.temporal_port}"
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.sampler = Sampler()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._log_files: list[IO[bytes]] = []
        self.raw_client: Client
        self.client: Client

    async def __aenter__(self) -> Stack:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.logs.mkdir(exist_ok=True)
        log = (self.logs / f"{name}.log").open("wb")
        self._log_files.append(log)
        process = subprocess.Popen(
            command,
            cwd=service.ROOT,
            env=env if env is not None else dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._processes[name] = process
        self.sampler.watch(name, process.pid)

    def pid(self, name: str) -> int:
        """The process id of ``dev_server``, ``worker``, ``api`` or ``raw_worker``."""
        return self._processes[name].pid

    async def _start(self) -> None:
        self._spawn(
            "dev_server",
            [
                binaries.temporal_cli(),
                *("server", "start-dev", "--db-filename", str(self.temporal_db)),
                *("--ip", "127.0.0.1", "--port", str(self.temporal_port), "--headless"),
                *("--log-level", "error", *service.dev_server_flags()),
            ],
        )
        await self._until("the Temporal dev server", lambda: _port_open(self.temporal_port))
        patience = timedelta(seconds=60)
        self.raw_client = await patiently(lambda: Client.connect(self.address), patience)
        self.client = await patiently(lambda: service.sdk_client(self.address), patience)
        env = service.service_env(
            dict(os.environ),
            temporal_address=self.address,
            data_dir=self.data_dir,
            task_queue=self.task_queue,
            metrics_port=free_port(),
            inactivity=self.inactivity,
        )
        self._spawn("worker", service.worker_command(), env)
        self._spawn("api", service.api_command(self.api_port), env)
        self._spawn(
            "raw_worker",
            [
                *(sys.executable, "-m", "bench.raw", "--address", self.address),
                *("--task-queue", self.raw_task_queue, "--store", str(self.raw_store)),
            ],
        )
        await self._until_polled(self.task_queue)
        await self._until_polled(self.raw_task_queue)
        async with httpx.AsyncClient() as http:

            async def healthy() -> bool:
                try:
                    return (await http.get(f"{self.api_url}/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await self._until_async("the API", healthy)
        self.sampler.start()

    async def _until(self, what: str, ready: Any) -> None:
        async def check() -> bool:
            return bool(ready())

        await self._until_async(what, check)

    async def _until_async(self, what: str, ready: Any) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not await ready():
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not become ready within {START_TIMEOUT:.0f}s")
            await asyncio.sleep(0.1)

    async def _until_polled(self, task_queue: str) -> None:
        request = DescribeTaskQueueRequest(
            namespace=self.raw_client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )

        async def polled() -> bool:
            return bool((await self.raw_client.workflow_service.describe_task_queue(request)).pollers)

        await self._until_async(f"a worker on {task_queue}", polled)

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last lines a process printed."""
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def check_alive(self) -> None:
        """Raise if a process of the stack has died."""
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited (code {process.returncode}):\n{self.log_tail(name)}")

    def temporal_db_size(self) -> int:
        """The dev server's SQLite file with its journal files, in bytes."""
        return files_size(*self.temporal_db.parent.glob(f"{self.temporal_db.name}*"))

    def store_size(self) -> int:
        """The service's own files (outbox, webhook store, evidence), in bytes."""
        return files_size(self.data_dir)

    async def _stop(self, name: str, patience: float = 30) -> None:
        process = self._processes.get(name)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, patience)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def stop(self) -> None:
        """Stop the API, the workers, then the server; each gets time to finish cleanly."""
        await self.sampler.stop()
        await self._stop("api", patience=10)  # before the workers: its requests may wait on them
        await asyncio.gather(*(self._stop(name) for name in ("worker", "raw_worker")))
        await self._stop("dev_server")
        for log in self._log_files:
            log.close()
