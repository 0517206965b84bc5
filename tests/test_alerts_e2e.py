"""The shipped alerts and dashboards against a running stack: the API and worker.py as processes on
a Temporal dev server, effects over HTTP to a platform that refuses refunds for good, and a real
Prometheus (Debian's binary) scraping both with the shipped rules (only the parked-case alert's
``for:`` shortened, in a copy). The parked-case alert fires when a refund is refused for good; every
metric the rules and the dashboards name is one the API or the worker really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from scripts import dashboards
from tests.platform import Receiver, platform_receiver
from tests.postgres import free_port
from tests.processes import (
    Process,
    Service,
    agree,
    effects_over_http,
    open_dispute,
    service,
    temporal_address,
    until,
)
from tests.support import AS_ADMIN, AS_CARE, BUYER, CARE, SELLER

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
PARKED_ALERT = "CasesNeedingAttention"
#: PromQL words that are not metric names.
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "irate", "increase", "by", "without", "on", "ignoring",
    "histogram_quantile", "clamp_min", "clamp_max", "and", "or", "unless", "le", "bool", "vector",
    "absent", "time", "group_left", "group_right", "topk", "bottomk", "offset", "delta", "deriv",
    "label_replace", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "changes",
    "resets", "scalar", "sort", "sort_desc", "abs", "ceil", "floor", "round", "inf", "nan",
}  # fmt: skip
STACK_SETTINGS = {
    # A release is refused twice before it goes through: its third attempt is over the threshold.
    "DISPUTES_EFFECT_ALERT_ATTEMPTS": "2",
    "DISPUTES_ACTIVITY_MAX_RETRY_INTERVAL": "PT1S",
    "DISPUTES_MONEY_RETRY_WINDOW": "PT1H",
    # A mediation breaches care's reply target within seconds.
    "DISPUTES_CARE_REPLY_WARNING": "PT1S",
    "DISPUTES_CARE_REPLY_TARGET": "PT2S",
    # A delivery to a receiver that is down becomes a dead letter within seconds.
    "DISPUTES_WEBHOOK_RETRY_WINDOW": "PT2S",
    "DISPUTES_WEBHOOK_MAX_RETRY_INTERVAL": "PT1S",
    "DISPUTES_WEBHOOK_DISABLE_AFTER": "PT1S",  # and its subscription is disabled
}


@dataclass
class Stack:
    """The running service, what it was made to do, and where its metrics are."""

    deployment: Service
    receiver: Receiver
    worker_metrics: str
    parked: str
    folder: Path

    @property
    def api_metrics(self) -> str:
        return f"{self.deployment.api_url}/metrics"


def metric_names(text: str) -> set[str]:
    """The sample names (``x_bucket``, ``x_count``, ``x_sum`` of a histogram) and family names in a
    Prometheus text exposition."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def expression_metrics(expression: str) -> set[str]:
    """The metric names a PromQL expression reads (label names and values, and words, left out)."""
    expression = re.sub(r'"[^"]*"', '""', expression)  # label values
    expression = re.sub(r"\{[^}]*\}", "", expression)  # matchers
    expression = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expression)
    expression = re.sub(r"\[[^\]]*\]", "", expression)  # ranges
    found = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", expression))
    return {word for word in found if word not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]?", word)}


