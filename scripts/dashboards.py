"""The service's Grafana dashboards, as code (grafana-foundation-sdk): case flow, care, effects and
the Temporal SDK's health. ``make dashboards`` (``python -m scripts.dashboards``) writes their JSON
to deploy/grafana/dashboards/, which compose's Grafana provisions; tests/test_dashboards.py checks
that the committed JSON is what this code builds.

Every query names metrics the API (``GET /metrics``) or the worker (the SDK's endpoint) exports
(tests/test_alerts_e2e.py scrapes a running stack to check). The SDK reports durations in
milliseconds; the API's case gauges are the same on every replica, so they are read with ``max``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import common, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BigValueGraphMode, LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataSourceRef

#: Where the JSON goes (compose mounts it into Grafana).
OUTPUT = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "dashboards"
#: The data source deploy/grafana/provisioning/datasources/prometheus.yml defines.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
RANGE = "$__rate_interval"


def query(expr: str, legend: str = "") -> prometheus.Dataquery:
    """One PromQL query of a panel."""
    built = prometheus.Dataquery().expr(expr).datasource(DATASOURCE)
    return built.legend_format(legend) if legend else built


def graph(title: str, unit: str, *queries: prometheus.Dataquery, description: str = "") -> timeseries.Panel:
    """A time series panel, half a row wide."""
    legend = common.VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM)
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(12).min(0)
    panel = panel.legend(legend.show_legend(True))
    for n, built in enumerate(queries):
        panel = panel.with_target(built.ref_id("ABCDEFGH"[n]))
    return panel.description(description) if description else panel


def number(title: str, unit: str, expr: str, description: str = "") -> stat.Panel:
    """A single figure, a quarter of a row wide."""
    panel = stat.Panel().title(title).unit(unit).datasource(DATASOURCE).height(4).span(6)
    panel = panel.graph_mode(BigValueGraphMode.NONE).reduce_options(
        common.ReduceDataOptions().calcs(["lastNotNull"])
    )
    panel = panel.with_target(query(expr).instant().ref_id("A"))
    return panel.description(description) if description else panel


def board(uid: str, title: str, description: str) -> dashboard.Dashboard:
    """A dashboard of the service, refreshed every 30 s, showing the last 6 hours."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["disputes"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .readonly()
    )


