"""The benchmark's parts: the throughput table, sequential latency, history per case, many open
cases, and a profile of the worker and the API under load. Service specifics live in
``bench/service.py``; raw Temporal in ``bench/raw.py``."""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowHandle

from bench import help as help_bench
from bench import history, profile, report, service
from bench import reads as reads_bench
from bench.config import BenchSettings
from bench.load import EffectWatcher, LoadResult, Operation, run_lanes, spread
from bench.raw import RawInput, RawWorkflow
from bench.stack import Stack
from core import binaries

#: The table: figure key, label, and which lanes its updates need (fresh for every round).
TABLE: list[tuple[str, str, str]] = [
    ("raw_start", "raw minimal workflow start (accepted)", ""),
    ("raw_open", 'raw "same work" open: one activity, done', ""),
    ("api_open_accepted", "API open, 201 received", ""),
    ("api_open", "API open, effects shown", ""),
    ("api_open_keyed", "API open with Idempotency-Key, effects shown", ""),
    ("api_open_polled", "API open, effects shown by polling GET /effects", ""),
    ("sdk_open", "SDK starts DisputeWorkflow, effects shown", ""),
    ("raw_update", "raw minimal update", "raw"),
    ("raw_update_work", 'raw "same work" update: one activity, done', "raw"),
    ("api_message_accepted", "API message, 200 received", "case"),
    ("api_message", "API message, effects shown", "case"),
    ("api_message_keyed", "API message with Idempotency-Key, effects shown", "case"),
    ("api_message_polled", "API message, effects shown by polling GET /effects", "case"),
    ("sdk_message", "SDK update DisputeWorkflow.message, effects shown", "case"),
]
#: Sequential latency: figure key and label.
LATENCY: list[tuple[str, str]] = [
    ("raw_update", "raw minimal update"),
    ("raw_update_work", 'raw "same work" update (activity done)'),
    ("api_message_accepted", "API message, 200 received"),
    ("api_message", "API message, effects shown"),
    ("sdk_message_returned", "SDK update DisputeWorkflow.message, returned"),
]
#: How much longer than the estimated opening time the many-cases inactivity is, so that every
#: case is open before the first timer falls due.
INACTIVITY_MARGIN = 1.3


def new_order() -> str:
    """A fresh order id (one dispute per order)."""
    return f"o{uuid.uuid4().hex[:16]}"


