"""What a configuration costs per month, and how much of what it pays for it uses.

Price tables are data (`data/pricing/*.yaml`, validated like a scenario: `load_pricing` names
the file and the field of any problem). A table may carry three kinds of prices:

* `resources`: per vCPU-month, per GiB-month of memory and of storage, per GB of billed
  network (what a Kubernetes cluster's cost allocation charges a pod for its requests);
* `node_types`: instances per node-hour, self-managed (a VM you run Redis on) or managed (a
  cache service's node), with their vCPUs and memory;
* `serverless`: per GB-hour of data stored plus per million request units, with the rule
  that turns a command into units (`bytes_per_unit`: one unit per started KiB transferred,
  at least `min_units_per_request`), and the minimum data billed.

`cost_of(scenario, result)` prices the scenario's own configuration (`cost:` block: the
pod's requests, or a node type) and measures its efficiency on the simulated usage;
`cost_of_config(config, pricing, ...)` prices any alternative (node type, vCPU / memory,
replicas, shards, serverless) for the planner.

Definitions:

* monthly cost = sum over instances (shards x (1 + replicas)) of what each is billed for a
  month of `hours_per_month` (730 by default, 8760 / 12); network: billed bytes x price;
* cost per million requests = monthly cost / (simulated throughput x seconds per month / 1e6);
* efficiency = used / provisioned, weighted by cost, over CPU and memory (Kubecost's cost
  efficiency): (cpu_used x cpu_price + mem_used x mem_price) / (cpu_provisioned x cpu_price +
  mem_provisioned x mem_price), each `used` capped at what is provisioned. CPU used is the
  simulated busy time of the cache instances (mean busy servers: Redis executes commands on
  one thread, so one busy server is one busy vCPU); memory used is Redis's used_memory (the
  dataset with per-key overheads, at most maxmemory) times `memory_fragmentation_ratio`
  (RSS / used_memory), per instance. Storage and network are billed as used, so they are left
  out of the ratio.

Network: the bytes the cache sends (replies: values on hits and HGETALLs, pub/sub fan-out,
small replies otherwise), times `billed_network_share` (traffic inside a zone is free on the
big clouds; only what crosses a zone or leaves the region is billed).

The seed's cost attribution ($5.85/month: CPU 3.00, memory 2.40, storage 0.30, network 0.15;
efficiency 72 %) is reproduced by `data/pricing/seed-allocation.yaml` with the default
scenario's pod (100m CPU, 128 MiB memory, a 3 GiB volume): see that file and
`tests/simlab/test_cost.py`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simlab.paths import PRICING_DIR
from simlab.results import RunResult
from simlab.scenario import Scenario
from simlab.workload.distributions import mean_of, sample

__all__ = [
    "CostError",
    "CostReport",
    "NodeType",
    "PriceTable",
    "ResourcePrices",
    "ServerlessPrices",
    "available_pricing",
    "cost_of",
    "cost_of_config",
    "load_pricing",
    "request_units",
    "workload_usage",
]

GIB = 1024**3
GB = 1e9


class CostError(ValueError):
    """A price table or a configuration that cannot be priced: which file/field, what."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {len(problems)} problem(s)"]
        lines += [f"  at {loc or '<root>'}: {msg}" for loc, msg in problems]
        super().__init__("\n".join(lines))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourcePrices(_Model):
    vcpu_month_usd: float = Field(ge=0)
    memory_gib_month_usd: float = Field(ge=0)
    storage_gib_month_usd: float = Field(default=0.0, ge=0)
    network_gb_usd: float = Field(default=0.0, ge=0, description="per GB (1e9 bytes) billed")


class NodeType(_Model):
    name: str
    kind: Literal["self-managed", "managed"]
    vcpu: float = Field(gt=0)
    memory_gib: float = Field(gt=0)
    usd_per_hour: float = Field(ge=0)
    network_gbps: float | None = Field(default=None, gt=0)


class ServerlessPrices(_Model):
    name: str = "serverless"
    data_gb_hour_usd: float = Field(ge=0)
    million_request_units_usd: float = Field(ge=0)
    bytes_per_unit: int = Field(default=1024, gt=0, description="one unit per started block transferred")
    min_units_per_request: float = Field(default=1.0, ge=0)
    minimum_data_gb: float = Field(default=0.0, ge=0)
    unit_rule: str = ""


