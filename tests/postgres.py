"""A throwaway PostgreSQL cluster for tests: initdb in a temporary folder, one server, databases on demand.

Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``) provides the binaries;
``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` system user."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

BIN_ROOT = Path("/usr/lib/postgresql")
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    " -c max_connections=200"
)


class Unavailable(Exception):
    """No PostgreSQL server can be started here (and why)."""


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = sorted(
        (path for path in BIN_ROOT.glob("*/bin") if (path / "initdb").is_file()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not found:
        raise Unavailable(f"no PostgreSQL under {BIN_ROOT}: apt-get install postgresql (Debian's package)")
    return found[-1]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """One running cluster in a temporary folder; ``stop`` removes it all."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="disputes-pg-"))
        self.data = self.folder / "data"
        self._as_postgres = os.geteuid() == 0
        self.started = False

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        done = subprocess.run(
            [*prefix, str(self.bin / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.folder,
        )
        if done.returncode != 0:
            raise Unavailable(f"{command[0]} failed ({done.returncode}): {done.stdout}{done.stderr}".strip())

    def start(self) -> PostgresServer:
        """initdb and start the server; Unavailable (with the reason) when that fails."""
        if self._as_postgres:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable(
                    "running as root, and there is no postgres system user to own the cluster"
                ) from None
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.data} {_SERVER_OPTIONS}"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.data / "server.log"), "-w", "start"
        )
        self.started = True
        return self

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database with a unique name; its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database`` (closing what still uses it)."""
        name = url.rsplit("/", 1)[1]
        with self._admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
