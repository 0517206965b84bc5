"""The docker-compose deployment, validated without a Docker engine: docker-compose.yml against the
Compose specification, its environment names against the code, the admin step's search attributes
against core.search_attributes.ALL, the service database's steps (run against a real PostgreSQL),
scaling and start order, the Dockerfile and .dockerignore."""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import temporalio.envconfig
import yaml
from compose_spec import PyOptions
from sqlalchemy.engine import make_url
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.envconfig import ClientConfigProfile

from api.main import create_app
from core import search_attributes as sa
from core.codec import EncryptionCodec
from core.settings import Settings, env_name
from store.migrate import migrate
from tests.postgres import PostgresServer
from wiring.temporal import data_converter

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SETUP_SCRIPT = ROOT / "deploy" / "temporal-setup.sh"
SERVICE_DB_SCRIPT = ROOT / "deploy" / "service-database.sh"
SERVICE_DB_STEP, MIGRATE_STEP = "service-database", "migrate"
APP_SERVICES = ("api", "worker")  # built from the project's Dockerfile
ADMIN_STEP = "temporal-setup"
TEMPORAL_CLIENTS = (*APP_SERVICES, ADMIN_STEP)  # read TEMPORAL_* through the SDK's / CLI's envconfig
ONE_SHOT_RESTARTS = (None, "no")


# --- helpers ------------------------------------------------------------------------------------


def parse_compose(text: str) -> dict[str, Any]:
    """The file as the Compose specification reads it (YAML merge keys applied), or ValueError."""
    compose = PyOptions(apply_merge=True).from_yaml(text)
    compose.validate()  # networks, volumes, configs and secrets used by services are defined
    compose.to_spec()  # and the whole document validates against the specification's model
    spec = compose.to_dict()
    problems = reference_problems(spec)
    if problems:
        raise ValueError("; ".join(problems))
    return spec


def reference_problems(spec: dict[str, Any]) -> list[str]:
    """What compose_spec leaves unchecked: dependencies, named volumes, configs and bind mounts exist."""
    services: dict[str, Any] = spec["services"]
    volumes = set(spec.get("volumes") or {})
    configs = set(spec.get("configs") or {})
    problems = []
    for name, service in services.items():
        problems += [f"{name} depends on unknown {dep}" for dep in depends_on(service) if dep not in services]
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith((".", "/", "~")):
                if not (ROOT / source).exists():
                    problems.append(f"{name} mounts missing {source}")
            elif source and source not in volumes:
                problems.append(f"{name} uses undeclared volume {source}")
        for config in service.get("configs", []):
            source = config if isinstance(config, str) else config["source"]
            if source not in configs:
                problems.append(f"{name} uses undeclared config {source}")
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            if not (ROOT / context / "Dockerfile").is_file():
                problems.append(f"{name} builds from {context} without a Dockerfile")
    return problems


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency -> condition, for both the short (list) and the long (map) syntax."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (dep or {}).get("condition", "service_started") for name, dep in deps.items()}


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {k: (v[0] if v else None) for k, *v in (entry.split("=", 1) for entry in env)}
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def scaling_problems(spec: dict[str, Any]) -> list[str]:
    worker = spec["services"]["worker"]
    pinned = ("container_name", "ports", "hostname")
    problems = [f"worker sets {key}: --scale worker=N would clash" for key in pinned if worker.get(key)]
    for name in APP_SERVICES:
        for step in (ADMIN_STEP, MIGRATE_STEP):
            if depends_on(spec["services"][name]).get(step) != "service_completed_successfully":
                problems.append(f"{name} does not wait for {step} to complete successfully")
    return problems


def health_problems(spec: dict[str, Any]) -> list[str]:
    services: dict[str, Any] = spec["services"]
    problems = []
    for name, service in services.items():
        for dep, condition in depends_on(service).items():
            target = services.get(dep, {})
            check = target.get("healthcheck") or {}
            if condition == "service_healthy" and (not check.get("test") or check.get("disable")):
                problems.append(f"{name} waits for {dep} to be healthy but {dep} has no healthcheck")
            restart = target.get("restart")
            if condition == "service_completed_successfully" and restart not in ONE_SHOT_RESTARTS:
                problems.append(f"{name} waits for one-shot {dep}, which restarts: {restart}")
    return problems