class PriceTable(_Model):
    """A price table: where the prices come from, for which region, as of which date."""

    name: str
    source: str = Field(min_length=1)
    region: str = Field(min_length=1)
    date: str = Field(min_length=1, description="when the prices were read (YYYY-MM-DD)")
    currency: Literal["USD"] = "USD"
    notes: str = ""
    hours_per_month: float = Field(default=730.0, gt=0)
    resources: ResourcePrices | None = None
    network_gb_usd: float | None = Field(default=None, ge=0, description="billed network, if no `resources`")
    storage_gib_month_usd: float | None = Field(default=None, ge=0)
    node_types: list[NodeType] = Field(default_factory=list)
    serverless: ServerlessPrices | None = None

    @model_validator(mode="after")
    def _something(self) -> PriceTable:
        if self.resources is None and not self.node_types and self.serverless is None:
            raise ValueError("a price table needs `resources`, `node_types` or `serverless`")
        names = [n.name for n in self.node_types]
        if len(set(names)) != len(names):
            raise ValueError("node type names must be unique")
        return self

    @property
    def seconds_per_month(self) -> float:
        return self.hours_per_month * 3600.0

    def node(self, name: str) -> NodeType:
        for n in self.node_types:
            if n.name == name:
                return n
        raise CostError(self.name, [("node_types", f"no node type {name!r}; known: {[n.name for n in self.node_types]}")])

    @property
    def network_price(self) -> float:
        if self.resources is not None:
            return self.resources.network_gb_usd
        return self.network_gb_usd or 0.0

    @property
    def storage_price(self) -> float:
        if self.resources is not None:
            return self.resources.storage_gib_month_usd
        return self.storage_gib_month_usd or 0.0


def available_pricing() -> list[str]:
    """Names of the shipped price tables (files in data/pricing/)."""
    return sorted(p.stem for p in PRICING_DIR.glob("*.yaml"))


def load_pricing(name_or_path: str | Path) -> PriceTable:
    """A shipped table by name (`seed-allocation`) or any YAML file by path; `CostError`
    names the file and the field path when it is invalid."""
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        p = PRICING_DIR / f"{name_or_path}.yaml"
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as err:
        known = ", ".join(available_pricing())
        raise CostError(str(p), [("", f"cannot read file: {err.strerror} (shipped tables: {known})")]) from None
    except yaml.YAMLError as err:
        raise CostError(str(p), [("", f"not valid YAML: {err}")]) from None
    if not isinstance(data, dict):
        raise CostError(str(p), [("", "expected a mapping at the top level")])
    try:
        return PriceTable.model_validate(data)
    except ValidationError as err:
        raise CostError(str(p), [(".".join(str(x) for x in e["loc"]), e["msg"]) for e in err.errors()]) from None


# --- usage of a configuration ----------------------------------------------------------------


def _reply_bytes(sc: Scenario, hit_ratio: float) -> float:
    """Mean bytes the cache sends per request (RESP framing of ~16 bytes included)."""
    value = mean_of(sc.keyspace.value_size_bytes)
    frame = 16.0
    total = 0.0
    weight = 0.0
    for src in sc.sources:
        shares = src.flows
        s = sum(shares.values())
        for flow, share in shares.items():
            f = sc.flows[flow]
            w = src.rate_rps * share / s
            if f.kind == "cache_aside":
                mix = f.op_mix or {"get": 1.0}
                m = sum(mix.values())
                reads = mix.get("get", 0.0) / m
                h = hit_ratio if hit_ratio == hit_ratio else 1.0
                b = frame + reads * h * value * f.keys_per_request
            elif f.kind == "session":
                b = frame + value
            elif f.kind == "pubsub":
                b = frame + f.subscribers * (frame + value)
            else:
                b = frame
            total += w * b
            weight += w
    return total / weight if weight else 0.0


