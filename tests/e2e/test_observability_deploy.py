"""The monitoring that compose.yaml's `observability` profile starts: the files it mounts
exist, Prometheus scrapes every API replica and every worker where they serve their metrics,
and the Grafana dashboard reads only metrics Orderly defines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import yaml
from prometheus_client.metrics import MetricWrapperBase

from orderly_telemetry import metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
_METRIC = re.compile(r"\b(orderly_[a-z_]+)")
_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _yaml(path: Path) -> dict[str, Any]:
    return cast("dict[str, Any]", yaml.safe_load(path.read_text(encoding="utf-8")))


def _defined() -> set[str]:
    """Every series name Orderly's metrics expose."""
    names: set[str] = set()
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            names |= {metric._name} | {metric._name + suffix for suffix in _SUFFIXES}
    return names


def test_every_file_the_profile_mounts_exists() -> None:
    services = _yaml(ROOT / "compose.yaml")["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"


def test_prometheus_scrapes_the_api_and_every_worker_where_they_serve() -> None:
    compose = _yaml(ROOT / "compose.yaml")
    worker_port = re.fullmatch(
        r"\$\{WORKER_METRICS_PORT:-(\d+)\}",
        compose["x-orderly"]["environment"]["WORKER_METRICS_PORT"],
    )
    assert worker_port is not None
    jobs = {
        job["job_name"]: job
        for job in _yaml(DEPLOY / "prometheus/prometheus.yml")["scrape_configs"]
    }

    assert set(jobs) == {"orderly-api", "orderly-worker"}
    for job, (service, port) in {
        "orderly-api": ("api", 8000),
        "orderly-worker": ("worker", int(worker_port.group(1))),
    }.items():
        [found] = jobs[job]["dns_sd_configs"]
        assert (found["names"], found["port"], jobs[job]["metrics_path"]) == (
            [service], port, "/metrics"
        )  # fmt: skip


def test_the_dashboard_reads_only_metrics_orderly_defines_and_shows_each_family() -> None:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/orderly.json").read_text("utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in _METRIC.findall(expr)}
    provisioned = _yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")
    [source] = provisioned["datasources"]

    assert used <= _defined(), used - _defined()
    shown = {
        name.removesuffix(suffix) for name in used for suffix in _SUFFIXES if name.endswith(suffix)
    }
    shown |= used
    every = {m._name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}
    assert every <= shown, every - shown
    assert all(panel["datasource"]["uid"] == source["uid"] for panel in dashboard["panels"])
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
