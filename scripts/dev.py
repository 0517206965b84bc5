"""`make run`: the local Temporal dev server (unless TEMPORAL_ADDRESS is set), the cases' worker,
the webhook worker and the API."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from sqlalchemy.engine import make_url

from core import binaries
from core import search_attributes as sa
from core.codec import new_key_file
from core.settings import Settings, get_settings
from store.files import private_folder
from wiring.temporal import connect


def _wait_for(
    what: str, ready: Callable[[], bool], processes: list[subprocess.Popen[bytes]], seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if any(p.poll() is not None for p in processes):
            raise SystemExit(f"{what} did not start: a process exited early (see its output above)")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not become ready within {seconds:.0f}s")
        time.sleep(0.2)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _api_healthy(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"http://{settings.api_host}:{settings.api_port}/health", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def start_dev_server(settings: Settings, codec_endpoint: str | None = None) -> subprocess.Popen[bytes]:
    if _port_open(settings.dev_server_port):
        raise SystemExit(
            f"port {settings.dev_server_port} is already in use: stop that Temporal server, or set"
            " TEMPORAL_ADDRESS to use it instead of starting one"
        )
    private_folder(settings.data_dir)  # this user's alone: databases and API keys live here
    command = [
        binaries.temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.data_dir / "temporal.sqlite3"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.dev_server_port),
        "--ui-port",
        str(settings.dev_ui_port),
        "--log-level",
        "error",
        *sa.dev_server_flags(),
        *(["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []),
    ]
    return spawn(command, dict(os.environ))


def local_api_keys(settings: Settings) -> dict[str, dict[str, str]]:
    """The keys in ``<data>/api-keys.json``, created once with a platform, a care, a supervisor and
    an admin key."""
    path = settings.data_dir / "api-keys.json"
    if path.exists():
        keys: dict[str, dict[str, str]] = json.loads(path.read_text())
        return keys
    keys = {
        f"{prefix}-local-{secrets.token_urlsafe(18)}": {"name": f"local-{role}", "role": role}
        for prefix, role in (("pk", "platform"), ("ck", "care"), ("sk", "supervisor"), ("ak", "admin"))
    }
    private_folder(settings.data_dir)
    path.touch(mode=0o600)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    return keys


def local_payload_keys(settings: Settings) -> dict[str, str]:
    """The payload keys in ``<data>/payload-keys.json``, created once: one AES-256 key, so the
    local stack stores ciphertext in Temporal and the Web UI decrypts it through the API's codec.
    Every process reads them through ``Settings.payload_keys`` (``make replay-check`` too)."""
    keys: dict[str, str] = json.loads(new_key_file(settings.data_dir).read_text())
    return keys


def private_data(settings: Settings) -> None:
    """Make the data folder this user's alone, with what an older version or another umask left
    there: folders 0700, files 0600 (API and payload keys, the databases, evidence)."""
    private_folder(settings.data_dir)
    for folder, subfolders, files in os.walk(settings.data_dir):
        for name in subfolders:
            _tighten(Path(folder) / name, 0o700)
        for name in files:
            _tighten(Path(folder) / name, 0o600)


def _tighten(path: Path, mode: int) -> None:
    try:
        found = path.lstat()
    except FileNotFoundError:  # e.g. a SQLite -shm file removed meanwhile
        return
    if (
        found.st_uid == os.geteuid()
        and not stat.S_ISLNK(found.st_mode)
        and stat.S_IMODE(found.st_mode) != mode
    ):
        path.chmod(mode)


async def _register_search_attributes() -> None:
    client = await connect()
    await sa.register(client)


def main() -> None:
    """Start everything, print where to look, and stop it all on Ctrl-C."""
    # Everything this launcher and its children create (keys, the dev server's database, the
    # service database, evidence) is readable by this user only: the Temporal CLI makes its
    # database 0644 otherwise, and it holds every case.
    os.umask(0o077)
    settings = get_settings()
    private_data(settings)
    env = dict(os.environ)
    processes: list[subprocess.Popen[bytes]] = []
    ui_url = None
    keys_note = "API keys:     from DISPUTES_API_KEYS"
    # Locally, webhook receivers run on this machine: let deliveries reach loopback addresses.
    env.setdefault("DISPUTES_WEBHOOK_ALLOW_PRIVATE_HOSTS", "true")
    if "DISPUTES_API_KEYS" not in env:
        keys = local_api_keys(settings)
        env["DISPUTES_API_KEYS"] = json.dumps(keys)
        by_role = {holder["role"]: key for key, holder in keys.items()}
        keys_note = (
            "API keys:     "
            + "\n              ".join(f"{role:<10} {key}" for role, key in by_role.items())
            + f"\n              (in {settings.data_dir / 'api-keys.json'})"
        )
    keys_given = "DISPUTES_PAYLOAD_KEYS" in env
    if not keys_given:
        local_payload_keys(settings)  # the worker and the API read them from the data folder
    # The Web UI's codec credential: a secret in the endpoint URL, the one codec setting the dev
    # server passes to the UI (no Origin header is trusted; README "Payload encryption").
    ui_token = env.setdefault("DISPUTES_CODEC_UI_TOKEN", secrets.token_urlsafe(32))
    codec_endpoint = f"http://127.0.0.1:{settings.api_port}/codec/ui/{ui_token}"
    encrypted = not keys_given or env["DISPUTES_PAYLOAD_KEYS"].strip() not in ("", "{}")
    if "TEMPORAL_ADDRESS" in env:
        print(f"Using the Temporal cluster at {env['TEMPORAL_ADDRESS']} (no local server started)")
        try:
            asyncio.run(_register_search_attributes())
        except Exception as error:  # e.g. Temporal Cloud, where an admin registers them
            print(f"warning: could not register search attributes ({error}); register them by hand")
    else:
        processes.append(start_dev_server(settings, codec_endpoint if encrypted else None))
        env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{settings.dev_server_port}"
        _wait_for("Temporal dev server", lambda: _port_open(settings.dev_server_port), processes)
        ui_url = f"http://127.0.0.1:{settings.dev_ui_port}"
        env.setdefault("DISPUTES_CODEC_UI_ORIGIN", ui_url)  # the UI calls the codec from the browser
    # Two worker processes: a hostile or dead webhook receiver can exhaust only the webhook
    # worker, never the one that pays out refunds and keeps the cases' clocks.
    processes.append(spawn([sys.executable, "worker.py", "--role", "cases"], env))
    webhooks_env = webhook_worker_env(env, settings)
    processes.append(spawn([sys.executable, "worker.py", "--role", "webhooks"], webhooks_env))
    processes.append(
        spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                settings.api_host,
                "--port",
                str(settings.api_port),
                "--log-level",
                "warning",
            ],
            env,
        )
    )

    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        _wait_for("API", lambda: stopping or _api_healthy(settings), processes)
        if not stopping:
            base = f"http://{settings.api_host}:{settings.api_port}"
            print(f"\nAPI:          {base}  (docs: {base}/docs)")
            if ui_url:
                print(f"Temporal UI:  {ui_url}")
            if encrypted:
                where = "DISPUTES_PAYLOAD_KEYS" if keys_given else settings.data_dir / "payload-keys.json"
                decrypted = f"; the UI decrypts them through {base}/codec/ui/<token>" if ui_url else ""
                print(f"Payloads:     encrypted (keys from {where}){decrypted}")
            print(keys_note)
            if settings.worker_metrics_port:
                worker_metrics = f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
                webhook_metrics = webhooks_env["DISPUTES_WORKER_METRICS_PORT"]
                print(
                    f"Metrics:      {base}/metrics (API), {worker_metrics} (worker),"
                    f" http://127.0.0.1:{webhook_metrics}/metrics (webhook worker)"
                )
            database = make_url(settings.store_url).render_as_string(hide_password=True)
            print(f"Database:     {database}")
            print(f"Data folder:  {settings.data_dir.resolve()}\nPress Ctrl-C to stop.\n", flush=True)
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.3)
    finally:
        _shutdown(processes)
    failed = [p for p in processes if p.returncode not in (0, -signal.SIGINT, -signal.SIGTERM)]
    if not stopping or failed:
        raise SystemExit("a process stopped unexpectedly; everything was shut down")
    print("Stopped the API, the workers and the Temporal server.")


def webhook_worker_env(env: dict[str, str], settings: Settings) -> dict[str, str]:
    """The webhook worker's environment: the cases' worker's, with its metrics on the next port
    (or, when that is taken, any free one) so both processes can be scraped."""
    if not settings.worker_metrics_port:
        return env
    return env | {"DISPUTES_WORKER_METRICS_PORT": str(_port_near(settings.worker_metrics_port + 1))}


def _port_near(port: int) -> int:
    """``port`` if nothing listens there, else a free port the system picks."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        found: int = probe.getsockname()[1]
        return found


def spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C reaches only this launcher, which stops the children in order.
    return subprocess.Popen(command, env=env, start_new_session=True)


def _shutdown(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop the API first, then the worker, then the server; each gets time to finish cleanly."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