def workload_usage(sc: Scenario, result: RunResult | None = None) -> dict[str, float]:
    """What the workload uses, from the run when given (else from the scenario's rates):
    requests per second, busy vCPUs of the cache instances, used_memory per instance (bytes),
    bytes the cache sends per second."""
    rps = sum(s.rate_rps for s in sc.sources)
    hit = math.nan
    busy = math.nan
    if result is not None:
        o = result.overall
        rps = float(o["throughput_rps"])
        hit = float(o["hit_ratio"])
        res = result.resources
        if len(res):
            cache = res[res["resource"].str.startswith("cache")]
            if "mean_busy_servers" in cache:
                busy = float(cache["mean_busy_servers"].sum())
            else:
                busy = float((cache["utilisation"] * cache["servers"]).sum())
    ks = sc.keyspace
    per_key = mean_of(ks.key_size_bytes) + mean_of(ks.value_size_bytes) + sc.cache.per_key_overhead_bytes
    if ks.ttl.kind != "none":
        per_key += sc.cache.expire_overhead_bytes
    dataset = ks.num_keys * per_key / sc.cache.shards
    used = min(dataset, sc.cache.maxmemory_bytes) if sc.cache.maxmemory_bytes else dataset
    return {
        "requests_per_s": rps,
        "busy_vcpu": busy,
        "used_memory_bytes_per_instance": used,
        "dataset_bytes": dataset * sc.cache.shards,
        "egress_bytes_per_s": rps * _reply_bytes(sc, hit),
        "hit_ratio": hit,
    }


# --- the report ------------------------------------------------------------------------------


class CostReport:
    """Monthly cost by resource, cost per million requests and efficiency (see module doc)."""

    def __init__(self, *, configuration: str, pricing: PriceTable, breakdown: dict[str, float],
                 requests_per_month: float, efficiency: float | None, instances: int,
                 provisioned: dict[str, float], used: dict[str, float], reference: dict[str, Any] | None = None,
                 notes: list[str] | None = None) -> None:
        self.configuration = configuration
        self.pricing = pricing
        self.breakdown = {k: float(v) for k, v in breakdown.items()}
        self.requests_per_month = requests_per_month
        self.efficiency = efficiency
        self.instances = instances
        self.provisioned = provisioned
        self.used = used
        self.reference = reference
        self.notes = notes or []

    @property
    def monthly_cost_usd(self) -> float:
        return float(sum(self.breakdown.values()))

    @property
    def cost_per_million_requests_usd(self) -> float:
        if self.requests_per_month <= 0:
            return math.nan
        return self.monthly_cost_usd / (self.requests_per_month / 1e6)

    @property
    def table(self) -> pd.DataFrame:
        rows = [{"resource": k, "monthly_usd": v} for k, v in self.breakdown.items()]
        rows.append({"resource": "total", "monthly_usd": self.monthly_cost_usd})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return clean({
            "configuration": self.configuration,
            "pricing": {"name": self.pricing.name, "source": self.pricing.source, "region": self.pricing.region,
                        "date": self.pricing.date},
            "monthly_cost_usd": round(self.monthly_cost_usd, 6),
            "breakdown": {k: round(v, 6) for k, v in self.breakdown.items()},
            "cost_per_million_requests_usd": self.cost_per_million_requests_usd,
            "requests_per_month": self.requests_per_month,
            "efficiency": self.efficiency,
            "efficiency_definition": "cost-weighted used / provisioned over CPU and memory",
            "instances": self.instances,
            "provisioned": self.provisioned,
            "used": self.used,
            "reference": self.reference,
            "notes": self.notes,
        })

    def _repr_html_(self) -> str:
        eff = "-" if self.efficiency is None else f"{self.efficiency * 100:.1f} %"
        head = (f"<h4>{html.escape(self.configuration)}: ${self.monthly_cost_usd:.2f}/month, "
                f"${self.cost_per_million_requests_usd:.4f} per million requests, efficiency {eff} "
                f"({html.escape(self.pricing.name)}, {html.escape(self.pricing.region)}, {self.pricing.date})</h4>")
        return head + self.table.to_html(index=False, float_format=lambda x: f"{x:.2f}")

    def __repr__(self) -> str:
        return (f"CostReport({self.configuration}: ${self.monthly_cost_usd:.2f}/month, "
                f"breakdown={ {k: round(v, 2) for k, v in self.breakdown.items()} }, efficiency={self.efficiency})")


def _efficiency(prices: ResourcePrices | None, node: NodeType | None, provisioned: dict[str, float],
                used: dict[str, float]) -> float | None:
    """Cost-weighted used / provisioned over CPU and memory (see the module docstring)."""
    if any(not math.isfinite(used.get(k, math.nan)) for k in ("vcpu", "memory_gib")):
        return None
    if prices is not None:
        pc, pm = prices.vcpu_month_usd, prices.memory_gib_month_usd
    elif node is not None:
        # a node's price is not split by resource: weigh vCPU and GiB by their share of it
        pc, pm = 1.0 / node.vcpu, 1.0 / node.memory_gib
    else:
        return None
    cap_c, cap_m = provisioned["vcpu"], provisioned["memory_gib"]
    denom = cap_c * pc + cap_m * pm
    if denom <= 0:
        return None
    return (min(used["vcpu"], cap_c) * pc + min(used["memory_gib"], cap_m) * pm) / denom