def rule_expressions() -> dict[str, str]:
    """Every alert of the shipped rules: its expression."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


@pytest.fixture(scope="module")
def stack_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="module")
async def stack(dev_server_env: WorkflowEnvironment, stack_folder: Path) -> AsyncIterator[Stack]:
    """The stack, after one dispute's refund was refused for good (parked), one settled with a
    release retried past the alert threshold, one breached care's reply target (then care
    answered), and a webhook
    delivery to a dead receiver became a dead letter and its subscription was disabled."""
    async with platform_receiver() as receiver:
        receiver.refuse["/refunds"] = (400, {})  # e.g. the buyer's payment account is closed
        receiver.fail_after_applying["/releases"] = 2
        settings = effects_over_http(receiver.url) | STACK_SETTINGS
        task_queue = f"tq-{uuid.uuid4()}"
        address = temporal_address(dev_server_env)
        async with service(address, task_queue, stack_folder, **settings) as deployment:
            port = free_port()  # the worker's Prometheus endpoint, which the test's Prometheus scrapes
            worker = [sys.executable, "worker.py"]
            env = deployment.env(DISPUTES_WORKER_METRICS_PORT=str(port))
            deployment.processes.append(Process("worker-1", worker, env, deployment.logs))
            deployment.start_api()
            await deployment.api_ready()
            async with deployment.client() as http:
                dead = await http.post(
                    "/v1/webhooks",
                    json={"url": f"http://127.0.0.1:{free_port()}/hook", "event_types": ["dispute.opened"]},
                )
                assert dead.status_code == 201, dead.text
                parked = await open_dispute(http, f"o-{uuid.uuid4().hex[:8]}")
                await agree(http, parked, "refund")  # the refund is refused for good
                settled = await open_dispute(http, f"o-{uuid.uuid4().hex[:8]}")
                await agree(http, settled, "release")  # refused twice, then paid
                breached = await open_dispute(http, f"o-{uuid.uuid4().hex[:8]}")
                offer = {"kind": "REFUND_TO_BUYER", "amount": 1000}
                for action, body in (
                    ("offers", {"actor": SELLER, "solution": offer}),
                    ("reject", {"actor": BUYER}),
                    ("help", {"actor": SELLER}),  # mediation: care owes a reply within 2 s
                ):
                    done = await http.post(f"/v1/disputes/{breached}/{action}", json=body)
                    assert done.status_code == 200, done.text

                async def case(dispute_id: str) -> dict[str, Any]:
                    body: dict[str, Any] = (
                        await http.get(f"/v1/disputes/{dispute_id}", headers=AS_CARE)
                    ).json()
                    return body

                await until(
                    lambda: _true(case(parked), "needs_attention"), 60, "the refund to park", every=0.5
                )
                await until(
                    lambda: _status(case(settled), "RESOLVED"), 60, "the release to settle", every=0.5
                )
                await until(
                    lambda: _true(case(breached), "sla_breached"),
                    60,
                    "care's reply target to breach",
                    every=0.5,
                )
                replied = await http.post(
                    f"/v1/disputes/{breached}/care/replies",
                    json={"actor": CARE, "text": "We are checking with the courier"},
                    headers=AS_CARE,
                )
                assert replied.status_code == 200, replied.text  # care answers, late

                async def dead_letter() -> bool:
                    letters = (await http.get("/v1/webhooks/dead-letters", headers=AS_ADMIN)).json()
                    return bool(letters["items"])

                await until(dead_letter, 60, "a dead letter", every=0.5)

                async def disabled() -> bool:
                    found = (await http.get("/v1/webhooks?status=disabled", headers=AS_ADMIN)).json()
                    return bool(found["items"])

                await until(disabled, 60, "the dead receiver's subscription to be disabled", every=0.5)
            yield Stack(deployment, receiver, f"http://127.0.0.1:{port}/metrics", parked, stack_folder)


async def _true(case: Any, field: str) -> bool:
    return bool((await case).get(field))


async def _status(case: Any, status: str) -> bool:
    return bool((await case).get("status") == status)


async def scraped(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(url)
    answer.raise_for_status()
    return answer.text


@pytest.fixture
def prometheus(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """Debian's Prometheus scraping the stack every second with a copy of the shipped rules whose
    parked-case alert waits 5 s instead of 15 min (nothing else changed); its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Debian's prometheus package is required (.ci/run installs it)")
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if rule["alert"] == PARKED_ALERT:
                assert rule["for"] == "15m", "the shipped rule waits 15 minutes"
                rule["for"] = "5s"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    api = stack.api_metrics.removeprefix("http://").removesuffix("/metrics")
    worker = stack.worker_metrics.removeprefix("http://").removesuffix("/metrics")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "alerts.yml")],
        "scrape_configs": [
            {"job_name": "disputes-api", "static_configs": [{"targets": [api]}]},
            {"job_name": "disputes-worker", "static_configs": [{"targets": [worker]}]},
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        print((tmp_path / "prometheus.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        process.terminate()
        process.wait(30)


async def test_the_parked_case_alert_fires_when_a_refund_is_refused_for_good(
    stack: Stack, prometheus: str
) -> None:
    async with httpx.AsyncClient(base_url=prometheus, timeout=10) as http:

        async def targets_up() -> bool:
            try:
                answer = await http.get("/api/v1/targets")
            except httpx.TransportError:
                return False  # not listening yet
            if answer.status_code != 200:
                return False  # starting (503 until it is ready)
            active = answer.json()["data"]["activeTargets"]
            return len(active) == 2 and all(t["health"] == "up" for t in active)

        await until(targets_up, 60, "Prometheus to scrape the API and the worker")

        async def alerts() -> dict[str, dict[str, Any]]:
            found = (await http.get("/api/v1/alerts")).json()["data"]["alerts"]
            return {alert["labels"]["alertname"]: alert for alert in found}

        async def parked_alert_firing() -> dict[str, Any] | None:
            alert = (await alerts()).get(PARKED_ALERT)
            return alert if alert and alert["state"] == "firing" else None

        firing = await until(parked_alert_firing, 60, f"{PARKED_ALERT} to fire")
        assert firing["labels"]["severity"] == "page"
        assert firing["annotations"]["runbook_url"].endswith("#cases-needing-attention")
        assert firing["annotations"]["summary"].startswith("1 case(s) ")  # one case waits
        # the gauges were read, and nothing claims that the API fails
        names = set(await alerts())
        assert not names & {"ApiServerErrors", "CaseGaugesUnavailable"}, names

        # the platform reopens the account and on-call retries the refund: the alert resolves
        del stack.receiver.refuse["/refunds"]
        async with stack.deployment.client() as api:
            retried = await api.post(
                f"/v1/disputes/{stack.parked}/operator/retry",
                json={"actor": {"role": "operator", "id": "oncall-1"}},
                headers=AS_ADMIN,
            )
            assert retried.status_code == 200, retried.text

        async def resolved() -> bool:
            return PARKED_ALERT not in await alerts()

        await until(resolved, 60, f"{PARKED_ALERT} to resolve after the repair", every=0.5)


async def test_every_metric_the_rules_and_dashboards_name_is_exported(stack: Stack) -> None:
    exported = metric_names(await scraped(stack.api_metrics)) | metric_names(
        await scraped(stack.worker_metrics)
    )
    named = {alert: expression_metrics(expr) for alert, expr in rule_expressions().items()}
    assert all(named.values())
    missing = {alert: sorted(metrics - exported) for alert, metrics in named.items() if metrics - exported}
    assert not missing, f"alerts name metrics nobody exports: {missing}"
    in_dashboards = {
        title: expression_metrics(expr)
        for title, expr in dashboards.expressions(dashboards.build_all()).items()
    }
    assert all(in_dashboards.values()), "a panel's query names no metric"
    missing = {t: sorted(m - exported) for t, m in in_dashboards.items() if m - exported}
    assert not missing, f"dashboard panels name metrics nobody exports: {missing}"