def cli_type(value_type: SearchAttributeIndexedValueType) -> str:
    """KEYWORD_LIST -> KeywordList: the spelling of `temporal operator search-attribute create --type`."""
    return "".join(part.capitalize() for part in value_type.name.split("_"))


def script_search_attributes(script: str) -> dict[str, str]:
    block = re.search(r"^SEARCH_ATTRIBUTES='([^']*)'", script, re.MULTILINE)
    assert block, "deploy/temporal-setup.sh has no SEARCH_ATTRIBUTES='...' list"
    pairs = [line.strip().split("=", 1) for line in block.group(1).splitlines() if line.strip()]
    return {name: type_ for name, type_ in pairs}


def envconfig_literals() -> set[str]:
    """TEMPORAL_* names in the SDK's envconfig source (the Rust core the Python module binds to)."""
    package = Path(temporalio.envconfig.__file__).parent
    names = set(re.findall(r"\bTEMPORAL_[A-Z0-9_]+", Path(temporalio.envconfig.__file__).read_text()))
    source = package / "bridge" / "sdk-core" / "crates" / "common" / "src" / "envconfig.rs"
    if source.is_file():
        names |= set(re.findall(r'"(TEMPORAL_[A-Z0-9_]+)"', source.read_text()))
    return names


def sdk_reads(name: str, value: str | None) -> bool:
    """Whether the SDK's envconfig, which wiring.temporal.connect uses, takes ``name`` into account."""
    if name in envconfig_literals():
        return True
    empty = ClientConfigProfile.load(disable_file=True, override_env_vars={})
    probe = value or "probe"
    return ClientConfigProfile.load(disable_file=True, override_env_vars={name: probe}) != empty


@dataclass
class Dockerfile:
    instructions: list[tuple[str, str]]

    @classmethod
    def read(cls, path: Path) -> Dockerfile:
        logical = re.sub(r"\\\n", " ", path.read_text())
        lines = [line.strip() for line in logical.splitlines()]
        split = [line.partition(" ") for line in lines if line and not line.startswith("#")]
        return cls([(keyword, args.strip()) for keyword, _, args in split])

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key.upper() == keyword]

    def base_images(self) -> list[str]:
        args = dict(arg.split("=", 1) for arg in self.all("ARG") if "=" in arg)
        images = [line.split()[0] for line in self.all("FROM")]
        return [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image) for image in images]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, closely enough: the last matching pattern wins; a match on a parent counts."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").strip("/")
        variants = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(c, v) for c in candidates for v in variants):
            ignored = not negate
    return ignored


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return parse_compose(COMPOSE.read_text())


# --- (a) the Compose specification --------------------------------------------------------------


def test_compose_file_follows_the_compose_specification(spec: dict[str, Any]) -> None:
    assert set(spec["services"]) >= {"postgresql", "temporal", ADMIN_STEP, "temporal-ui", *APP_SERVICES}
    # PyYAML reads the same document the same way (anchors and merge keys included).
    plain = yaml.safe_load(COMPOSE.read_text())
    assert set(plain["services"]) == set(spec["services"])
    for name in APP_SERVICES:
        assert environment(plain["services"][name]) == environment(spec["services"][name])


BROKEN = {
    "unknown top-level key": ("\nvolumes:\n", "\nvolumez:\n"),
    "unknown service key": ("    stop_grace_period: 45s", "    stop_grace_periode: 45s"),
    "unknown depends_on condition": ("condition: service_completed_successfully", "condition: service_done"),
    "unknown restart policy": ('restart: "no"', 'restart: "never"'),
    "bad healthcheck duration": ("interval: 5s", "interval: 5 seconds"),
    "undeclared named volume": ("- disputes-data:/data", "- disputes-dta:/data"),
    "dependency on a missing service": (
        "temporal-setup:\n      condition:",
        "temporal-stup:\n      condition:",
    ),
    "missing mounted script": ("./deploy/temporal-setup.sh:", "./deploy/temporal-setup.bash:"),
}


@pytest.mark.parametrize("breakage", BROKEN, ids=list(BROKEN))
def test_a_broken_copy_is_rejected(breakage: str, tmp_path: Path) -> None:
    old, new = BROKEN[breakage]
    text = COMPOSE.read_text()
    assert old in text, f"the mutation {breakage!r} no longer applies to docker-compose.yml"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(ValueError):
        parse_compose(broken.read_text())