def cost_of_config(
    config: Mapping[str, Any],
    pricing: PriceTable | str | Path,
    *,
    requests_per_month: float = 0.0,
    used_vcpu: float = math.nan,
    used_memory_bytes_per_instance: float = math.nan,
    data_bytes: float = 0.0,
    egress_bytes_per_month: float = 0.0,
    billed_network_share: float = 0.0,
    units_per_request: float | None = None,
    storage_bytes: int | None = None,
) -> CostReport:
    """Price one configuration.

    `config` keys: `shards` (1), `replicas` (0) and one of
    - `node_type`: a node type of the table (per node-hour, self-managed or managed);
    - `cpu_request` (vCPU), `memory_request_bytes` and optionally `storage_bytes`: a pod priced
      by the table's `resources`;
    - `serverless: true`: priced per GB-hour of `data_bytes` and per million request units
      (`units_per_request`, default the table's minimum per request).
    Usage (`used_*`, total over instances for vCPU) gives the efficiency; leave it out for a
    price only."""
    table = pricing if isinstance(pricing, PriceTable) else load_pricing(pricing)
    shards = int(config.get("shards", 1))
    replicas = int(config.get("replicas", 0))
    if shards < 1 or replicas < 0:
        raise CostError("<config>", [("shards/replicas", f"need shards >= 1 and replicas >= 0, got {shards}/{replicas}")])
    instances = shards * (1 + replicas)
    hours = table.hours_per_month
    network = egress_bytes_per_month * billed_network_share / GB * table.network_price
    notes: list[str] = []
    storage = storage_bytes if storage_bytes is not None else int(config.get("storage_bytes", 0) or 0)
    used = {"vcpu": used_vcpu, "memory_gib": used_memory_bytes_per_instance * instances / GIB}
    if config.get("serverless"):
        sv = table.serverless
        if sv is None:
            raise CostError(table.name, [("serverless", "this table has no serverless prices")])
        data_gb = max(data_bytes / GB, sv.minimum_data_gb)
        units = units_per_request if units_per_request is not None else sv.min_units_per_request
        breakdown = {
            "data": data_gb * hours * sv.data_gb_hour_usd,
            "requests": requests_per_month * units / 1e6 * sv.million_request_units_usd,
            "network": network,
        }
        if data_bytes / GB < sv.minimum_data_gb:
            notes.append(f"data billed at the minimum of {sv.minimum_data_gb:g} GB")
        return CostReport(configuration=f"{sv.name} (serverless)", pricing=table, breakdown=breakdown,
                          requests_per_month=requests_per_month, efficiency=None, instances=0,
                          provisioned={"data_gb": data_gb, "units_per_request": units},
                          used={"data_gb": data_bytes / GB}, notes=notes)
    if "node_type" in config and config["node_type"]:
        node = table.node(str(config["node_type"]))
        nodes = instances * node.usd_per_hour * hours
        # split the node's price into CPU and memory by the table's resource prices when it has
        # them, else half and half (a node's price is not itemised)
        if table.resources is not None:
            wc = node.vcpu * table.resources.vcpu_month_usd
            wm = node.memory_gib * table.resources.memory_gib_month_usd
            share = wc / (wc + wm) if wc + wm > 0 else 0.5
        else:
            share = 0.5
        breakdown = {"cpu": nodes * share, "memory": nodes * (1 - share),
                     "storage": storage / GIB * table.storage_price * instances, "network": network}
        prov = {"vcpu": node.vcpu * instances, "memory_gib": node.memory_gib * instances}
        eff = _efficiency(table.resources, node, prov, used)
        name = f"{instances} x {node.name} ({node.kind})"
        return CostReport(configuration=name, pricing=table, breakdown=breakdown,
                          requests_per_month=requests_per_month, efficiency=eff, instances=instances,
                          provisioned=prov, used=used, notes=notes)
    if "cpu_request" in config:
        prices = table.resources
        if prices is None:
            raise CostError(table.name, [("resources", "this table has no per-resource prices for a pod")])
        cpu = float(config["cpu_request"])
        mem = float(config["memory_request_bytes"]) / GIB
        breakdown = {
            "cpu": instances * cpu * prices.vcpu_month_usd,
            "memory": instances * mem * prices.memory_gib_month_usd,
            "storage": instances * storage / GIB * prices.storage_gib_month_usd,
            "network": network,
        }
        prov = {"vcpu": cpu * instances, "memory_gib": mem * instances}
        eff = _efficiency(prices, None, prov, used)
        lim = config.get("memory_limit_bytes")
        if lim and math.isfinite(used_memory_bytes_per_instance) and used_memory_bytes_per_instance > float(lim):
            notes.append(f"memory used {used_memory_bytes_per_instance / 2**20:.0f} MiB exceeds the limit "
                         f"{float(lim) / 2**20:.0f} MiB: the pod would be OOM-killed")
        name = f"{instances} x pod ({cpu * 1000:g}m CPU, {mem * 1024:g} MiB)"
        return CostReport(configuration=name, pricing=table, breakdown=breakdown,
                          requests_per_month=requests_per_month, efficiency=eff, instances=instances,
                          provisioned=prov, used=used, notes=notes)
    raise CostError("<config>", [("", "give `node_type`, `cpu_request` + `memory_request_bytes`, or `serverless: true`")])


