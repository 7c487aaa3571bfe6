"""deploy/cachelab-engine.yaml: the seed's hardening plus probes and scrape annotations,
and arguments the engine actually accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.cli import parse_args
from engine.config import Config

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "cachelab-engine.yaml"


def _docs() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    return {d["kind"]: d for d in docs}


def _container() -> dict[str, Any]:
    return _docs()["Deployment"]["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_kinds_namespace_and_service_account() -> None:
    docs = _docs()
    assert set(docs) == {"Deployment", "Service", "PersistentVolumeClaim"}
    assert all(d["metadata"]["namespace"] == "valina" for d in docs.values())
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "valina-sa"
    sel = docs["Deployment"]["spec"]["selector"]["matchLabels"]
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert sel.items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()


def test_hardening_matches_seed() -> None:
    pod = _docs()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    sc = _container()["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]


def test_ports_probes_and_scrape_annotations() -> None:
    docs = _docs()
    c = _container()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["redis"] == 6379
    args = c["args"]
    metrics_port = int(args[args.index("--metrics-port") + 1])
    assert ports["metrics"] == metrics_port
    assert int(args[args.index("--port") + 1]) == 6379
    live, ready = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
    assert (live["path"], live["port"]) == ("/healthz", "metrics")
    assert (ready["path"], ready["port"]) == ("/readyz", "metrics")
    for meta in (docs["Deployment"]["spec"]["template"]["metadata"], docs["Service"]["metadata"]):
        ann = meta["annotations"]
        assert ann["prometheus.io/scrape"] == "true"
        assert int(ann["prometheus.io/port"]) == metrics_port
    svc_ports = {p["name"]: p["port"] for p in docs["Service"]["spec"]["ports"]}
    assert svc_ports["redis"] == 6379


def test_dir_is_a_writable_volume_and_args_parse() -> None:
    """``--dir`` is a mounted volume (the root fs is read-only) and every option is known to
    the engine's config table (cachelab-server would refuse an unknown one at start)."""
    docs = _docs()
    c = _container()
    args = [a.replace("$(REDIS_PASSWORD)", "secret") for a in c["args"]]
    data_dir = args[args.index("--dir") + 1]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert data_dir in mounts
    volumes = {v["name"]: v for v in docs["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    vol = volumes[mounts[data_dir]]
    assert vol["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
    conf_file, text = parse_args(args)
    assert conf_file is None
    cfg = Config()
    cfg.load(text, "<manifest>")
    assert cfg["metrics-port"] == 9121
    assert cfg["maxmemory"] == 256 * 1024 * 1024
    # The container memory limit leaves room above maxmemory.
    limit = c["resources"]["limits"]["memory"]
    assert limit.endswith("Mi") and int(limit[:-2]) * 1024 * 1024 > cfg["maxmemory"]
