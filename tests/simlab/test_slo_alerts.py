"""Burn-rate alerts on injected incidents (simlab.slo.alerts) and their Prometheus rules.

One 4-hour run at 100 rps (~3 s) with three injected faults: a 2-minute restart at 30 min
(every request refused), a 15-minute +300 ms network blip at 90 min (every request over the
200 ms latency threshold: the client round trip's median is 40 ms) and a harmless 2x slow
period of the cache at 150 min (20 us -> 40 us of service: no SLO notices). The expected
detections follow from the rules' arithmetic, derived in each test.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import yaml

from simlab.model.faults import expand_faults
from simlab.model.run import simulate
from simlab.paths import DEFAULT_SCENARIO
from simlab.scenario import load_scenario, scenario_from_dict
from simlab.slo import evaluate_slos
from simlab.slo.alerts import AlertRule, alert_rules, evaluate_alerts, injected_incidents
from simlab.slo.rules import prometheus_rules
from tests.simlab.test_slo import default_run


@functools.lru_cache(maxsize=1)
def incident_run():
    sc = scenario_from_dict({
        "name": "incidents",
        "sources": [{"name": "web", "rate_rps": 100, "flows": {"get": 1.0},
                     "client_rtt_ms": {"kind": "lognormal", "median": 40, "sigma": 0.4}}],
        "keyspace": {"num_keys": 1000},
        "flows": {"get": {"kind": "command", "commands": {"GET": 1}}},
        "cache": {"service_time_us": {"default": {"kind": "constant", "value": 20}}},
        "faults": [{"kind": "restart", "at_s": 1800, "duration_s": 120},
                   {"kind": "blip", "at_s": 5400, "duration_s": 900, "extra_latency_ms": 300},
                   {"kind": "slow", "at_s": 9000, "duration_s": 600, "factor": 2}],
        "run": {"duration_s": 4 * 3600, "warmup_s": 0, "seed": 1},
    })
    return sc, simulate(sc)


def rows(rep, slo, severity):
    d = rep.detections
    return d[(d.slo == slo) & (d.severity == severity)].set_index("incident")


def test_incidents_are_the_scenario_faults():
    sc, result = incident_run()
    inc = injected_incidents(sc, result)
    assert [(i.kind, i.start_s, i.end_s) for i in inc] == [
        ("restart", 1800, 1920), ("blip", 5400, 6300), ("slow", 9000, 9600)]
    # random faults: the same draw as the simulator's (its restart windows, replication 0)
    sc2 = scenario_from_dict({**sc.model_dump(mode="json"), "faults": [
        {"kind": "restart", "rate_per_hour": 3, "duration_s": 5}, {"kind": "blip", "rate_per_hour": 2, "duration_s": 9}]})
    drawn = injected_incidents(sc2, result)
    fault_seq = np.random.SeedSequence([result.seed, 0]).spawn(3)[0]
    w = expand_faults(sc2, result.duration_s, 3, np.random.default_rng(fault_seq))
    assert [(i.start_s, i.end_s) for i in drawn if i.kind == "restart"] == sorted(w.restart[0])
    assert [(i.start_s, i.end_s) for i in drawn if i.kind == "blip"] == sorted((a, b) for a, b, _ in w.blip)
    assert len(drawn) >= 10  # ~12 restarts and ~8 blips expected in 4 hours


def test_page_detects_the_restart_within_a_minute():
    """Minutes 30 and 31 are all refused; before them the service is error-free (the steady
    state also fills windows reaching back before the run). At the end of minute 30 the 1h
    window holds 1 bad minute of 60 (1.7 %, 16.7x) and the 5m window 1 of 5 (20 %, 200x):
    the 14.4x page fires, a 60 s delay. It resets when the 5m window no longer holds minute
    31: after minute 35, i.e. 36 x 60 - 1920 = 240 s after the restart. The 6x rule never
    fires (its 6h window holds 2 bad minutes of 360: 5.6x). The budget spent before detection
    is minute 30's bad requests over the window's budget (0.1 % of 30 days of requests)."""
    sc, result = incident_run()
    rep = evaluate_alerts(sc, result)
    r = rows(rep, "availability", "page").loc["restart"]
    assert r.detected and r.delay_s == 60.0 and r.reset_s == 240.0
    events = result.events.arrays()[1][:, 0].sum(axis=(1, 2))
    bad_minute_30 = result.events.arrays()[1][30, 0, 1:4].sum()
    budget = 0.001 * events.sum() / len(events) * 30 * 1440
    assert r.budget_before_detection == pytest.approx(bad_minute_30 / budget, rel=1e-9)
    assert 0.01 < r.budget_before_detection < 0.05  # ~6000 refused of ~259 200 allowed


def test_latency_page_detects_the_blip_and_nothing_notices_the_harmless_slowdown():
    """15 minutes all over 200 ms: the 5m window is 100 % bad (100x) and the 1h window reaches
    14.4 % after ~9 minutes (14.4x of a 1 % budget): a page a few minutes in. The 2x slow
    period moves the cache from 20 to 40 us: no SLO burns, no alert fires, so page recall is
    2/3 with precision 1."""
    sc, result = incident_run()
    rep = evaluate_alerts(sc, result)
    blip = rows(rep, "latency", "page").loc["blip"]
    # the 1h window reaches 14.4 % of requests over 200 ms at its 9th bad minute (9/60 = 15 %;
    # the steady share over 200 ms is ~3e-5): fires at the end of minute 98, 540 s in
    assert blip.detected and blip.delay_s == 540.0
    assert not rep.detections[rep.detections.incident == "slow"].detected.any()
    page = rep.scores.set_index("severity").loc["page"]
    assert page.precision == 1.0 and page.incidents == 3 and page.detected == 2
    assert page.recall == pytest.approx(2 / 3)
    # the restart is not a latency incident: refused connections come back fast
    assert not rows(rep, "latency", "page").loc["restart"].detected


def test_ticket_long_window_prehistory_and_censoring():
    """With days of steady state before the run, the 3d/6h ticket (1x) ignores a 2-minute
    restart (2 bad minutes of 4320: 0.46x). Without prehistory the 3d window is the run so
    far: the ticket fires on the restart and keeps firing to the end of the 4-hour run (reset
    censored, not invented), and an alert already firing when the blip starts does not count
    as detecting it."""
    sc, result = incident_run()
    steady = rows(evaluate_alerts(sc, result), "availability", "ticket")
    assert not steady.detected.any()
    t = rows(evaluate_alerts(sc, result, prehistory="none"), "availability", "ticket")
    assert t.loc["restart"].detected and t.loc["restart"].still_firing_at_end
    assert t.loc["blip"].already_firing and not t.loc["blip"].detected


def test_rules_are_configurable_and_sloth_option():
    sc, result = incident_run()
    assert [r.name for r in alert_rules(sc.slo)] == ["page-1h-5m-14.4x", "page-6h-30m-6x", "ticket-3d-6h-1x"]
    assert alert_rules(sc.slo, sloth_ticket=True)[-1].name == "ticket-1d-2h-3x"
    strict = evaluate_alerts(sc, result, rules=[AlertRule("page", "1h", "5m", 1000.0)])
    assert not strict.detections.detected.any()  # nothing burns 1000x over a whole hour
    sc2 = scenario_from_dict({**sc.model_dump(mode="json"), "slo": {
        "alerts": [{"severity": "page", "long_window": "30m", "short_window": "5m", "burn_rate": 20}]}})
    assert [r.name for r in alert_rules(sc2.slo)] == ["page-30m-5m-20x"]


def test_prometheus_rules_follow_sloth_naming_and_the_simulated_alerts():
    sc = load_scenario(DEFAULT_SCENARIO)
    text = prometheus_rules(sc, sloth_ticket=True)
    docs = list(yaml.safe_load_all(text))
    groups = docs[-1]["groups"]
    assert len(groups) == 3 * 3  # SLI recordings, meta recordings, alerts per SLO
    avail = [g for g in groups if g["name"] == "sloth-slo-sli-recordings-redis-cache-service-availability"][0]
    records = [r["record"] for r in avail["rules"]]
    assert records == [f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")]
    assert avail["rules"][0]["labels"] == {"sloth_id": "redis-cache-service-availability",
                                           "sloth_service": "redis-cache-service", "sloth_slo": "availability",
                                           "sloth_window": "5m"}
    assert 'code=~"5..|429"' in avail["rules"][0]["expr"]  # 429s are bad for availability here
    meta = {r["record"]: r for g in groups if "meta" in g["name"] and g["name"].endswith("-latency") for r in g["rules"]}
    assert meta["slo:objective:ratio"]["expr"] == "vector(0.99)"
    assert meta["slo:time_period:days"]["expr"] == "vector(30)"
    assert "slo:period_error_budget_remaining:ratio" in meta and "sloth_slo_info" in meta
    alerts = [r for g in groups if g["name"].endswith("alerts-redis-cache-service-error-rate") for r in g["rules"]]
    page = [a for a in alerts if a["labels"]["sloth_severity"] == "page"][0]
    assert "ratio_rate5m" in page["expr"] and "(14.4 * 0.001)" in page["expr"]
    assert "ratio_rate6h" in page["expr"] and "(6 * 0.001)" in page["expr"]
    ticket = [a for a in alerts if a["labels"]["sloth_severity"] == "ticket"][0]
    assert "(3 * 0.001)" in ticket["expr"] and "(1 * 0.001)" in ticket["expr"]
    lat = [g for g in groups if g["name"] == "sloth-slo-sli-recordings-redis-cache-service-latency"][0]
    assert 'le="0.2"' in lat["rules"][0]["expr"]


def test_good_429_changes_the_exported_query():
    sc, _ = default_run()
    sc2 = scenario_from_dict({**sc.model_dump(mode="json"), "slo": {**sc.slo.model_dump(mode="json"), "rejected": "good"}})
    text = prometheus_rules(sc2)
    assert 'code=~"5..|429"' not in text and 'code=~"5.."' in text
    rep = evaluate_slos(sc2, default_run()[1])
    assert rep.objectives[0].achieved > evaluate_slos(sc, default_run()[1]).objectives[0].achieved


def test_fixed_faults_are_charged_once_by_default():
    """The 2-minute restart at a fixed time: charged once, its refused requests over the
    budget of a 30-day window at the run's rate (0.1 % x 6000 requests a minute x 43 200
    minutes), ~4.6 % (2 of 43.2 minutes of full outage); the rest of the run burns nothing.
    As a recurring sample (the 4-hour run, fault and all, repeated over 30 days) the same run
    spends the budget ten times over."""
    sc, result = incident_run()
    a = {o.name: o for o in evaluate_slos(sc, result).objectives}["availability"]
    counts = result.events.arrays()[1][:, 0]  # [minute, outcome, bucket] of the whole service
    bad = counts[:, 1:4].sum()
    allowed_events = 0.001 * counts.sum() / counts.shape[0] * 30 * 1440
    assert a.steady_burn_rate == 0.0
    assert a.one_off_budget == pytest.approx(bad / allowed_events, rel=1e-9)
    assert 0.04 < a.one_off_budget < 0.05
    assert a.budget_remaining == pytest.approx(1 - a.one_off_budget) and a.verdict == "met"
    bd = evaluate_slos(sc, result).burn_down
    assert bd[bd.slo == "availability"].budget_remaining.iloc[-1] == pytest.approx(a.budget_remaining)
    rec = {o.name: o for o in evaluate_slos(sc, result, fixed_faults="recurring").objectives}["availability"]
    assert rec.budget_remaining < -5 and rec.verdict == "missed"


def test_page_detects_an_error_burst_after_nine_minutes():
    """A 20-minute error burst (10 % of requests fail) at minute 60 of a 3-hour run at
    100 requests/s that is otherwise error-free, availability target 99.9 %: the 5m window
    burns 100x at once, but the 1h window reaches 14.4x (1.44 % bad) only with 9 burst
    minutes in it (8 give 1.33 %, 9 give 1.50 %; a minute's share is 10 % +- 0.4 %
    (binomial, 6,000 requests), which cannot move 9 minutes' mean across 1.44 %): detected at
    the end of minute 68, 540 s after the start. It resets after minute 83, whose 5m window
    is the first without burst minute 79: 5040 - 4800 = 240 s after the end. The 6h/30m page
    needs 21.6 burst minutes in 6 hours and stays quiet; so does the 3-day ticket (20 minutes
    at 10 % over 3 days: 0.46x). Precision and recall of the page: 1.0."""
    sc = scenario_from_dict({
        "name": "error-burst",
        "sources": [{"name": "web", "rate_rps": 100, "flows": {"get": 1.0}}],
        "keyspace": {"num_keys": 1000},
        "flows": {"get": {"kind": "command", "commands": {"GET": 1}}},
        "cache": {"service_time_us": {"default": {"kind": "constant", "value": 20}}},
        "faults": [{"kind": "error_burst", "at_s": 3600, "duration_s": 1200, "share": 0.1}],
        "run": {"duration_s": 3 * 3600, "warmup_s": 0, "seed": 2},
    })
    result = simulate(sc)
    causes = dict(zip(result.errors["cause"], result.errors["requests"], strict=True))
    assert causes["upstream"] / (1200 * 100) == pytest.approx(0.1, abs=0.004)  # 4.5 sd of 120,000
    rep = evaluate_alerts(sc, result)
    assert [(i.kind, i.start_s, i.end_s) for i in rep.incidents] == [("error_burst", 3600, 4800)]
    page = rows(rep, "availability", "page")
    fast = page[page.delay_s.notna()]
    assert len(fast) == 1 and fast.iloc[0].delay_s == 540.0 and fast.iloc[0].reset_s == 240.0
    ep = rep.episodes[(rep.episodes.slo == "availability") & (rep.episodes.severity == "page")]
    assert len(ep) == 1 and bool(ep.true_positive.all())
    ticket = rows(rep, "availability", "ticket")
    assert not ticket.detected.any()
    score = rep.scores.set_index("severity").loc["page"]
    assert score.precision == 1.0 and score.recall == 1.0
