"""Prometheus recording and alerting rules for a scenario's SLOs, in sloth's naming.

What was simulated is what gets deployed: the same objectives, the same windows and the same
burn-rate alerts as `simlab.slo.alerts` evaluated, written as the rule groups sloth generates
(https://sloth.dev, `prometheus/v1`): per SLO, `slo:sli_error:ratio_rate<window>` for every
window the alerts use plus the SLO period, the meta rules (`slo:objective:ratio`,
`slo:error_budget:ratio`, `slo:time_period:days`, `slo:current_burn_rate:ratio`,
`slo:period_burn_rate:ratio`, `slo:period_error_budget_remaining:ratio`, `sloth_slo_info`),
and one page and one ticket alert whose expressions are sloth's multi-window conditions.
Labels: `sloth_id` (`<service>-<slo>`), `sloth_service`, `sloth_slo`, `sloth_window`.

The SLI queries are the objective's `prometheus` queries when it has them (imported sloth
and OpenSLO specs keep theirs); otherwise they are built on the conventional request metrics
of an HTTP front end, with the same meaning of "bad" as the simulation:

    http_requests_total{service, source, flow, code}
    http_request_duration_seconds_bucket{service, source, flow, le}

availability: code 5xx (plus 429 when `rejected: bad`; 429 left out of the total when
`excluded`); error_rate: code 5xx; latency: total minus the `le` bucket of the threshold.
"""

from __future__ import annotations

from typing import Any

import yaml

from simlab.scenario import ObjectiveSpec, Scenario, SloSpec
from simlab.slo.alerts import AlertRule, alert_rules
from simlab.slo.importers import ImportedSlos
from simlab.slo.windows import minutes, window_name

__all__ = ["default_queries", "prometheus_rules", "rule_groups"]


def _selector(service: str, obj: ObjectiveSpec, extra: str = "") -> str:
    parts = [f'service="{service}"']
    if obj.source is not None:
        parts.append(f'source="{obj.source}"')
    if obj.flow is not None:
        parts.append(f'flow="{obj.flow}"')
    if extra:
        parts.append(extra)
    return ",".join(parts)


def default_queries(obj: ObjectiveSpec, spec: SloSpec, service: str) -> tuple[str, str]:
    """(error_query, total_query) with sloth's `{{.window}}` placeholder (module docstring)."""
    policy = obj.rejected or spec.rejected
    w = "[{{.window}}]"
    if obj.sli == "latency":
        assert obj.threshold_ms is not None
        le = f"{obj.threshold_ms / 1000.0:g}"
        excl = 'code!="429"' if policy == "excluded" else ""
        total = f"sum(rate(http_request_duration_seconds_count{{{_selector(service, obj, excl)}}}{w}))"
        le_sel = _selector(service, obj, ",".join(x for x in (excl, f'le="{le}"') if x))
        good = f"sum(rate(http_request_duration_seconds_bucket{{{le_sel}}}{w}))"
        return f"({total} - {good})", total
    codes = "5.." if obj.sli == "error_rate" or policy != "bad" else "5..|429"
    err_sel = _selector(service, obj, f'code=~"{codes}"')
    err = f"sum(rate(http_requests_total{{{err_sel}}}{w}))"
    excl = 'code!="429"' if policy == "excluded" else ""
    total = f"sum(rate(http_requests_total{{{_selector(service, obj, excl)}}}{w}))"
    return err, total


class _Block(str):
    """A string dumped as a YAML literal block (multi-line PromQL stays readable)."""


def _block_representer(dumper: yaml.SafeDumper, data: _Block) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Block, _block_representer)


def _labels(service: str, slo: str) -> dict[str, str]:
    return {"sloth_id": f"{service}-{slo}", "sloth_service": service, "sloth_slo": slo}


def _sel(labels: dict[str, str]) -> str:
    return ", ".join(f'{k}="{v}"' for k, v in labels.items())


