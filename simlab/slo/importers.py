"""OpenSLO v1 and sloth `prometheus/v1` SLO files, mapped onto the simulator's SLIs.

A file states SLIs as queries on a monitoring system; the simulator has request outcomes
and latencies. Each SLO is mapped to an `ObjectiveSpec` (availability, latency with a
threshold, or error_rate; whole service, one source or one flow) and every field that does
not map is reported in `ImportedSlos.warnings`, never dropped in silence.

How a query is read (the first rule that applies):

1. explicit: labels or annotations `simlab/sli` (availability | latency | error_rate),
   `simlab/threshold_ms`, `simlab/source`, `simlab/flow`, `simlab/rejected` (sloth: the SLO's
   `labels`; OpenSLO: `metadata.labels` / `metadata.annotations` of the SLO or its SLI);
2. a query on a histogram bucket with `le="X"` is a latency SLI with threshold X (seconds if
   the metric name says `seconds`, milliseconds if it says `ms`/`milliseconds`, else seconds);
3. an error query matching status codes: with 429 among them, availability counting 429 as
   bad; 5xx only: error_rate if the SLO's name says "error", else availability with 429 good;
4. otherwise availability, with a warning saying so.

OpenSLO: `indicator` (inline) or `indicatorRef` (an `SLI` document in the same file);
`ratioMetric` (good/total, bad/total, or `raw`) or `thresholdMetric` with the objective's
`op`/`value` (lt/lte: a latency threshold in the metric's unit); `timeWindow` duration and
`isRolling` (calendar windows keep their `startTime`/`timeZone` only as a warning);
`alertPolicies` (by name or inline, with `AlertCondition`s of kind burnrate: threshold over
`lookbackWindow`, `alertAfter` read as the short window) become `slo.alerts`;
`budgetingMethod` Occurrences / Timeslices / RatioTimeslices with `timeSliceTarget` and
`timeSliceWindow`; `objectives[].target` or `targetPercent`. Several objectives make several
SLOs, named after `displayName` (or `<slo>-<i>`). Queries are read from Prometheus metric
sources (`spec.query` / `promql`); other sources are kept by type in a warning.

sloth: `service`, `slos[].name`, `objective` (percent), `sli.events` (`error_query`,
`total_query`) or `sli.raw` (`error_ratio_query`, mapped by rule 2-4); `sli.plugin` is not
mapped; the alerts are sloth's four multi-window rules (page 14.4x over 1h/5m and 6x over
6h/30m, ticket 3x over 1d/2h and 1x over 3d/6h) as `slo.alerts`, less a severity whose
`alerting.<severity>_alert.disable` every SLO sets; `alerting` names, labels and annotations
are not used (the exported rules follow sloth's naming of their own), said in a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from simlab.scenario import (
    AlertWindowSpec,
    ObjectiveSpec,
    PromQuerySpec,
    Scenario,
    SloWindowSpec,
    scenario_from_dict,
)
from simlab.slo.windows import DEFAULT_ALERTS, SLOTH_TICKET_3X, minutes

__all__ = ["SloImportError", "ImportedSlos", "import_openslo", "import_slo_file", "import_sloth"]


class SloImportError(ValueError):
    """An SLO file that cannot be imported: which file, which document/field, why."""

    def __init__(self, file: str, where: str, message: str) -> None:
        self.file = file
        super().__init__(f"{file}: at {where or '<root>'}: {message}")


@dataclass
class ImportedSlos:
    """Objectives read from a file, its window, where they came from, what did not map."""

    source_file: str
    format: str
    service: str | None
    objectives: list[ObjectiveSpec]
    window: SloWindowSpec
    warnings: list[str] = field(default_factory=list)
    alerts: list[AlertWindowSpec] = field(default_factory=list)

    def apply_to(self, scenario: Scenario) -> Scenario:
        """The scenario with these objectives and window instead of its own (validated, so a
        source or flow the scenario does not have is an error naming the file)."""
        data = scenario.model_dump(mode="json")
        slo = data["slo"]
        slo["objectives"] = [o.model_dump(mode="json") for o in self.objectives]
        slo["window"] = self.window.model_dump(mode="json")
        if self.alerts:
            slo["alerts"] = [a.model_dump(mode="json") for a in self.alerts]
        if self.service:
            slo["service"] = self.service
        return scenario_from_dict(data, f"{scenario.name} with {self.source_file}")


_LE = re.compile(r'le\s*=~?\s*"([0-9.eE+-]+)"')
_CODES = re.compile(r'(?:code|status|status_code)\s*=~?\s*"([^"]*)"')


def _threshold_ms(query: str, le: str) -> tuple[float, str]:
    v = float(le)
    if re.search(r"(milliseconds|_ms\b|_ms_)", query):
        return v, f"le={le} read as milliseconds (metric name)"
    return v * 1000.0, f"le={le} read as seconds (metric name{' says seconds' if 'seconds' in query else ' does not say; seconds assumed'})"


def _hints(*maps: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in maps:
        for k, v in (m or {}).items():
            k2 = k.replace(".", "/")
            if k2.startswith("simlab/"):
                out[k2[len("simlab/"):]] = str(v)
    return out


def _classify(name: str, error_query: str, hints: dict[str, str], where: str) -> tuple[dict[str, Any], list[str]]:
    """Map an SLO to an SLI kind and its options (module docstring); returns (fields, notes)."""
    notes: list[str] = []
    f: dict[str, Any] = {}
    for key in ("source", "flow"):
        if key in hints:
            f[key] = hints[key]
    if "rejected" in hints:
        f["rejected"] = hints["rejected"]
    if "sli" in hints:
        f["sli"] = hints["sli"]
        if hints["sli"] == "latency":
            if "threshold_ms" in hints:
                f["threshold_ms"] = float(hints["threshold_ms"])
            else:
                m = _LE.search(error_query)
                if m:
                    f["threshold_ms"], note = _threshold_ms(error_query, m.group(1))
                    notes.append(f"{where}: {note}")
        return f, notes
    m = _LE.search(error_query)
    if m:
        f["sli"] = "latency"
        f["threshold_ms"], note = _threshold_ms(error_query, m.group(1))
        notes.append(f"{where}: latency SLI from the histogram bucket, {note}")
        return f, notes
    codes = _CODES.findall(error_query)
    if codes:
        text = "|".join(codes)
        if "429" in text or "4.." in text or "4xx" in text:
            f["sli"] = "availability"
            f.setdefault("rejected", "bad")
            notes.append(f"{where}: status codes {text!r} include 429: availability, a 429 counts as bad")
        elif "error" in name.lower():
            f["sli"] = "error_rate"
            notes.append(f"{where}: status codes {text!r} and a name with 'error': error_rate")
        else:
            f["sli"] = "availability"
            f.setdefault("rejected", "good")
            notes.append(f"{where}: status codes {text!r} without 429: availability, a 429 counts as good")
        return f, notes
    f["sli"] = "error_rate" if "error" in name.lower() else "availability"
    notes.append(f"{where}: the query names no status code or bucket; mapped to {f['sli']} by default "
                 "(say simlab/sli in the labels to choose)")
    return f, notes


def _objective(file: str, where: str, fields: dict[str, Any]) -> ObjectiveSpec:
    try:
        return ObjectiveSpec.model_validate(fields)
    except ValidationError as err:
        e = err.errors()[0]
        raise SloImportError(file, f"{where}.{'.'.join(str(x) for x in e['loc'])}".rstrip("."), e["msg"]) from None


def _load_docs(path: Path) -> list[Any]:
    try:
        text = path.read_text()
    except OSError as err:
        raise SloImportError(str(path), "", f"cannot read file: {err.strerror}") from None
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as err:
        raise SloImportError(str(path), "", f"not valid YAML: {err}") from None


def import_sloth(path: str | Path) -> ImportedSlos:
    """A sloth `prometheus/v1` spec (module docstring for the mapping)."""
    p = Path(path)
    docs = _load_docs(p)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise SloImportError(str(p), "", "a sloth spec is one YAML mapping")
    d = docs[0]
    if d.get("version") != "prometheus/v1":
        raise SloImportError(str(p), "version", f"expected 'prometheus/v1', got {d.get('version')!r}")
    service = d.get("service")
    if not service:
        raise SloImportError(str(p), "service", "missing")
    warnings: list[str] = []
    disabled: dict[str, list[bool]] = {"page": [], "ticket": []}
    for k in d:
        if k not in ("version", "service", "labels", "slos"):
            warnings.append(f"{k}: not mapped")
    if d.get("labels"):
        warnings.append("labels: not mapped (the exported rules carry sloth's own labels)")
    objs = []
    for i, s in enumerate(d.get("slos") or []):
        where = f"slos.{i}"
        name = s.get("name")
        if not name:
            raise SloImportError(str(p), f"{where}.name", "missing")
        if "objective" not in s:
            raise SloImportError(str(p), f"{where}.objective", "missing")
        sli = s.get("sli") or {}
        prom = None
        if "events" in sli:
            ev = sli["events"]
            err_q, tot_q = ev.get("error_query"), ev.get("total_query")
            if not err_q or not tot_q:
                raise SloImportError(str(p), f"{where}.sli.events", "needs error_query and total_query")
            prom = PromQuerySpec(error_query=err_q, total_query=tot_q)
            query = err_q
        elif "raw" in sli:
            query = sli["raw"].get("error_ratio_query", "")
            warnings.append(f"{where}.sli.raw: a ratio query; the exported rules will use the default request "
                            "metrics (sloth's raw form has no error/total pair to keep)")
        elif "plugin" in sli:
            raise SloImportError(str(p), f"{where}.sli.plugin", "SLI plugins are not mapped (give sli.events or sli.raw)")
        else:
            raise SloImportError(str(p), f"{where}.sli", "needs events or raw")
        fields, notes = _classify(name, query, _hints(s.get("labels")), where)
        warnings += notes
        for k in s:
            if k not in ("name", "objective", "sli", "labels", "description", "alerting"):
                warnings.append(f"{where}.{k}: not mapped")
        if "alerting" in s:
            warnings.append(f"{where}.alerting: alert names, labels and annotations not used (the SRE Workbook "
                            "windows are simulated and exported under sloth's naming)")
        for sev in ("page", "ticket"):
            disabled[sev].append(bool(((s.get("alerting") or {}).get(f"{sev}_alert") or {}).get("disable", False)))
        fields.update(name=name, target=round(float(s["objective"]) / 100.0, 12), prometheus=prom)
        objs.append(_objective(str(p), where, fields))
    if not objs:
        raise SloImportError(str(p), "slos", "no SLOs")
    warnings.append("time window: sloth's default of 30 days (rolling) assumed")
    # sloth's page/ticket alerts (SLOTH_TICKET_3X included), less the kinds every SLO disables
    alerts: list[AlertWindowSpec] = []
    for sev_, long_w, short_w, rate in (*DEFAULT_ALERTS, SLOTH_TICKET_3X):
        flags = disabled[sev_]
        if any(flags) and not all(flags):
            warnings.append(f"{sev_}_alert.disable on some SLOs only: simlab applies one rule set to all; kept")
        if not all(flags):
            level: Literal["page", "ticket"] = "page" if sev_ == "page" else "ticket"
            alerts.append(AlertWindowSpec(severity=level, long_window=long_w, short_window=short_w, burn_rate=rate))
    alerts = list(dict.fromkeys(alerts))
    return ImportedSlos(str(p), "sloth prometheus/v1", str(service), objs, SloWindowSpec(days=30.0), warnings,
                        alerts)


def _prom_query(ms: dict[str, Any] | None, where: str, warnings: list[str]) -> str:
    """The query of an OpenSLO metricSource (Prometheus), else '' with a warning."""
    if not ms:
        return ""
    src = ms.get("metricSource", ms)
    typ = str(src.get("type", ""))
    spec = src.get("spec") or {}
    q = spec.get("query") or spec.get("promql") or ""
    if typ.lower() != "prometheus":
        warnings.append(f"{where}: metric source type {typ!r} is not read (only Prometheus queries are)")
    return str(q)


def import_openslo(path: str | Path) -> ImportedSlos:
    """OpenSLO v1 documents (`kind: SLO`, and `SLI` referenced by `indicatorRef`)."""
    p = Path(path)
    docs = _load_docs(p)
    slis: dict[str, dict[str, Any]] = {}
    slos: list[tuple[int, dict[str, Any]]] = []
    warnings: list[str] = []
    named: dict[str, dict[str, dict[str, Any]]] = {"AlertPolicy": {}, "AlertCondition": {}}
    alerts: list[AlertWindowSpec] = []
    for i, d in enumerate(docs):
        if not isinstance(d, dict):
            raise SloImportError(str(p), f"document {i}", "expected a mapping")
        if d.get("apiVersion") != "openslo/v1":
            raise SloImportError(str(p), f"document {i}.apiVersion", f"expected 'openslo/v1', got {d.get('apiVersion')!r}")
        kind = d.get("kind")
        if kind == "SLI":
            slis[(d.get("metadata") or {}).get("name", "")] = d
        elif kind == "SLO":
            slos.append((i, d))
        elif kind in ("AlertPolicy", "AlertCondition"):
            named[kind][(d.get("metadata") or {}).get("name", "")] = d
        else:
            warnings.append(f"document {i}: kind {kind!r} not mapped")
    if not slos:
        raise SloImportError(str(p), "", "no document of kind SLO")
    objs: list[ObjectiveSpec] = []
    window: SloWindowSpec | None = None
    service = None
    for i, d in slos:
        meta = d.get("metadata") or {}
        spec = d.get("spec") or {}
        name = meta.get("name")
        where = f"document {i} (SLO {name})"
        if not name:
            raise SloImportError(str(p), f"document {i}.metadata.name", "missing")
        service = service or spec.get("service")
        # window
        tws = spec.get("timeWindow") or []
        if tws:
            tw = tws[0]
            try:
                days = minutes(tw.get("duration", "30d")) / 1440.0
            except ValueError as err:
                raise SloImportError(str(p), f"{where}.spec.timeWindow.0.duration", str(err)) from None
            rolling = bool(tw.get("isRolling", False))
            w = SloWindowSpec(days=days, kind="rolling" if rolling else "calendar")
            if not rolling and tw.get("calendar"):
                warnings.append(f"{where}: calendar startTime/timeZone {tw['calendar']} not used (the window's "
                                "position is slo.window.elapsed_days)")
            if len(tws) > 1:
                warnings.append(f"{where}: only the first timeWindow is used")
            if window is not None and w != window:
                warnings.append(f"{where}: its window differs from the first SLO's; the first is used for all")
            window = window or w
        else:
            warnings.append(f"{where}: no timeWindow; 30 days rolling assumed")
        method = {"Occurrences": "occurrences", "Timeslices": "timeslices",
                  "RatioTimeslices": "ratio_timeslices"}.get(spec.get("budgetingMethod", "Occurrences"))
        if method is None:
            raise SloImportError(str(p), f"{where}.spec.budgetingMethod", f"unknown {spec.get('budgetingMethod')!r}")
        # indicator
        ind = spec.get("indicator")
        if ind is None and spec.get("indicatorRef"):
            ind = slis.get(spec["indicatorRef"])
            if ind is None:
                raise SloImportError(str(p), f"{where}.spec.indicatorRef", f"no SLI named {spec['indicatorRef']!r} in the file")
        if ind is None:
            raise SloImportError(str(p), f"{where}.spec.indicator", "missing (give indicator or indicatorRef)")
        ispec = ind.get("spec") or {}
        imeta = ind.get("metadata") or {}
        hints = _hints(meta.get("labels"), meta.get("annotations"), imeta.get("labels"), imeta.get("annotations"))
        prom: PromQuerySpec | None = None
        threshold_query = ""
        if "ratioMetric" in ispec:
            rm = ispec["ratioMetric"]
            if "raw" in rm:
                query = _prom_query(rm["raw"], f"{where}.ratioMetric.raw", warnings)
                warnings.append(f"{where}: ratioMetric.raw mapped by its query; exported rules use the default metrics")
            else:
                total = _prom_query(rm.get("total"), f"{where}.ratioMetric.total", warnings)
                if "bad" in rm:
                    query = _prom_query(rm["bad"], f"{where}.ratioMetric.bad", warnings)
                    if query and total:
                        prom = PromQuerySpec(error_query=query, total_query=total)
                elif "good" in rm:
                    good = _prom_query(rm["good"], f"{where}.ratioMetric.good", warnings)
                    query = good
                    if good and total:
                        prom = PromQuerySpec(error_query=f"({total}) - ({good})", total_query=total)
                else:
                    raise SloImportError(str(p), f"{where}.indicator.spec.ratioMetric", "needs good or bad, and total")
            if not rm.get("counter", True):
                warnings.append(f"{where}: ratioMetric.counter false (gauges) read as counts of events")
        elif "thresholdMetric" in ispec:
            threshold_query = _prom_query(ispec["thresholdMetric"], f"{where}.thresholdMetric", warnings)
            query = threshold_query
        else:
            raise SloImportError(str(p), f"{where}.indicator.spec", "needs ratioMetric or thresholdMetric")
        for k in spec:
            if k not in ("description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod",
                         "objectives", "alertPolicies"):
                warnings.append(f"{where}.spec.{k}: not mapped")
        for k, pol in enumerate(spec.get("alertPolicies") or []):
            alerts += _alert_policy(str(p), f"{where}.spec.alertPolicies.{k}", pol, named, warnings)
        objectives = spec.get("objectives") or []
        if not objectives:
            raise SloImportError(str(p), f"{where}.spec.objectives", "missing")
        for j, ob in enumerate(objectives):
            ow = f"{where}.objectives.{j}"
            oname = name if len(objectives) == 1 else str(ob.get("displayName") or f"{name}-{j}").replace(" ", "-").lower()
            if "target" in ob:
                target = float(ob["target"])
            elif "targetPercent" in ob:
                target = round(float(ob["targetPercent"]) / 100.0, 12)
            else:
                raise SloImportError(str(p), f"{ow}", "needs target or targetPercent")
            if threshold_query or (hints.get("sli") == "latency" and "value" in ob):
                op = ob.get("op", "lte")
                if op not in ("lt", "lte"):
                    raise SloImportError(str(p), f"{ow}.op", f"{op!r}: only lt/lte (latency under a threshold) map")
                if "value" not in ob:
                    raise SloImportError(str(p), f"{ow}.value", "a threshold objective needs value")
                fields = {"sli": "latency", "threshold_ms": float(hints.get("threshold_ms", ob["value"]))}
                if "threshold_ms" not in hints:
                    warnings.append(f"{ow}: threshold value {ob['value']} read as milliseconds")
                for key in ("source", "flow", "rejected"):
                    if key in hints:
                        fields[key] = hints[key]
            else:
                fields, notes = _classify(oname, query, hints, ow)
                warnings += notes
            fields.update(name=oname, target=target, budgeting=method, prometheus=prom)
            if method != "occurrences":
                if "timeSliceWindow" in ob:
                    fields["timeslice_s"] = minutes(str(ob["timeSliceWindow"])) * 60.0
                if "timeSliceTarget" in ob:
                    fields["timeslice_target"] = float(ob["timeSliceTarget"])
            for k in ob:
                if k not in ("displayName", "target", "targetPercent", "op", "value", "timeSliceTarget",
                             "timeSliceWindow"):
                    warnings.append(f"{ow}.{k}: not mapped")
            objs.append(_objective(str(p), ow, fields))
    unique = list(dict.fromkeys(alerts))
    if unique:
        warnings.append("alert policies: simlab applies one set of burn-rate rules to every SLO of the file")
    return ImportedSlos(str(p), "openslo/v1", service, objs, window or SloWindowSpec(), warnings, unique)


_PAGE = ("page", "critical", "high", "p1", "sev1", "sev-1")


def _alert_policy(file: str, where: str, pol: Any, named: dict[str, dict[str, dict[str, Any]]],
                  warnings: list[str]) -> list[AlertWindowSpec]:
    """Burn-rate alert rules from an OpenSLO AlertPolicy (by name or inline): each burnrate
    AlertCondition becomes a rule over its `lookbackWindow` at its `threshold`; `alertAfter`
    (a time the condition must hold) is taken as the short window, the nearest multi-window
    reading; severity page for page/critical/high, else ticket."""
    if isinstance(pol, str):
        doc = named["AlertPolicy"].get(pol)
        if doc is None:
            raise SloImportError(file, where, f"no AlertPolicy named {pol!r} in the file")
        pol = doc
    if isinstance(pol, dict) and "alertPolicyRef" in pol:
        return _alert_policy(file, where, pol["alertPolicyRef"], named, warnings)
    pspec = (pol or {}).get("spec") or {}
    out: list[AlertWindowSpec] = []
    for j, cond in enumerate(pspec.get("conditions") or []):
        cw = f"{where}.conditions.{j}"
        if isinstance(cond, dict) and "conditionRef" in cond:
            ref = cond["conditionRef"]
            cond = named["AlertCondition"].get(ref)
            if cond is None:
                raise SloImportError(file, cw, f"no AlertCondition named {ref!r} in the file")
        cspec = (cond or {}).get("spec") or {}
        c = cspec.get("condition") or {}
        if c.get("kind") != "burnrate":
            warnings.append(f"{cw}: condition kind {c.get('kind')!r} not mapped (only burnrate)")
            continue
        if c.get("op", "gte") not in ("gte", "gt"):
            warnings.append(f"{cw}: op {c.get('op')!r} not mapped (a burn-rate alert fires at or above its threshold)")
            continue
        long_w, short_w = str(c.get("lookbackWindow", "")), str(c.get("alertAfter", "5m"))
        try:
            minutes(long_w)
            minutes(short_w)
        except ValueError as err:
            raise SloImportError(file, cw, str(err)) from None
        sev: Literal["page", "ticket"] = "page" if str(cspec.get("severity", "")).lower() in _PAGE else "ticket"
        warnings.append(f"{cw}: alertAfter {short_w} read as the short window of a multi-window rule")
        try:
            out.append(AlertWindowSpec(severity=sev, long_window=long_w, short_window=short_w,
                                       burn_rate=float(c["threshold"])))
        except (KeyError, ValidationError, ValueError) as err:
            raise SloImportError(file, cw, f"a burnrate condition needs threshold, lookbackWindow, alertAfter: {err}") from None
    if pspec.get("notificationTargets"):
        warnings.append(f"{where}: notificationTargets not mapped")
    return out


def import_slo_file(path: str | Path) -> ImportedSlos:
    """OpenSLO or sloth, told apart by `apiVersion: openslo/v1` or `version: prometheus/v1`."""
    p = Path(path)
    docs = _load_docs(p)
    first = docs[0] if docs else None
    if isinstance(first, dict) and first.get("apiVersion") == "openslo/v1":
        return import_openslo(p)
    if isinstance(first, dict) and first.get("version") == "prometheus/v1":
        return import_sloth(p)
    raise SloImportError(str(p), "", "neither OpenSLO (apiVersion: openslo/v1) nor sloth (version: prometheus/v1)")