# --- (b) environment names match what the code reads ---------------------------------------------


def test_every_disputes_variable_is_a_setting(spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    assert prefix == "DISPUTES_"
    known = {env_name(field) for field in Settings.model_fields}
    used = set(re.findall(r"\bDISPUTES_[A-Z0-9_]+", COMPOSE.read_text()))
    assert used, "docker-compose.yml configures no DISPUTES_* variable"
    assert used <= known, f"not settings of core.settings.Settings: {sorted(used - known)}"
    assert "DISPUTES_TASK_QUEU" not in known  # the comparison does tell names apart

    # The values parse, and api and worker see the same task queue and data directory.
    env = environment(spec["services"]["api"])
    for name in known:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if name.startswith(prefix) and value is not None:
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.task_queue == env["DISPUTES_TASK_QUEUE"]
    assert settings.data_dir == Path("/data")


def test_every_temporal_variable_is_read_by_the_sdk(spec: dict[str, Any]) -> None:
    for name in TEMPORAL_CLIENTS:
        env = environment(spec["services"][name])
        temporal = {k: v for k, v in env.items() if k.startswith("TEMPORAL_")}
        assert {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"} <= set(temporal), name
        unread = [k for k, v in temporal.items() if not sdk_reads(k, v)]
        assert not unread, f"{name}: the SDK's envconfig does not read {unread}"
    assert not sdk_reads("TEMPORAL_ADRESS", "temporal:7233")  # a typo is caught

    # What wiring.temporal.connect would get inside the api container, and one namespace everywhere.
    api_env = {k: v for k, v in environment(spec["services"]["api"]).items() if v is not None}
    profile = ClientConfigProfile.load(disable_file=True, override_env_vars=api_env)
    config = profile.to_client_connect_config()
    host, _, port = config["target_host"].partition(":")
    assert host == "temporal" and port == "7233"
    namespaces = {environment(spec["services"][name])["TEMPORAL_NAMESPACE"] for name in TEMPORAL_CLIENTS}
    assert namespaces == {config["namespace"]}
    assert environment(spec["services"]["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"] == config["namespace"]


# --- (c) the admin step registers exactly the search attributes in code --------------------------


def test_setup_script_lists_the_search_attributes_in_code() -> None:
    expected = {key.name: cli_type(key.indexed_value_type) for key in sa.ALL}
    assert script_search_attributes(SETUP_SCRIPT.read_text()) == expected
    assert cli_type(SearchAttributeIndexedValueType.KEYWORD_LIST) == "KeywordList"


# Custom search attribute columns per namespace in Temporal's SQL visibility schema (PostgreSQL
# v12 schema, also the dev server's SQLite): registering one more than this fails on the cluster.
SQL_VISIBILITY_SLOTS = {"Keyword": 10} | dict.fromkeys(
    ["KeywordList", "Text", "Int", "Double", "Bool", "Datetime"], 3
)


def test_the_search_attributes_fit_postgresql_visibility() -> None:
    used = Counter(cli_type(key.indexed_value_type) for key in sa.ALL)
    over = {kind: n for kind, n in used.items() if n > SQL_VISIBILITY_SLOTS[kind]}
    assert not over, f"more custom search attributes than PostgreSQL visibility holds: {over}"


FAKE_CLI = """\
import json, os, sys

state_path = os.environ["FAKE_TEMPORAL_STATE"]
state = json.load(open(state_path)) if os.path.exists(state_path) else {"namespaces": [], "attributes": {}}
args = sys.argv[1:]
with open(os.environ["FAKE_TEMPORAL_LOG"], "a") as log:
    env = {k: v for k, v in os.environ.items() if k.startswith("TEMPORAL_")}
    log.write(json.dumps({"args": args, "env": env}) + "\\n")

def option(name):
    return args[args.index(name) + 1]

def save():
    with open(state_path, "w") as out:
        json.dump(state, out)

command = args[:3]
if command == ["operator", "cluster", "health"]:
    print("SERVING")
elif command == ["operator", "namespace", "describe"]:
    sys.exit(0 if option("--namespace") in state["namespaces"] else 1)
elif command == ["operator", "namespace", "create"]:
    state["namespaces"].append(option("--namespace"))
    save()
elif command == ["operator", "search-attribute", "create"]:
    name, kind = option("--name"), option("--type")
    if state["attributes"].get(name, kind) != kind:
        print(f"Error: search attribute {name} already exists and has different type", file=sys.stderr)
        sys.exit(1)
    state["attributes"][name] = kind
    save()
elif command == ["operator", "search-attribute", "list"]:
    print("  Name  Type")
    for name, kind in state["attributes"].items():
        print(f"  {name}  {kind}")
else:
    sys.exit(2)
"""


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
def test_setup_script_registers_them_idempotently_and_refuses_a_type_change(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    cli = tmp_path / "temporal"
    cli.write_text(f"#!{sys.executable}\n{FAKE_CLI}")
    cli.chmod(0o755)
    state, log = tmp_path / "state.json", tmp_path / "calls.jsonl"
    setup_env = {k: v for k, v in environment(spec["services"][ADMIN_STEP]).items() if v is not None}
    env = {"PATH": os.environ["PATH"], **setup_env, "TEMPORAL_CLI": str(cli), "SETUP_ATTEMPTS": "2"}
    env |= {"FAKE_TEMPORAL_STATE": str(state), "FAKE_TEMPORAL_LOG": str(log)}

    def run() -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
        log.write_text("")
        done = subprocess.run(["sh", str(SETUP_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        return done, [json.loads(line) for line in log.read_text().splitlines()]

    first, calls = run()
    assert first.returncode == 0, first.stdout + first.stderr
    namespace = setup_env["TEMPORAL_NAMESPACE"]
    expected = {key.name: cli_type(key.indexed_value_type) for key in sa.ALL}
    assert json.loads(state.read_text()) == {"namespaces": [namespace], "attributes": expected}
    create = next(c["args"] for c in calls if c["args"][:3] == ["operator", "namespace", "create"])
    assert create[create.index("--retention") + 1] == setup_env["NAMESPACE_RETENTION"]
    for call in calls:  # every call goes to the configured server and namespace
        assert call["env"]["TEMPORAL_ADDRESS"] == setup_env["TEMPORAL_ADDRESS"]
        assert call["env"]["TEMPORAL_NAMESPACE"] == setup_env["TEMPORAL_NAMESPACE"]

    again, calls = run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert not [c for c in calls if c["args"][:3] == ["operator", "namespace", "create"]]

    state.write_text(json.dumps({"namespaces": [namespace], "attributes": {"CaseKind": "Int"}}))
    conflict, _ = run()
    assert conflict.returncode != 0
    assert "CaseKind exists with another type" in conflict.stdout + conflict.stderr


# --- (d) scaling and start order, (e) health checks ----------------------------------------------


def test_workers_scale_and_start_after_the_admin_step(spec: dict[str, Any]) -> None:
    assert scaling_problems(spec) == []
    services = spec["services"]
    assert services[ADMIN_STEP].get("restart") == "no"
    assert depends_on(services[ADMIN_STEP]) == {"temporal": "service_healthy"}
    assert depends_on(services["temporal"])["temporal-schema"] == "service_completed_successfully"
    assert depends_on(services["temporal-schema"]) == {"postgresql": "service_healthy"}

    pinned = copy.deepcopy(spec)
    pinned["services"]["worker"]["container_name"] = "worker"
    del pinned["services"]["api"]["depends_on"][ADMIN_STEP]
    del pinned["services"]["worker"]["depends_on"][MIGRATE_STEP]
    assert len(scaling_problems(pinned)) == 3


def test_every_awaited_service_has_a_health_check(spec: dict[str, Any]) -> None:
    assert health_problems(spec) == []
    conditions = [depends_on(service) for service in spec["services"].values()]
    awaited = {
        dep for deps in conditions for dep, condition in deps.items() if condition == "service_healthy"
    }
    assert awaited >= {"postgresql", "temporal"}
    assert "pg_isready" in " ".join(spec["services"]["postgresql"]["healthcheck"]["test"])

    unchecked = copy.deepcopy(spec)
    del unchecked["services"]["temporal"]["healthcheck"]
    unchecked["services"][ADMIN_STEP]["restart"] = "always"
    problems = health_problems(unchecked)
    assert f"{ADMIN_STEP} waits for temporal to be healthy but temporal has no healthcheck" in problems
    assert f"worker waits for one-shot {ADMIN_STEP}, which restarts: always" in problems


def test_api_and_worker_are_one_image_with_one_environment(spec: dict[str, Any]) -> None:
    api, worker = (spec["services"][name] for name in APP_SERVICES)
    assert api["build"] == worker["build"] == "."
    # The worker's environment is the api's; the api alone also holds its API keys.
    assert environment(worker).items() <= environment(api).items()
    assert set(environment(api)) - set(environment(worker)) == {"DISPUTES_API_KEYS"}
    data_dir = environment(api)["DISPUTES_DATA_DIR"]
    assert api["volumes"] == worker["volumes"] == [f"disputes-data:{data_dir}"]
    # The cases' worker and the webhook worker: one image, two processes (a hostile receiver
    # can exhaust only the webhook worker).
    assert worker["command"] == ["python", "-m", "worker", "--role", "cases"]
    webhook_worker = spec["services"]["webhook-worker"]
    assert webhook_worker["command"] == ["python", "-m", "worker", "--role", "webhooks"]
    assert environment(webhook_worker) == environment(worker)
    assert api["command"] == ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000"]
    assert api["ports"] == ["8000:8000"]
    # The health check asks the port uvicorn listens on for a route the app serves.
    probe = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/-]*)", " ".join(api["healthcheck"]["test"]))
    assert probe, api["healthcheck"]
    assert probe.group(1) == api["command"][api["command"].index("--port") + 1]
    assert probe.group(2) == "/health"
    assert probe.group(2) in create_app().openapi()["paths"]


def compose_duration(value: str) -> timedelta:
    """A Compose duration (``45s``, ``1m30s``, ``1h``) as a timedelta."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", value)
    assert parts and "".join(n + unit for n, unit in parts) == value, f"not a Compose duration: {value!r}"
    unit_seconds = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return timedelta(seconds=sum(float(n) * unit_seconds[unit] for n, unit in parts))


def test_a_stopping_worker_finishes_its_payouts_before_docker_kills_it(
    spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # docker compose stop / a rolling update: SIGTERM, then SIGKILL after stop_grace_period. The
    # worker lets running effect steps finish for its shutdown grace, which covers a whole
    # attempt (the activity timeout); the grace period leaves time to exit after that.
    worker = spec["services"]["worker"]
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)
    for name, value in environment(worker).items():
        if name.startswith("DISPUTES_") and value:
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert environment(worker)["DISPUTES_WORKER_SHUTDOWN_GRACE"], (
        "set the grace in compose, beside the period"
    )
    stop_grace = compose_duration(worker["stop_grace_period"])
    assert settings.worker_shutdown_grace >= settings.activity_timeout
    assert stop_grace >= settings.worker_shutdown_grace + timedelta(seconds=10), (
        f"stop_grace_period {stop_grace} leaves the worker no time to exit after its grace"
        f" {settings.worker_shutdown_grace}"
    )
    assert compose_duration("1m30s") == timedelta(seconds=90)


# --- (f) the service database: created, migrated, then used --------------------------------------


def test_the_service_database_is_created_then_migrated_before_api_and_worker(spec: dict[str, Any]) -> None:
    services = spec["services"]
    creator, migrator = services[SERVICE_DB_STEP], services[MIGRATE_STEP]
    assert depends_on(creator) == {"postgresql": "service_healthy"}
    assert depends_on(migrator) == {SERVICE_DB_STEP: "service_completed_successfully"}
    assert creator["restart"] == migrator["restart"] == "no"
    assert creator["image"] == services["postgresql"]["image"]  # its psql matches the server
    assert migrator["build"] == services["api"]["build"]
    assert migrator["command"] == ["python", "-m", "store.migrate"]
    migrate_module = ROOT / "store" / "migrate.py"
    assert migrate_module.is_file() and "def main(" in migrate_module.read_text()

    # migrate, api and worker connect to the database and role the creating step makes, on the
    # postgresql service, with the same password variable.
    api_env = environment(services["api"])
    assert environment(migrator) == {k: v for k, v in api_env.items() if k != "DISPUTES_API_KEYS"}
    url = make_url(api_env["DISPUTES_DATABASE_URL"] or "")
    created = environment(creator)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port) == ("postgresql", 5432)
    assert (url.database, url.username) == (created["SERVICE_DB_NAME"], created["SERVICE_DB_USER"])
    assert url.password == created["SERVICE_DB_PASSWORD"] == "${SERVICE_DB_PASSWORD:-disputes}"
    assert created["PGHOST"] == "postgresql"
    assert created["PGPASSWORD"] == environment(services["postgresql"])["POSTGRES_PASSWORD"]
    assert creator["volumes"] == [f"./{SERVICE_DB_SCRIPT.relative_to(ROOT)}:/deploy/service-database.sh:ro"]


def test_the_service_database_step_is_idempotent_and_its_role_can_migrate(
    spec: dict[str, Any], postgres: PostgresServer
) -> None:
    """The compose step's script against a real PostgreSQL server, twice, then the migration as
    the role it created (the owner, no superuser)."""
    created = environment(spec["services"][SERVICE_DB_STEP])
    env = {
        "PATH": f"{postgres.bin}:{os.environ['PATH']}",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(postgres.port),
        "PGUSER": "postgres",
        "SERVICE_DB_NAME": f"disputes_{uuid.uuid4().hex[:8]}",
        "SERVICE_DB_USER": f"disputes_{uuid.uuid4().hex[:8]}",
        "SERVICE_DB_PASSWORD": "it's a s3cret; DROP TABLE x",
    }
    assert {"SERVICE_DB_NAME", "SERVICE_DB_USER", "SERVICE_DB_PASSWORD"} <= set(created)
    for _ in range(2):
        done = subprocess.run(
            ["sh", str(SERVICE_DB_SCRIPT)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
    url = make_url(postgres.url(env["SERVICE_DB_NAME"])).set(
        username=env["SERVICE_DB_USER"], password=env["SERVICE_DB_PASSWORD"]
    )
    migrate(url.render_as_string(hide_password=False))
    with psycopg.connect(
        host="127.0.0.1", port=postgres.port, user="postgres", dbname=env["SERVICE_DB_NAME"]
    ) as db:
        owners = db.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        role = db.execute(
            "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = %s", (env["SERVICE_DB_USER"],)
        )
        assert owners == [(env["SERVICE_DB_USER"],)]
        assert role.fetchall() == [(False, False)]


# --- the Dockerfile and the build context --------------------------------------------------------


def test_dockerfile_builds_one_unprivileged_image_that_runs_the_worker() -> None:
    dockerfile = Dockerfile.read(ROOT / "Dockerfile")
    assert set(dockerfile.base_images()) == {"python:3.11-slim"}
    assert dockerfile.all("USER")[-1].split(":")[0] not in ("root", "0")
    assert json.loads(dockerfile.all("CMD")[-1]) == ["python", "-m", "worker"]
    assert dockerfile.all("HEALTHCHECK") == []  # health checks live in docker-compose.yml
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert any("pip install" in run and project in run for run in dockerfile.all("RUN"))


def test_dockerignore_keeps_local_state_out_and_the_code_in() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for local in (".git", ".venv", "data", ".mypy_cache", ".pytest_cache", ".ruff_cache", "tests/artifacts"):
        assert dockerignored(local, patterns), f"{local} is sent to the Docker build"
    assert dockerignored("api/__pycache__/main.cpython-311.pyc", patterns)
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    needed = ["pyproject.toml"]
    needed += [f"{package.replace('.', '/')}/__init__.py" for package in setuptools["packages"]]
    needed += [f"{module}.py" for module in setuptools.get("py-modules", [])]
    for path in needed:
        assert (ROOT / path).is_file(), path
        assert not dockerignored(path, patterns), f"{path} is needed in the image but .dockerignore drops it"


# --- (g) payload encryption: on by default -------------------------------------------------------

KEYS_STEP = "payload-keys"


def test_payload_keys_are_made_once_before_api_and_worker_start(spec: dict[str, Any]) -> None:
    """Before: compose left DISPUTES_PAYLOAD_KEYS empty and Temporal stored every case in plain text."""
    services = spec["services"]
    step = services[KEYS_STEP]
    assert step["restart"] == "no" and step["build"] == services["api"]["build"]
    assert step["command"] == ["python", "-m", "core.codec"]
    assert step["volumes"] == services["api"]["volumes"]  # writes where api and worker read
    assert environment(step) == environment(services["worker"])
    for name in APP_SERVICES:
        assert depends_on(services[name]).get(KEYS_STEP) == "service_completed_successfully", name
    # the keys are a secret: never a value in this file
    assert environment(services["api"])["DISPUTES_PAYLOAD_KEYS"] is None
    assert environment(services["api"])["DISPUTES_CODEC_UI_TOKEN"] is None


def test_the_compose_environment_encrypts_with_the_steps_key(
    spec: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the step's command on the compose environment (the data folder moved to tmp), then build
    the api's and the worker's settings from the same environment: they encrypt, with that key."""
    env = environment(spec["services"][KEYS_STEP])
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)
    variables = {k: v for k, v in env.items() if k.startswith("DISPUTES_") and v is not None}
    variables["DISPUTES_DATA_DIR"] = str(tmp_path / "data")
    step = [sys.executable, *spec["services"][KEYS_STEP]["command"][1:]]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTES_")} | variables
    for _ in range(2):  # a second `docker compose up` keeps the key
        subprocess.run(step, cwd=ROOT, env=child_env, check=True, capture_output=True, timeout=60)
    key_file = tmp_path / "data" / "payload-keys.json"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    keys = json.loads(key_file.read_text())
    assert len(keys) == 1

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.payload_keys == keys
    assert settings.dispute_policy().redact_details  # free text stays out of plain metadata too
    converter = data_converter(settings)
    assert isinstance(converter.payload_codec, EncryptionCodec)


# --- (h) alerts and dashboards: Prometheus and Grafana, provisioned -----------------------------


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of a service: the path inside the container -> the repository path."""
    found = {}
    for mount in service.get("volumes", []):
        source, target = (
            (mount.split(":")[:2]) if isinstance(mount, str) else (mount["source"], mount["target"])
        )
        if source.startswith("./"):
            found[target] = source.removeprefix("./")
    return found


def test_prometheus_scrapes_the_api_and_every_worker_with_the_shipped_rules(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    prometheus = spec["services"]["prometheus"]
    mounted = mounts(prometheus)
    config_path = next(
        arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file=")
    )
    config = yaml.safe_load((ROOT / mounted[config_path]).read_text())
    [rules] = config["rule_files"]
    assert mounted[rules] == "deploy/prometheus/alerts.yml"
    jobs = {job["job_name"]: job["dns_sd_configs"][0] for job in config["scrape_configs"]}
    api_port = int(spec["services"]["api"]["command"][spec["services"]["api"]["command"].index("--port") + 1])
    worker_env = environment(spec["services"]["worker"])
    assert jobs["disputes-api"]["names"] == ["api"] and jobs["disputes-api"]["port"] == api_port
    assert jobs["disputes-worker"]["names"] == ["worker"]  # every replica's address
    assert jobs["disputes-worker"]["port"] == int(worker_env["DISPUTES_WORKER_METRICS_PORT"] or 0)
    assert worker_env["DISPUTES_WORKER_METRICS_HOST"] == "0.0.0.0"  # reachable from prometheus
    # the webhook workers too: dead letters and disabled subscriptions are counted there
    assert jobs["disputes-webhook-worker"]["names"] == ["webhook-worker"]
    assert jobs["disputes-webhook-worker"]["port"] == jobs["disputes-worker"]["port"]
    assert environment(spec["services"]["webhook-worker"]) == worker_env
    assert set(depends_on(prometheus)) == {"api", "worker", "webhook-worker"}
    # promtool accepts the configuration, with the rules where the container has them
    local = copy.deepcopy(config)
    local["rule_files"] = [str(ROOT / mounted[rules])]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(local))
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool (Debian's prometheus package) is required: .ci/run installs it")
    checked = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_is_provisioned_with_prometheus_and_the_generated_dashboards(spec: dict[str, Any]) -> None:
    grafana = spec["services"]["grafana"]
    mounted = {repo: target for target, repo in mounts(grafana).items()}
    assert mounted["deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    prometheus_port = spec["services"]["prometheus"]["ports"][0].split(":")[-1]
    assert source["url"] == f"http://prometheus:{prometheus_port}" and source["type"] == "prometheus"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "disputes.yml").read_text())["providers"]
    assert provider["options"]["path"] == mounted["deploy/grafana/dashboards"]
    boards = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
    assert len(boards) >= 4
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] or ""
    assert home.startswith(provider["options"]["path"] + "/") and Path(home).name in {b.name for b in boards}
    for board in boards:
        panels = json.loads(board.read_text())["panels"]
        for panel in panels:
            for target in panel.get("targets", []):
                assert target["datasource"] == {"type": "prometheus", "uid": source["uid"]}, board.name
    assert "prometheus" in depends_on(grafana)