def text_of(chars: int) -> str:
    """A message of ``chars`` characters that reads like one."""
    words = "the parcel arrived with a cracked lid and the seller has not answered my photos yet "
    return (words * (chars // len(words) + 1))[:chars]


class Bench:
    """Load against one running stack: the service over HTTP and the SDK, raw Temporal beside it."""

    def __init__(self, settings: BenchSettings, stack: Stack) -> None:
        self.settings = settings
        self.stack = stack
        connections = max(settings.concurrency * 2, 10)
        self.http = httpx.AsyncClient(
            base_url=stack.api_url,
            headers=service.HEADERS,
            timeout=settings.step_timeout.total_seconds(),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        store = service.EffectStore(stack.data_dir)
        self.watcher = EffectWatcher(store, settings.poll_interval.total_seconds())
        self.expected: dict[str, int] = {}  # effects each case should have by now
        self.timeout = settings.step_timeout.total_seconds()
        self.raw_lanes: list[WorkflowHandle[Any, Any]] = []
        self.case_lanes: list[str] = []
        self._pending_cases: list[str] = []
        self._pending_raw: list[WorkflowHandle[Any, Any]] = []

    async def __aenter__(self) -> Bench:
        self.watcher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.watcher.stop()
        await self.http.aclose()

    # -- steps -------------------------------------------------------------------------------

    async def effects(
        self, case: str, count: int | None = None, within: float | None = None, via: str | None = None
    ) -> None:
        """Return once ``case`` shows ``count`` effects (default: all its steps so far), seen in
        the outbox or through ``GET .../effects`` (``via``; default: the setting)."""
        count = self.expected[case] if count is None else count
        within = self.timeout if within is None else within
        if (via or self.settings.effects_via) == "store":
            await self.watcher.wait(case, count, within)
            return
        deadline = time.monotonic() + within
        while True:
            listed = await self.http.get(service.effects_path(case))
            if listed.status_code == 200 and len(listed.json()["items"]) >= count:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{case}: fewer than {count} effects after {within:.0f}s")
            await asyncio.sleep(self.settings.poll_interval.total_seconds())

    async def all_effects(self, cases: list[str], within: float | None = None) -> None:
        """Wait until every case shows all the effects of its steps so far."""
        deadline = time.monotonic() + (self.timeout if within is None else within)
        for case in cases:
            await self.effects(case, within=max(0.0, deadline - time.monotonic()))

    async def api_open(self, keyed: bool = False) -> dict[str, Any]:
        """POST one dispute; the 201 response's body."""
        headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else None
        answer = await self.http.post(service.OPEN_PATH, json=service.claim(new_order()), headers=headers)
        if answer.status_code != service.OPENED:
            raise RuntimeError(f"open answered {answer.status_code}: {answer.text[:200]}")
        opened: dict[str, Any] = answer.json()
        self.expected[service.case_id(opened)] = service.EFFECTS_PER_OPEN
        return opened

    async def api_message(self, case: str, text: str, keyed: bool = False) -> httpx.Response:
        """POST one message; the response, whatever it is."""
        headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else None
        answer = await self.http.post(service.message_path(case), json=service.message(text), headers=headers)
        if answer.status_code == 200:
            self.expected[case] += service.EFFECTS_PER_MESSAGE
        return answer

    async def api_message_ok(self, case: str, text: str, keyed: bool = False) -> None:
        """POST one message that must succeed."""
        answer = await self.api_message(case, text, keyed)
        if answer.status_code != 200:
            raise RuntimeError(f"message answered {answer.status_code}: {answer.text[:200]}")

    async def raw_start(self, request: RawInput) -> WorkflowHandle[Any, Any]:
        """Start one raw workflow."""
        return await self.stack.raw_client.start_workflow(
            RawWorkflow.run, request, id=f"raw-{uuid.uuid4().hex}", task_queue=self.stack.raw_task_queue
        )

    # -- the throughput table ----------------------------------------------------------------

    async def _drain(self) -> None:
        cases, self._pending_cases = self._pending_cases, []
        await self.all_effects(cases)
        handles, self._pending_raw = self._pending_raw, []
        await asyncio.gather(*(handle.result() for handle in handles))

    async def measure(
        self, operation: Operation, n: int, concurrency: int
    ) -> tuple[LoadResult, dict[str, Any]]:
        """Warm up (not counted), then ``n`` operations at ``concurrency``; after each batch, wait
        for the effects it left behind, so that no backlog spills into the next figure."""
        settings = self.settings
        if concurrency == 1:  # one lane goes round every target in turn
            one_by_one = operation

            async def operation(lane: int, i: int) -> None:
                await one_by_one(i, i)

        if settings.warmup:
            await run_lanes(min(settings.warmup, n), concurrency, operation)
            await self._drain()
        await asyncio.sleep(settings.settle.total_seconds())
        others = await self.quiet()
        with self.stack.sampler.window() as window:
            result = await run_lanes(n, concurrency, operation)
        await self._drain()
        self.stack.check_alive()
        return result, window.as_dict() | {"others_cores_before": round(others, 2)}

    async def quiet(self) -> float:
        """Wait (up to ``quiet_wait``) until other processes on this shared machine keep less than
        ``quiet_cores`` busy; the load they had when the figure started."""
        settings = self.settings
        deadline = time.monotonic() + settings.quiet_wait.total_seconds()
        others = 0.0
        while time.monotonic() < deadline:
            others = await self.stack.sampler.others_load(min(1.0, settings.quiet_wait.total_seconds()))
            if others < settings.quiet_cores:
                break
        return others

    async def fresh_lanes(self, kind: str) -> None:
        """One new open workflow per lane for an update figure, so every figure's updates meet
        histories of the same length: raw workflows (``raw``) or disputes (``case``)."""
        count = self.settings.concurrency
        if kind == "raw":
            starts = [self.raw_start(RawInput(stay_open=True)) for _ in range(count)]
            self.raw_lanes = list(await asyncio.gather(*starts))
        elif kind == "case":
            opened = await asyncio.gather(*(self._open_retrying() for _ in range(count)))
            self.case_lanes = [service.case_id(body) for body in opened]
            await self.all_effects(self.case_lanes)

    async def _open_retrying(self, attempts: int = 3) -> dict[str, Any]:
        # Setting up lanes is not measured: an open that failed under load is tried again.
        for attempt in range(1, attempts + 1):
            try:
                return await self.api_open()
            except (RuntimeError, httpx.HTTPError):
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _operations(self) -> dict[str, Operation]:
        text = text_of(100)
        client = self.stack.client
        queue = self.stack.task_queue

        async def raw_start(lane: int, i: int) -> None:
            self._pending_raw.append(await self.raw_start(RawInput()))

        async def raw_open(lane: int, i: int) -> None:
            await (await self.raw_start(RawInput(activity=True))).result()

        async def api_open_accepted(lane: int, i: int) -> None:
            self._pending_cases.append(service.case_id(await self.api_open()))

        def api_open_done(keyed: bool = False, via: str | None = None) -> Operation:
            async def operation(lane: int, i: int) -> None:
                await self.effects(service.case_id(await self.api_open(keyed)), via=via)

            return operation

        async def sdk_open_done(lane: int, i: int) -> None:
            case = await service.sdk_open(client, queue, new_order())
            self.expected[case] = service.EFFECTS_PER_OPEN
            await self.effects(case)

        def raw_lane(lane: int) -> WorkflowHandle[Any, Any]:
            return self.raw_lanes[lane % len(self.raw_lanes)]

        def case_lane(lane: int, i: int) -> str:
            return self.case_lanes[lane % len(self.case_lanes)]

        async def raw_update(lane: int, i: int) -> None:
            await raw_lane(lane).execute_update(RawWorkflow.ping)

        async def raw_update_work(lane: int, i: int) -> None:
            await raw_lane(lane).execute_update(RawWorkflow.work)

        async def api_message_accepted(lane: int, i: int) -> None:
            case = case_lane(lane, i)
            await self.api_message_ok(case, text)
            self._pending_cases.append(case)

        def api_message_done(keyed: bool = False, via: str | None = None) -> Operation:
            async def operation(lane: int, i: int) -> None:
                case = case_lane(lane, i)
                await self.api_message_ok(case, text, keyed)
                await self.effects(case, via=via)

            return operation

        async def sdk_message(lane: int, i: int) -> None:
            case = case_lane(lane, i)
            await service.sdk_message(client, case, text)
            self.expected[case] += service.EFFECTS_PER_MESSAGE
            self._pending_cases.append(case)

        async def sdk_message_done(lane: int, i: int) -> None:
            await sdk_message(lane, i)
            await self.effects(case_lane(lane, i))

        return {
            "raw_start": raw_start,
            "raw_open": raw_open,
            "api_open_accepted": api_open_accepted,
            "api_open": api_open_done(keyed=False),
            "api_open_keyed": api_open_done(keyed=True),
            "api_open_polled": api_open_done(via="api"),
            "sdk_open": sdk_open_done,
            "raw_update": raw_update,
            "raw_update_work": raw_update_work,
            "api_message_accepted": api_message_accepted,
            "api_message": api_message_done(keyed=False),
            "api_message_keyed": api_message_done(keyed=True),
            "api_message_polled": api_message_done(via="api"),
            "sdk_message": sdk_message_done,
            "sdk_message_returned": sdk_message,
        }

    async def table(self) -> dict[str, Any]:
        """Every figure of the issue's table against the same dev server, in interleaved rounds
        (each figure once per round); a figure's reported round is its median by rate."""
        operations = self._operations()
        settings = self.settings
        rounds: dict[str, list[dict[str, Any]]] = {key: [] for key, *_ in TABLE}
        failed: dict[str, list[str]] = {}
        for number in range(1, settings.rounds + 1):
            report.note(f" round {number} of {settings.rounds}")
            for key, label, lanes in TABLE:
                try:
                    await self.fresh_lanes(lanes)
                    result, resources = await self.measure(operations[key], settings.n, settings.concurrency)
                except Exception as error:  # a figure that cannot be taken this round is reported, not fatal
                    failed.setdefault(key, []).append(
                        f"round {number}: {type(error).__name__}: {error}"[:300]
                    )
                    report.note(f"  {label}: failed in round {number}: {failed[key][-1]}")
                    continue
                figure = summarize(key, label, result, settings.concurrency) | {"round": number}
                figure["resources"] = resources
                report.progress(figure)
                rounds[key].append(figure)
        cores = os.cpu_count() or 1
        figures = {}
        for key, measured in rounds.items():
            if not measured:
                continue
            for figure in measured:
                figure["cpu_ceiling"] = report.cpu_ceiling(figure, cores)
            median = sorted(measured, key=lambda figure: figure["rate"])[(len(measured) - 1) // 2]
            ceilings = sorted(figure["cpu_ceiling"] for figure in measured)
            figures[key] = median | {
                "rates_by_round": [figure["rate"] for figure in measured],
                "cpu_ceiling": ceilings[(len(ceilings) - 1) // 2],
                "cpu_ceilings_by_round": [figure["cpu_ceiling"] for figure in measured],
            }
        return {
            "figures": figures,
            "failed": failed,
            "ratios": report.table_ratios(figures),
            "cpu_ratios": report.table_ratios(figures, "cpu_ceiling"),
        }

    # -- sequential latency ------------------------------------------------------------------

    async def latency(self) -> dict[str, Any]:
        """One action at a time: raw updates against the API's and the SDK's messages. The
        kinds take turns in small batches, so a noisy moment on the machine hits them alike."""
        operations = self._operations()
        settings = self.settings
        await self.fresh_lanes("raw")
        await self.fresh_lanes("case")
        batch = max(1, math.ceil(settings.latency_samples / settings.rounds))
        pooled: dict[str, list[LoadResult]] = {key: [] for key, _ in LATENCY}
        cpu: dict[str, dict[str, float]] = {key: {} for key, _ in LATENCY}
        for _ in range(settings.rounds):
            for key, _label in LATENCY:
                result, resources = await self.measure(operations[key], batch, 1)
                pooled[key].append(result)
                for name, seconds in resources["cpu_seconds"].items():
                    cpu[key][name] = cpu[key].get(name, 0.0) + seconds
        figures = {}
        for key, label in LATENCY:
            merged = LoadResult(
                n=sum(r.n for r in pooled[key]),
                seconds=sum(r.seconds for r in pooled[key]),
                latencies=[x for r in pooled[key] for x in r.latencies],
                errors=[x for r in pooled[key] for x in r.errors],
            )
            figures[key] = summarize(key, label, merged, 1)
            figures[key]["resources"] = {
                "seconds": round(merged.seconds, 2),
                "cpu_seconds": {k: round(v, 2) for k, v in cpu[key].items()},
            }
            report.progress(figures[key])
        raw_p50 = figures["raw_update"]["latency_ms"]["p50"]
        work_p50 = figures["raw_update_work"]["latency_ms"]["p50"]
        api_p50 = figures["api_message_accepted"]["latency_ms"]["p50"]
        return {
            "figures": figures,
            "api_vs_raw_p50": round(api_p50 / raw_p50, 2) if raw_p50 else math.nan,
            # issue 16's target: ≤ 1.25 x a raw update whose handler awaits the same one activity
            "api_vs_raw_work_p50": round(api_p50 / work_p50, 2) if work_p50 else math.nan,
        }

    # -- profile ------------------------------------------------------------------------------

    async def profile(self, out_dir: Path, stamp: str) -> dict[str, Any]:
        """py-spy on the worker and the API while API messages and opens run at full load; only
        samples holding the GIL count, i.e. where the process spends Python CPU."""
        spy = binaries.find("py-spy")
        files = {name: out_dir / f"{stamp}-{name}.pyspy.txt" for name in ("worker", "api")}
        spies = {
            name: await asyncio.create_subprocess_exec(
                *(spy, "record", "--pid", str(self.stack.pid(name))),
                *("--rate", str(self.settings.profile_rate), "--nonblocking", "--gil", "--function"),
                *("--format", "raw", "--output", str(path)),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            for name, path in files.items()
        }
        await asyncio.sleep(1)  # attached
        text = text_of(100)

        async def message(lane: int, i: int) -> None:
            case = self.case_lanes[lane]
            await self.api_message_ok(case, text)
            await self.effects(case)

        async def open_(lane: int, i: int) -> None:
            await self.effects(service.case_id(await self.api_open()))

        with self.stack.sampler.window() as window:
            loads = [
                await run_lanes(self.settings.n, self.settings.concurrency, message),
                await run_lanes(self.settings.n, self.settings.concurrency, open_),
            ]
        for name, process in spies.items():
            process.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(process.communicate(), 60)
            if not files[name].exists():
                raise RuntimeError(f"py-spy on the {name} failed: {err.decode(errors='replace')[-500:]}")
        return {
            "load": [
                summarize(key, key, load, self.settings.concurrency)
                for key, load in zip(("message", "open"), loads, strict=True)
            ],
            "resources": window.as_dict(),
            "files": {name: str(path) for name, path in files.items()},
            "worker": profile.summarize(files["worker"]),
            "api": profile.summarize(files["api"]),
        }

    # -- history per case --------------------------------------------------------------------

    async def history(self) -> dict[str, Any]:
        """One dispute, messages one after another; its history (every run) at each checkpoint."""
        settings = self.settings
        case = service.case_id(await self.api_open())
        await self.effects(case)
        text = text_of(settings.history_text_chars)
        snapshots = [{"messages": 0, "seconds": 0.0, **await history.read(self.stack.client, case)}]
        sent = 0
        stopped: dict[str, Any] | None = None
        began = time.monotonic()
        for checkpoint in sorted(set(settings.history_checkpoints)):
            latencies: list[float] = []
            while sent < checkpoint:
                t0 = time.monotonic()
                answer = await self.api_message(case, text)
                if answer.status_code != 200:
                    detail = answer.text[:300]
                    stopped = {"at_message": sent + 1, "status": answer.status_code, "answer": detail}
                    break
                latencies.append(time.monotonic() - t0)
                sent += 1
            if stopped is None:
                await self.effects(case)
            snapshot = {
                "messages": sent,
                "seconds": round(time.monotonic() - began, 1),
                "message_latency_ms": spread(latencies, 1000),
                **await history.read(self.stack.client, case),
            }
            snapshots.append(snapshot)
            report.history_progress(snapshot)
            if stopped is not None:
                break
        return {
            "case_id": case,
            "text_chars": settings.history_text_chars,
            "text_bytes": len(text.encode()),
            "snapshots": snapshots,
            "stopped": stopped,
            "per_message": report.per_message(snapshots, len(text.encode())),
        }

    # -- many open cases ---------------------------------------------------------------------

    async def many_cases(self, size: int) -> dict[str, Any]:
        """Open ``size`` disputes at once; every inactivity timer falls due; how late, what it cost."""
        stack, settings = self.stack, self.settings
        due: dict[str, datetime] = {}
        sizes_before = {"temporal_db": stack.temporal_db_size(), "store": stack.store_size()}

        async def open_(lane: int, i: int) -> None:
            if settings.many_open_rate is not None:  # the i-th open waits for its turn
                await asyncio.sleep(max(0.0, began + i / settings.many_open_rate - time.monotonic()))
            opened = await self.api_open()
            due[service.case_id(opened)] = service.inactivity_due_at(opened)

        began = time.monotonic()
        with stack.sampler.window() as window:
            opening = await run_lanes(size, settings.concurrency, open_)
            all_open_at = datetime.now(UTC)
            cases = list(due)
            await self.all_effects(cases, within=settings.step_timeout.total_seconds() + size / 5)
            effects_seconds = time.monotonic() - began
            sizes_open = {"temporal_db": stack.temporal_db_size(), "store": stack.store_size()}
            last_due = max(due.values())
            wait = (last_due - datetime.now(UTC)).total_seconds() + settings.timer_grace.total_seconds()
            deadline = time.monotonic() + max(wait, 1.0)
            try:
                for case in cases:
                    remaining = max(0.0, deadline - time.monotonic())
                    await self.effects(case, service.INACTIVITY_EFFECT, within=remaining)
            except TimeoutError:
                pass
            timers_seconds = time.monotonic() - began
        stack.check_alive()
        fired = [case for case in cases if self.watcher.counts[case] >= service.INACTIVITY_EFFECT]
        lateness = [
            (self.watcher.recorded[case][service.INACTIVITY_EFFECT - 1] - due[case]).total_seconds()
            for case in fired
        ]
        sample = random.Random(size).sample(fired, min(settings.timeline_sample, len(fired)))
        marked = []
        for case in sample:
            state = (await self.http.get(service.case_path(case))).json()
            at = service.inactivity_marked_at(state)
            if at is not None:
                marked.append((at - due[case]).total_seconds())
        sizes_after = {"temporal_db": stack.temporal_db_size(), "store": stack.store_size()}
        resources = window.as_dict()
        result = {
            "cases": size,
            "opened": len(cases),
            "open_errors": opening.errors[:3],
            "inactivity_seconds": stack.inactivity.total_seconds() if stack.inactivity else None,
            "open_seconds": round(opening.seconds, 1),
            "open_rate": round(opening.rate, 1),
            "open_effects_seconds": round(effects_seconds, 1),
            "due_before_all_open": sum(1 for at in due.values() if at < all_open_at),
            "timers_fired": len(fired),
            "all_fired_seconds": round(timers_seconds, 1),
            "lateness_s": spread(lateness),
            "timeline_lateness_s": spread(marked) | {"sample": len(marked)},
            "rss_mb": {
                "worker_peak": resources["peak_rss_mb"].get("worker"),
                "dev_server_peak": resources["peak_rss_mb"].get("dev_server"),
                "api_peak": resources["peak_rss_mb"].get("api"),
                "worker_start": resources["start_rss_mb"].get("worker"),
                "dev_server_start": resources["start_rss_mb"].get("dev_server"),
            },
            "bytes": {"before": sizes_before, "all_open": sizes_open, "after": sizes_after},
            "bytes_per_case": {
                key: round((sizes_after[key] - before) / max(len(cases), 1))
                for key, before in sizes_before.items()
            },
            "resources": resources,
        }
        report.many_progress(result)
        return result


def summarize(key: str, label: str, result: LoadResult, concurrency: int) -> dict[str, Any]:
    """A figure's JSON: rate, count, errors and latency spread."""
    return {
        "key": key,
        "label": label,
        "rate": round(result.rate, 1),
        "n": result.n,
        "ok": result.ok,
        "concurrency": concurrency,
        "seconds": round(result.seconds, 2),
        "errors": len(result.errors),
        "first_errors": result.errors[:3],
        "latency_ms": spread(result.latencies, 1000),
    }


def _parts(results: dict[str, Any]) -> list[dict[str, Any]]:
    named = [results[name] for name in ("table", "latency", "profile", "history") if name in results]
    return named + list(results.get("many_cases", []))


def inactivity_for(size: int, settings: BenchSettings, open_rate: float | None) -> timedelta:
    """The inactivity setting for ``size`` cases: the configured one, or long enough for every
    case to open before the first timer falls due (estimated from a measured open rate)."""
    if settings.inactivity is not None:
        return settings.inactivity
    rate = open_rate if open_rate and open_rate > 0 else 10.0
    if settings.many_open_rate is not None:
        rate = min(rate, settings.many_open_rate)
    seconds = math.ceil(size / rate * INACTIVITY_MARGIN)
    return timedelta(seconds=seconds) + settings.inactivity_min


async def run(settings: BenchSettings) -> dict[str, Any]:
    """Run the chosen parts, print them, write ``<results>/<timestamp>.json``; the results."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = settings.results_dir / f"{stamp}.json"
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": report.machine(),
        "settings": settings.model_dump(mode="json"),
    }
    report.header(results)
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    work = settings.work_dir or Path(tempfile.mkdtemp(prefix="bench-"))
    sections = set(settings.sections)
    open_rate: float | None = None

    async def part(name: str, step: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        report.note(f"\n{name}:")
        began = time.monotonic()
        try:
            measured = await step()
        except Exception as error:  # one broken part must not cost the others' figures
            report.note(f"  {name} failed: {type(error).__name__}: {error} (processes' logs in {work})")
            measured = {"error": f"{type(error).__name__}: {error}"}
        measured["part_seconds"] = round(time.monotonic() - began, 1)
        report.write(results | {name: measured}, path)  # a long run keeps what it has measured so far
        return measured

    if sections & {"table", "latency", "profile", "history"}:
        async with Stack(work / "main") as stack, Bench(settings, stack) as bench:
            if "table" in sections:
                results["table"] = await part("table", bench.table)
                open_rate = results["table"].get("figures", {}).get("api_open_accepted", {}).get("rate")
            if "latency" in sections:
                results["latency"] = await part("latency", bench.latency)
            if "profile" in sections:
                results["profile"] = await part("profile", lambda: bench.profile(settings.results_dir, stamp))
            if "history" in sections:
                results["history"] = await part("history", bench.history)
    if "many" in sections:
        results["many_cases"] = []
        for size in settings.many_case_sizes():
            inactivity = inactivity_for(size, settings, open_rate)

            async def many(size: int = size, inactivity: timedelta = inactivity) -> dict[str, Any]:
                async with Stack(work / f"many-{size}", inactivity=inactivity) as stack:
                    async with Bench(settings, stack) as bench:
                        return await bench.many_cases(size)

            name = f"many cases: {size} disputes, inactivity {inactivity.total_seconds():g}s"
            measured = await part(name, many)
            results["many_cases"].append(measured | {"cases": size})
            open_rate = measured.get("open_rate") or open_rate
    if "help" in sections:  # Help Center search over 10,000 articles (bench/help.py)
        results["help"] = await part("help", lambda: help_bench.run(work / "help"))
    if "reads" in sections:  # lists and one case from the read model with 100,000 cases (bench/reads.py)
        results["reads"] = await part("reads", lambda: reads_bench.run(work / "reads"))
    results["finished_at"] = datetime.now(UTC).isoformat()
    results["machine"]["load_average_end"] = report.machine()["load_average"]
    report.write(results, path)
    if settings.work_dir is None and not any("error" in part for part in _parts(results)):
        shutil.rmtree(work, ignore_errors=True)  # kept after a failure: the processes' logs are there
    report.summary(results)
    report.note(f"results: {path}")
    return results