def request_units(sc: Scenario, table: PriceTable, *, seed: int = 0, n: int = 200_000) -> float:
    """Mean serverless request units per request under the table's unit rule: one unit per
    started `bytes_per_unit` transferred (key + value), at least `min_units_per_request`;
    estimated from `n` seeded draws of the scenario's sizes."""
    sv = table.serverless
    if sv is None:
        return 0.0
    rng = np.random.default_rng(seed)
    size = sample(sc.keyspace.key_size_bytes, rng, n) + sample(sc.keyspace.value_size_bytes, rng, n)
    units = np.maximum(np.ceil(size / sv.bytes_per_unit), sv.min_units_per_request)
    return float(units.mean())


def cost_of(scenario: Scenario, result: RunResult | None = None, pricing: PriceTable | str | Path | None = None,
            ) -> CostReport:
    """The scenario's configuration (`cost:` block) priced with `pricing` (or the block's
    table), its usage and efficiency from `result` when given."""
    spec = scenario.cost
    if spec is None and pricing is None:
        raise CostError(scenario.name, [("cost", "the scenario has no `cost:` block and no pricing was given")])
    table_ref = pricing if pricing is not None else (spec.pricing if spec is not None else None)
    if table_ref is None:
        raise CostError(scenario.name, [("cost.pricing", "name a price table (e.g. seed-allocation) or a file")])
    table = table_ref if isinstance(table_ref, PriceTable) else load_pricing(table_ref)
    use = workload_usage(scenario, result)
    months_s = table.seconds_per_month
    config: dict[str, Any] = {"shards": scenario.cache.shards, "replicas": scenario.cache.replicas}
    storage = None
    if spec is not None and spec.pod is not None:
        config.update(cpu_request=spec.pod.cpu_request, memory_request_bytes=spec.pod.memory_request_bytes,
                      memory_limit_bytes=spec.pod.memory_limit_bytes)
        storage = spec.pod.storage_bytes
    elif spec is not None and spec.node_type is not None:
        config["node_type"] = spec.node_type
    else:
        raise CostError(scenario.name, [("cost", "give `cost.pod` (requests/limits) or `cost.node_type`")])
    frag = spec.memory_fragmentation_ratio
    rep = cost_of_config(
        config, table, requests_per_month=use["requests_per_s"] * months_s, used_vcpu=use["busy_vcpu"],
        used_memory_bytes_per_instance=use["used_memory_bytes_per_instance"] * frag,
        data_bytes=use["dataset_bytes"], egress_bytes_per_month=use["egress_bytes_per_s"] * months_s,
        billed_network_share=spec.billed_network_share, storage_bytes=storage,
    )
    if spec.monthly_usd is not None:
        rep.reference = {"monthly_usd": spec.monthly_usd, "cpu_usd": spec.cpu_usd, "memory_usd": spec.memory_usd,
                         "storage_usd": spec.storage_usd, "network_usd": spec.network_usd,
                         "efficiency": spec.efficiency}
    rep.configuration = f"{scenario.name}: {rep.configuration}"
    return rep
