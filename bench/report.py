"""What the benchmark prints (Markdown tables, so docs/benchmarks.md can take them as they are)
and writes (JSON)."""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from bench import service
from core import binaries

PROCESSES = ("dev_server", "worker", "api", "raw_worker", "bench", "others")


def note(text: str) -> None:
    """One line of progress."""
    print(text, flush=True)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=service.ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, Any]:
    """Cores, memory, load and the versions that matter to the figures."""
    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    try:
        version = subprocess.run([binaries.temporal_cli(), "--version"], capture_output=True, text=True)
        cli = version.stdout.strip()
    except OSError:
        cli = ""
    return {
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "cpu": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "temporalio": metadata.version("temporalio"),
        "temporal_cli": cli,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def header(results: dict[str, Any]) -> None:
    """The machine and the settings, first."""
    m, s = results["machine"], results["settings"]
    note(
        f"Machine: {m['cores']} cores ({m['physical_cores']} physical, {m['cpu'] or 'cpu unknown'}),"
        f" {m['memory_gb']} GB memory, load average {m['load_average']};"
        f" Python {m['python']}, temporalio {m['temporalio']}, {m['temporal_cli']};"
        f" commit {m['git_commit']}{' (dirty)' if m['git_dirty'] else ''}"
    )
    note(
        f"Settings: N={s['n']} per figure, {s['concurrency']} concurrent, {s['rounds']} rounds,"
        f" warm-up {s['warmup']} (not counted), effects seen via {s['effects_via']},"
        f" parts {', '.join(s['sections'])}\n"
    )


def write(results: dict[str, Any], path: Path) -> None:
    """The whole result as JSON."""
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def _ratio(a: float | None, b: float | None) -> float:
    if not a or not b:
        return math.nan
    return round(a / b, 2)


def table_ratios(figures: dict[str, dict[str, Any]], field: str = "rate") -> dict[str, float]:
    """The ratios the targets use, from the table's rates (or another per-figure ``field``)."""

    def rate(key: str) -> float | None:
        figure = figures.get(key)
        return figure[field] if figure else None

    return {
        "api_open_vs_same_work": _ratio(rate("api_open"), rate("raw_open")),
        "api_message_vs_same_work": _ratio(rate("api_message"), rate("raw_update_work")),
        "keyed_vs_unkeyed_open": _ratio(rate("api_open_keyed"), rate("api_open")),
        "keyed_vs_unkeyed_message": _ratio(rate("api_message_keyed"), rate("api_message")),
        "api_vs_sdk_open": _ratio(rate("api_open"), rate("sdk_open")),
        "api_open_polled_vs_same_work": _ratio(rate("api_open_polled"), rate("raw_open")),
        "api_message_polled_vs_same_work": _ratio(rate("api_message_polled"), rate("raw_update_work")),
        "api_vs_sdk_message": _ratio(rate("api_message"), rate("sdk_message")),
    }


def progress(figure: dict[str, Any]) -> None:
    """One figure as soon as it is measured."""
    errors = f", {figure['errors']} errors: {figure['first_errors'][:1]}" if figure["errors"] else ""
    resources = figure.get("resources", {})
    seconds = resources.get("seconds") or figure["seconds"] or 1.0
    others = resources.get("cpu_seconds", {}).get("others", 0.0) / seconds
    note(
        f"  {figure['label']}: {figure['rate']}/s ({figure['ok']}/{figure['n']} in {figure['seconds']}s,"
        f" p50 {figure['latency_ms']['p50']} ms; other processes {others:.1f} cores){errors}"
    )


def history_progress(snapshot: dict[str, Any]) -> None:
    """One history checkpoint as soon as it is read."""
    note(
        f"  history after {snapshot['messages']} messages: {snapshot['events']} events,"
        f" {snapshot['bytes']:,} bytes in {len(snapshot['runs'])} run(s), {snapshot['ended']}"
    )


def many_progress(result: dict[str, Any]) -> None:
    """One many-cases part as soon as it is done."""
    note(
        f"  {result['cases']} cases: opened in {result['open_seconds']}s,"
        f" {result['timers_fired']} timers fired, lateness p50 {result['lateness_s']['p50']}s"
        f" p99 {result['lateness_s']['p99']}s,"
        f" worker peak {result['rss_mb']['worker_peak']} MB"
    )


def per_message(snapshots: list[dict[str, Any]], text_bytes: int) -> list[dict[str, Any]]:
    """Between checkpoints: history bytes and events per message, and bytes beyond the text."""
    rows = []
    for before, after in itertools.pairwise(snapshots):
        messages = after["messages"] - before["messages"]
        if messages <= 0:
            continue
        per = (after["bytes"] - before["bytes"]) / messages
        rows.append(
            {
                "from": before["messages"],
                "to": after["messages"],
                "bytes_per_message": round(per),
                "overhead_bytes_per_message": round(per - text_bytes),
                "events_per_message": round((after["events"] - before["events"]) / messages, 1),
            }
        )
    return rows


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


SERVING = ("dev_server", "worker", "api", "raw_worker")


def cpu_ceiling(figure: dict[str, Any], cores: int) -> float:
    """Operations per second this machine's cores could carry if the stack had them to itself:
    cores / CPU seconds the serving processes (not the load generator) spent per operation. It
    barely moves when other processes share the machine, unlike the measured rate."""
    cpu = figure["resources"]["cpu_seconds"]
    spent = sum(cpu.get(name, 0.0) for name in SERVING) / max(figure["ok"], 1)
    return round(cores / spent, 1) if spent > 0 else math.nan


def throughput_table(table: dict[str, Any]) -> str:
    """The issue's table, with the target ratios beside the figures."""
    f, r = table["figures"], table["ratios"]

    def rate(key: str) -> str:
        return _fmt(f[key]["rate"]) if key in f else "n/a"

    def ceiling(*keys: str) -> str:
        return " / ".join(_fmt(f[key]["cpu_ceiling"]) if key in f else "n/a" for key in keys)

    c = table["cpu_ratios"]
    rows = [
        ["raw minimal workflow start (accepted)", rate("raw_start"), "", ceiling("raw_start"), ""],
        [
            'raw "same work" open: a minimal workflow that runs one activity, done',
            rate("raw_open"),
            "",
            ceiling("raw_open"),
            "",
        ],
        [
            "API open, 201 received / effects shown",
            f"{rate('api_open_accepted')} / {rate('api_open')}",
            f"**{_fmt(r['api_open_vs_same_work'], 2)}** x same work (target ≥ 0.8)",
            ceiling("api_open_accepted", "api_open"),
            f"{_fmt(c['api_open_vs_same_work'], 2)} x same work",
        ],
        [
            "API open with Idempotency-Key, effects shown",
            rate("api_open_keyed"),
            f"**{_fmt(r['keyed_vs_unkeyed_open'], 2)}** x unkeyed (target ≥ 0.9)",
            ceiling("api_open_keyed"),
            f"{_fmt(c['keyed_vs_unkeyed_open'], 2)} x unkeyed",
        ],
        [
            "API open, effects shown by polling `GET /effects` (as the issue measured)",
            rate("api_open_polled"),
            f"{_fmt(r['api_open_polled_vs_same_work'], 2)} x same work",
            ceiling("api_open_polled"),
            f"{_fmt(c['api_open_polled_vs_same_work'], 2)} x same work",
        ],
        [
            "SDK starts `DisputeWorkflow` directly, effects shown",
            rate("sdk_open"),
            f"API = {_fmt(r['api_vs_sdk_open'], 2)} x SDK",
            ceiling("sdk_open"),
            f"API = {_fmt(c['api_vs_sdk_open'], 2)} x SDK",
        ],
        ["raw minimal update", rate("raw_update"), "", ceiling("raw_update"), ""],
        [
            'raw "same work" update: one activity, done',
            rate("raw_update_work"),
            "",
            ceiling("raw_update_work"),
            "",
        ],
        [
            "API message, 200 received / effects shown",
            f"{rate('api_message_accepted')} / {rate('api_message')}",
            f"**{_fmt(r['api_message_vs_same_work'], 2)}** x same work (target ≥ 0.8)",
            ceiling("api_message_accepted", "api_message"),
            f"{_fmt(c['api_message_vs_same_work'], 2)} x same work",
        ],
        [
            "API message with Idempotency-Key, effects shown",
            rate("api_message_keyed"),
            f"**{_fmt(r['keyed_vs_unkeyed_message'], 2)}** x unkeyed (target ≥ 0.9)",
            ceiling("api_message_keyed"),
            f"{_fmt(c['keyed_vs_unkeyed_message'], 2)} x unkeyed",
        ],
        [
            "API message, effects shown by polling `GET /effects` (as the issue measured)",
            rate("api_message_polled"),
            f"{_fmt(r['api_message_polled_vs_same_work'], 2)} x same work",
            ceiling("api_message_polled"),
            f"{_fmt(c['api_message_polled_vs_same_work'], 2)} x same work",
        ],
        [
            "SDK update `DisputeWorkflow.message` directly, effects shown",
            rate("sdk_message"),
            f"API = {_fmt(r['api_vs_sdk_message'], 2)} x SDK",
            ceiling("sdk_message"),
            f"API = {_fmt(c['api_vs_sdk_message'], 2)} x SDK",
        ],
    ]
    return _table(["figure", "per second", "ratio", "CPU ceiling /s", "ratio of ceilings"], rows)


def cpu_table(figures: dict[str, dict[str, Any]]) -> str:
    """CPU milliseconds each process spent per counted operation, and the wall time per figure."""
    rows = []
    for figure in figures.values():
        cpu = figure["resources"]["cpu_seconds"]
        ok = max(figure["ok"], 1)
        rows.append(
            [figure["label"], _fmt(figure["seconds"], 1)]
            + [_fmt(1000 * cpu.get(name, 0.0) / ok, 1) for name in PROCESSES]
        )
    return _table(
        ["figure", "wall s", "dev server", "worker", "API", "raw worker", "bench", "other processes"], rows
    )


def latency_table(latency: dict[str, Any]) -> str:
    """Sequential latency per kind of action."""
    rows = [
        [figure["label"], *(_fmt(figure["latency_ms"][q], 1) for q in ("p50", "p95", "p99"))]
        for figure in latency["figures"].values()
    ]
    return _table(["one action at a time", "p50 ms", "p95 ms", "p99 ms"], rows)


def history_table(result: dict[str, Any]) -> str:
    """History size per checkpoint."""
    rows = []
    for snapshot in result["snapshots"]:
        continued = snapshot["continued_as_new_after_messages"]
        rows.append(
            [
                str(snapshot["messages"]),
                str(snapshot["events"]),
                f"{snapshot['bytes']:,}",
                str(len(snapshot["runs"])) + (f" (continued after {continued})" if continued else ""),
                snapshot["ended"] + (f": {snapshot['reason']}" if snapshot["reason"] else ""),
                _fmt(snapshot.get("message_latency_ms", {}).get("p50")),
            ]
        )
    return _table(["messages", "events", "bytes (all runs)", "runs", "latest run", "message p50 ms"], rows)


def overhead_table(result: dict[str, Any]) -> str:
    """Per-message growth between checkpoints."""
    rows = [
        [
            f"{row['from']} → {row['to']}",
            f"{row['bytes_per_message']:,}",
            f"{row['overhead_bytes_per_message']:,}",
            _fmt(row["events_per_message"]),
        ]
        for row in result["per_message"]
    ]
    return _table(["messages", "bytes per message", "beyond the text", "events per message"], rows)


def many_table(parts: list[dict[str, Any]]) -> str:
    """Many open cases, one row per part."""
    rows = []
    for p in parts:
        late, seen = p["lateness_s"], p["timeline_lateness_s"]
        early = p["due_before_all_open"]
        rows.append(
            [
                f"{p['cases']:,}",
                _fmt(p["inactivity_seconds"], 0) + " s",
                f"{_fmt(p['open_seconds'])} s ({_fmt(p['open_rate'])}/s)",
                f"{p['timers_fired']:,}" + (f" ({early} due before all open)" if early else ""),
                f"{_fmt(late['p50'], 2)} / {_fmt(late['p99'], 2)} / {_fmt(late['max'], 2)}",
                f"{_fmt(seen['p50'], 2)} / {_fmt(seen['p99'], 2)} (n={seen['sample']})",
                _fmt(p["rss_mb"]["worker_peak"], 0),
                _fmt(p["rss_mb"]["dev_server_peak"], 0),
                f"{p['bytes_per_case']['temporal_db']:,}",
                f"{p['bytes_per_case']['store']:,}",
                f"{p['bytes']['after']['temporal_db'] / 1e6:.1f}",
            ]
        )
    head = [
        "cases",
        "inactivity",
        "time to open",
        "timers fired",
        "lateness p50 / p99 / max s (notice)",
        "timeline entry p50 / p99 s",
        "worker peak RSS MB",
        "dev server peak RSS MB",
        "dev server DB bytes/case",
        "service store bytes/case",
        "dev server DB MB",
    ]
    return _table(head, rows)


def profile_lines(result: dict[str, Any]) -> str:
    """The profile's top areas and functions per process."""
    out = []
    for name in ("worker", "api"):
        summary = result[name]
        out.append(f"{name}: {summary['samples']} samples")
        out.append("  by area (innermost frame): " + ", ".join(f"{a} {p}%" for a, p in summary["areas"][:8]))
        out.append("  self: " + "; ".join(f"{f} {p}%" for f, p in summary["self"][:8]))
    return "\n".join(out)


def _failed(name: str, part: dict[str, Any]) -> bool:
    if "error" not in part:
        return False
    note(f"\n{name} failed: {part['error']}")
    return True


def summary(results: dict[str, Any]) -> None:
    """Everything measured, as Markdown."""
    m = results["machine"]
    s = results["settings"]
    load = f"load average {m['load_average']} at start, {m['load_average_end']} at end"
    note(f"\n# Results ({m['cores']} cores, {m['memory_gb']} GB, {load})")
    if "table" in results and not _failed("table", results["table"]):
        note(
            f"\n## Throughput: N = {s['n']} per figure, {s['concurrency']} concurrent, counted when done"
            f" (effects seen via the {'outbox' if s['effects_via'] == 'store' else 'API'});"
            f" median of {s['rounds']} interleaved rounds\n"
        )
        note(throughput_table(results["table"]))
        for key, errors in results["table"].get("failed", {}).items():
            note(f"\n{key} failed {len(errors)} time(s); first: {errors[0]}")
        note(
            "\nCPU ceiling: this machine's cores / CPU seconds the serving processes (dev server, worker,"
            " API, raw worker; not the load generator) spent per operation: the rate if the stack had"
            " the machine to itself and CPU were the only limit; it hardly moves with other load."
        )
        note("\nCPU ms per operation, by process (median round):\n")
        note(cpu_table(results["table"]["figures"]))
    if "latency" in results and not _failed("latency", results["latency"]):
        note(f"\n## Sequential latency ({s['latency_samples']} actions each, in {s['rounds']} turns)\n")
        note(latency_table(results["latency"]))
        ratio = _fmt(results["latency"]["api_vs_raw_p50"], 2)
        note(f"\nAPI message p50 = **{ratio}** x raw update p50 (target ≤ 2)")
        if "api_vs_raw_work_p50" in results["latency"]:
            work = _fmt(results["latency"]["api_vs_raw_work_p50"], 2)
            note(f'\nAPI message p50 = **{work}** x raw "same work" update p50 (target ≤ 1.25)')
    if "history" in results and not _failed("history", results["history"]):
        h = results["history"]
        note(f"\n## History of one dispute ({h['text_chars']}-character messages, sent one at a time)\n")
        note(history_table(h))
        note("")
        note(overhead_table(h))
        suggested = h["snapshots"][-1]["continue_as_new_first_suggested_after_messages"]
        if suggested is not None:
            note(f"\nThe server first suggested continue-as-new after message {suggested}.")
        if h["stopped"]:
            stop = h["stopped"]
            note(f"\nStopped at message {stop['at_message']}: HTTP {stop['status']} {stop['answer']}")
    many = [part for part in results.get("many_cases", []) if not _failed(f"{part['cases']} cases", part)]
    if many:
        note("\n## Many open cases (each with one inactivity timer)\n")
        note(many_table(many))
    if "profile" in results and not _failed("profile", results["profile"]):
        note("\n## Profile under API load (py-spy, samples holding the GIL)\n")
        note(profile_lines(results["profile"]))