def case_flow() -> dashboard.Dashboard:
    """Cases opened, actions taken, resolutions by outcome."""
    opened = 'sum by (type) (rate(case_events{type=~"dispute.opened|ticket.opened"}[$__rate_interval])) * 60'
    return (
        board("disputes-case-flow", "Disputes: case flow", "Cases opened, acted on and resolved")
        .with_row(dashboard.Row("Now"))
        .with_panel(number("Open disputes", "short", 'sum(max by (status) (cases_open{kind="dispute"}))'))
        .with_panel(number("Open reports", "short", 'sum(max by (status) (cases_open{kind="ticket"}))'))
        .with_panel(
            number(
                "Disputes resolved (24 h)",
                "short",
                "sum(increase(disputes_resolved[24h]))",
            )
        )
        .with_panel(number("Needing attention", "short", "sum(max by (kind) (cases_needing_attention))"))
        .with_row(dashboard.Row("Flow"))
        .with_panel(graph("Cases opened per minute", "short", query(opened, "{{type}}")))
        .with_panel(
            graph(
                "Actions per minute (API)",
                "short",
                query(
                    'sum by (route) (rate(api_requests_total{method="POST",'
                    ' route=~"/v1/(disputes|tickets)/.+", status=~"2.."}[$__rate_interval])) * 60',
                    "{{route}}",
                ),
                description="Parties', care's and operators' actions on cases that the API accepted",
            )
        )
        .with_panel(
            graph(
                "Resolutions per hour by outcome",
                "short",
                query(
                    "sum by (outcome, solution) (rate(disputes_resolved[$__rate_interval])) * 3600",
                    "{{outcome}} {{solution}}",
                ),
                query(
                    'sum by (type) (rate(case_events{type=~"dispute.cancelled|ticket.solved|ticket.closed"}'
                    "[$__rate_interval])) * 3600",
                    "{{type}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Time to resolution (p50, p90)",
                "ms",
                query(
                    "histogram_quantile(0.5, sum by (le) (rate(dispute_time_to_resolution_bucket[1h])))",
                    "p50",
                ),
                query(
                    "histogram_quantile(0.9, sum by (le) (rate(dispute_time_to_resolution_bucket[1h])))",
                    "p90",
                ),
            )
        )
        .with_panel(
            graph(
                "Open cases by status",
                "short",
                query("max by (kind, status) (cases_open)", "{{kind}} {{status}}"),
                description="From the service database (the timelines the cases store)",
            )
        )
    )


def care() -> dashboard.Dashboard:
    """The care queue, its targets and breaches, how long cases wait."""
    return (
        board("disputes-care", "Disputes: care", "What care owes: the queue, its targets and breaches")
        .with_row(dashboard.Row("Now"))
        .with_panel(number("Care queue", "short", "sum(max by (kind) (care_queue_length))"))
        .with_panel(
            number(
                "Longest wait in the queue",
                "s",
                "max(care_queue_longest_wait_seconds)",
                description="Since the last change of the case that has waited longest for care",
            )
        )
        .with_panel(
            number(
                "Targets breached (24 h)",
                "short",
                'sum(increase(case_events{type=~"care[.].+_breached"}[24h]))',
            )
        )
        .with_panel(
            number(
                "Warnings (24 h)",
                "short",
                'sum(increase(case_events{type=~"care[.].+_warning"}[24h]))',
            )
        )
        .with_row(dashboard.Row("Over time"))
        .with_panel(
            graph("Care queue by kind", "short", query("max by (kind) (care_queue_length)", "{{kind}}"))
        )
        .with_panel(
            graph(
                "Time waiting for care (longest)",
                "s",
                query("max by (kind) (care_queue_longest_wait_seconds)", "{{kind}}"),
                description="Since the last change of the case that has waited longest, by kind",
            )
        )
        .with_panel(
            graph(
                "Time to answer (p50, p90)",
                "ms",
                query(
                    "histogram_quantile(0.5, sum by (target, le) (rate(care_time_to_answer_bucket[1h])))",
                    "p50 {{target}}",
                ),
                query(
                    "histogram_quantile(0.9, sum by (target, le) (rate(care_time_to_answer_bucket[1h])))",
                    "p90 {{target}}",
                ),
                description="From a reply, decision or review target's start to care's answer",
            )
        )
        .with_panel(
            graph(
                "Target warnings and breaches per hour",
                "short",
                query(
                    'sum by (type) (rate(case_events{type=~"care[.].+"}[$__rate_interval])) * 3600',
                    "{{type}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Open cases by care group",
                "short",
                query("max by (group) (care_group_open_cases)", "{{group}}"),
                query("max by (group) (care_group_unassigned_cases)", "{{group}} unowned"),
                description="Cases in each group, and those nobody owns ('supervisors': missed targets)",
            )
        )
        .with_panel(
            graph(
                "Open cases by agent",
                "short",
                query("max by (agent) (care_agent_open_cases)", "{{agent}}"),
                description="The 50 agents owning the most open cases; the rest as 'other'",
            )
        )
        .with_panel(
            graph(
                "Waiting for care by status",
                "short",
                query(
                    "max by (kind, status)"
                    ' (cases_open{status=~"IN_MEDIATION|DECISION_APPEALED|AWAITING_CARE"})',
                    "{{kind}} {{status}}",
                ),
            )
        )
    )


def effects() -> dashboard.Dashboard:
    """Outside effects: retries past the threshold, parked cases, webhook dead letters."""
    return (
        board("disputes-effects", "Disputes: effects", "Refunds, releases, care desk calls, webhooks")
        .with_row(dashboard.Row("Now"))
        .with_panel(
            number("Cases needing attention", "short", "sum(max by (kind) (cases_needing_attention))")
        )
        .with_panel(number("Oldest parked effect", "s", "max(cases_needing_attention_oldest_seconds)"))
        .with_panel(
            number(
                "Attempts over threshold (1 h)", "short", "sum(increase(effect_attempts_over_threshold[1h]))"
            )
        )
        .with_panel(
            number("Webhook dead letters (24 h)", "short", "sum(increase(webhook_dead_letters[24h]))")
        )
        .with_row(dashboard.Row("Over time"))
        .with_panel(
            graph(
                "Attempts over the alert threshold per minute",
                "short",
                query(
                    "sum by (activity) (rate(effect_attempts_over_threshold[$__rate_interval])) * 60",
                    "{{activity}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Parked effects",
                "short",
                query("max by (effect) (effects_parked_now)", "{{effect}} now"),
                query("sum by (effect) (increase(effects_parked[1h]))", "{{effect}} parked per hour"),
            )
        )
        .with_panel(
            graph(
                "Webhook dead letters and disabled subscriptions per hour",
                "short",
                query("sum(rate(webhook_dead_letters[$__rate_interval])) * 3600", "dead letters"),
                query(
                    "sum(rate(webhook_subscriptions_disabled[$__rate_interval])) * 3600",
                    "subscriptions disabled",
                ),
            )
        )
        .with_panel(
            graph(
                "Effect latency (p99)",
                "ms",
                query(
                    "histogram_quantile(0.99, sum by (activity_type, le)"
                    " (rate(temporal_activity_execution_latency_bucket[$__rate_interval])))",
                    "{{activity_type}}",
                ),
            )
        )
    )


def sdk_health() -> dashboard.Dashboard:
    """The workers as the Temporal SDK sees them: waits, slots, the sticky cache."""
    return (
        board("disputes-temporal-sdk", "Disputes: Temporal SDK health", "The workers' task queues")
        .with_panel(
            graph(
                "Workflow task schedule-to-start",
                "ms",
                query(
                    "histogram_quantile(0.99, sum by (task_queue, le)"
                    " (rate(temporal_workflow_task_schedule_to_start_latency_bucket[$__rate_interval])))",
                    "p99 {{task_queue}}",
                ),
                query(
                    "histogram_quantile(0.5, sum by (task_queue, le)"
                    " (rate(temporal_workflow_task_schedule_to_start_latency_bucket[$__rate_interval])))",
                    "p50 {{task_queue}}",
                ),
                description="The alert pages when the p99 stays above 1 s (1000 ms)",
            )
        )
        .with_panel(
            graph(
                "Activity schedule-to-start (p99)",
                "ms",
                query(
                    "histogram_quantile(0.99, sum by (task_queue, le)"
                    " (rate(temporal_activity_schedule_to_start_latency_bucket[$__rate_interval])))",
                    "{{task_queue}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Task slots available",
                "short",
                query(
                    "min by (instance, task_queue, worker_type) (temporal_worker_task_slots_available)",
                    "{{instance}} {{task_queue}} {{worker_type}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Task slots used",
                "short",
                query(
                    "sum by (task_queue, worker_type) (temporal_worker_task_slots_used)",
                    "{{task_queue}} {{worker_type}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Sticky cache",
                "short",
                query("sum by (instance) (temporal_sticky_cache_size)", "size {{instance}}"),
                query(
                    "sum by (instance) (rate(temporal_sticky_cache_hit[$__rate_interval]))",
                    "hits/s {{instance}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Pollers",
                "short",
                query(
                    "sum by (task_queue, poller_type) (temporal_num_pollers)",
                    "{{task_queue}} {{poller_type}}",
                ),
            )
        )
    )


def build_all() -> dict[str, dashboard.Dashboard]:
    """Every dashboard, by the file name its JSON goes to."""
    return {
        "case-flow.json": case_flow(),
        "care.json": care(),
        "effects.json": effects(),
        "temporal-sdk.json": sdk_health(),
    }


def render(built: dashboard.Dashboard) -> str:
    """The dashboard's JSON, as committed: panels numbered from 1 in order."""
    model = built.build()
    for n, panel in enumerate(model.panels or [], start=1):
        panel.id_val = n
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def expressions(boards: dict[str, dashboard.Dashboard]) -> dict[str, str]:
    """Every query of every panel: ``<dashboard> / <panel> #n`` → PromQL."""
    found: dict[str, str] = {}
    for built in boards.values():
        model = json.loads(render(built))
        for panel in model.get("panels", []):
            for n, target in enumerate(panel.get("targets", [])):
                found[f"{model['title']} / {panel['title']} #{n}"] = target["expr"]
    return found


def main(argv: list[str], output: Path = OUTPUT) -> int:
    """Write the JSON (or, with ``--check``, exit 1 when the committed JSON differs)."""
    check = "--check" in argv
    stale = []
    output.mkdir(parents=True, exist_ok=True)
    for name, built in build_all().items():
        path, text = output / name, render(built)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run make dashboards", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
