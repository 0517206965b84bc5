"""The service database's files on this host: where a SQLite URL keeps its data, kept private."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other engines and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def private_file(path: Path) -> None:
    """Create ``path`` (and its folder) readable by this user only: the database holds secrets.

    SQLite gives its -wal and -shm files the mode of the database file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    path.chmod(0o600)


def private_folder(path: Path) -> None:
    """Make the data folder this user's alone (created if missing); left as is when owned by another."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.geteuid():
        path.chmod(0o700)
