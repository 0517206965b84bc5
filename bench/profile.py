"""Reading py-spy's collapsed stacks: where a process spent its samples."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench import service

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def area(file: str) -> str:
    """Which library, standard module or part of the project a source file belongs to (py-spy
    names files relative to the import path: ``temporalio/worker/_workflow.py``)."""
    top = file.split("site-packages/", 1)[-1].lstrip("/").split("/", 1)[0].removesuffix(".py")
    if top in service.PACKAGES:
        return f"project:{top}"
    if top in sys.stdlib_module_names or top.startswith("<frozen"):
        return f"stdlib:{top}"
    return top


def _frame(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame)
    if match is None:
        return frame, "?"
    file = match["file"]
    short = file.split("site-packages/", 1)[-1]
    return f"{match['function']} ({short})", area(file)


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    """Share of samples per area (by the innermost frame), and the functions with the most
    samples on top of the stack (self) and anywhere in it (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return {"samples": 0, "areas": [], "self": [], "inclusive": []}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(frame) for frame in stack.split(";")]
        total += count
        leaf, leaf_area = frames[-1]
        own[leaf] += count
        areas[leaf_area] += count
        for name in {name for name, _ in frames}:
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * count / total, 1)] for name, count in counter.most_common(top)]

    return {"samples": total, "areas": share(areas), "self": share(own), "inclusive": share(inclusive)}