def rule_groups(obj: ObjectiveSpec, spec: SloSpec, service: str, rules: list[AlertRule],
                window_days: float) -> list[dict[str, Any]]:
    """The three rule groups sloth writes for one SLO (SLI recordings, meta, alerts)."""
    if obj.prometheus is not None:
        err_q, total_q = obj.prometheus.error_query, obj.prometheus.total_query
    else:
        err_q, total_q = default_queries(obj, spec, service)
    base = _labels(service, obj.name)
    windows = sorted({minutes(w) for r in rules for w in (r.long_window, r.short_window)} | {5.0})
    sli_rules: list[dict[str, Any]] = []
    for m in windows:
        name = window_name(m)
        expr = f"({err_q.replace('{{.window}}', name)})\n/\n({total_q.replace('{{.window}}', name)})\n"
        sli_rules.append({"record": f"slo:sli_error:ratio_rate{name}", "expr": _Block(expr),
                          "labels": {**base, "sloth_window": name}})
    period = window_name(window_days * 1440.0)
    sel = _sel(base)
    sli_rules.append({
        "record": f"slo:sli_error:ratio_rate{period}",
        "expr": _Block(f"sum_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n/ ignoring (sloth_window)\n"
                       f"count_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n"),
        "labels": {**base, "sloth_window": period},
    })
    budget = 1.0 - obj.target
    meta = [
        {"record": "slo:objective:ratio", "expr": f"vector({obj.target:.10g})", "labels": base},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{obj.target:.10g})", "labels": base},
        {"record": "slo:time_period:days", "expr": f"vector({window_days:g})", "labels": base},
        {"record": "slo:current_burn_rate:ratio",
         "expr": _Block(f"slo:sli_error:ratio_rate5m{{{sel}}}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
                        f"slo:error_budget:ratio{{{sel}}}\n"), "labels": base},
        {"record": "slo:period_burn_rate:ratio",
         "expr": _Block(f"slo:sli_error:ratio_rate{period}{{{sel}}}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
                        f"slo:error_budget:ratio{{{sel}}}\n"), "labels": base},
        {"record": "slo:period_error_budget_remaining:ratio",
         "expr": f"1 - slo:period_burn_rate:ratio{{{sel}}}", "labels": base},
        {"record": "sloth_slo_info", "expr": "vector(1)",
         "labels": {**base, "sloth_mode": "cli-gen-prom", "sloth_objective": f"{obj.target * 100:g}",
                    "sloth_spec": "prometheus/v1", "sloth_version": "simlab"}},
    ]
    alerts = []
    for sev in ("page", "ticket"):
        mine = [r for r in rules if r.severity == sev]
        if not mine:
            continue
        terms = []
        for r in mine:
            f = f"({r.burn_rate:g} * {budget:.10g})"
            terms.append(
                "(\n"
                f"    max(slo:sli_error:ratio_rate{window_name(minutes(r.short_window))}{{{sel}}} > {f}) without (sloth_window)\n"
                "    and\n"
                f"    max(slo:sli_error:ratio_rate{window_name(minutes(r.long_window))}{{{sel}}} > {f}) without (sloth_window)\n"
                ")")
        name = "".join(p.capitalize() for p in f"{service}-{obj.name}".replace("_", "-").split("-"))
        alerts.append({
            "alert": f"{name}ErrorBudgetBurn{'Page' if sev == 'page' else 'Ticket'}",
            "expr": _Block("\n or\n".join(terms) + "\n"),
            "labels": {"sloth_severity": sev, **base},
            "annotations": {
                "summary": f"{obj.name} of {service} is burning its error budget too fast",
                "title": f"({sev}) {service} {obj.name} SLO error budget burn rate is too high",
                "simlab_rules": ", ".join(r.name for r in mine),
            },
        })
    gid = f"{service}-{obj.name}"
    groups = [{"name": f"sloth-slo-sli-recordings-{gid}", "rules": sli_rules},
              {"name": f"sloth-slo-meta-recordings-{gid}", "rules": meta}]
    if alerts:
        groups.append({"name": f"sloth-slo-alerts-{gid}", "rules": alerts})
    return groups


def prometheus_rules(scenario: Scenario | ImportedSlos, *, objectives: list[ObjectiveSpec] | None = None,
                     rules: list[AlertRule] | None = None, sloth_ticket: bool = False,
                     service: str | None = None, window_days: float | None = None) -> str:
    """The rule file (YAML) for every objective of the scenario (or `objectives`), or of the
    SLOs imported from an OpenSLO / sloth file."""
    if isinstance(scenario, ImportedSlos):
        spec = SloSpec(window=scenario.window, objectives=scenario.objectives, service=scenario.service,
                       alerts=scenario.alerts or None)
        name = scenario.service or scenario.source_file
    else:
        spec = scenario.slo
        name = scenario.name
    svc = service or spec.service or name
    objs = objectives if objectives is not None else spec.resolved_objectives()
    rules = rules if rules is not None else alert_rules(spec, sloth_ticket=sloth_ticket)
    days = window_days if window_days is not None else spec.window.days
    groups: list[dict[str, Any]] = []
    for obj in objs:
        groups += rule_groups(obj, spec, svc, rules, days)
    header = (f"# Code generated by simlab from {name!r}: SLO rules in sloth's naming.\n"
              f"# {len(objs)} SLO(s), alerts: {', '.join(r.name for r in rules)}.\n")
    return header + "---\n" + yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=120)
