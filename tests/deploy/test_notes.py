"""NOTES.txt names the commands that work for the release: Services that exist, the DICOM port as exposed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.chart import FULLNAME, SCENARIOS, render, render_notes


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_notes_name_only_services_of_the_release(scenario: str, tmp_path: Path) -> None:
    notes = render_notes(scenario, tmp_path)
    manifests = render(scenario)
    services = {s["metadata"]["name"]: s for s in manifests.of_kind("Service")}
    deployments = {d["metadata"]["name"] for d in manifests.of_kind("Deployment")}
    assert set(re.findall(r"(?:svc/|get svc )(\S+)", notes)) <= set(services)
    assert set(re.findall(r"deploy/(\S+)", notes)) <= deployments
    for name, _, port in re.findall(r"port-forward svc/(\S+) (\d+):(\d+)", notes):
        assert int(port) in [p["port"] for p in services[name]["spec"]["ports"]]
    assert "clara list jobs --all" in notes
    assert "storescu -aec CLARA" in notes


def test_notes_show_how_the_pacs_reaches_the_dicom_port(tmp_path: Path) -> None:
    node_port = render_notes("default", tmp_path / "default")
    assert "jsonpath='{.spec.ports[0].nodePort}'" in node_port
    assert "platform.gpus" not in node_port
    load_balancer = render_notes("gpu-cluster", tmp_path / "gpu")
    assert "storescu -aec CLARA +sd $DICOM_HOST 104 ./study/" in load_balancer
    assert "platform.gpus" not in load_balancer
    cluster_ip = render_notes("variants", tmp_path / "variants")
    assert f"port-forward svc/{FULLNAME}-dicom 11112:104" in cluster_ip
    assert "platform.gpus is 0" in cluster_ip
    local = render_notes("local-executor", tmp_path / "local")
    assert "inside the platform pod (executor: local)" in local


def test_notes_point_prometheus_at_the_scrape_config(tmp_path: Path) -> None:
    default = render_notes("default", tmp_path / "default")
    assert f"ConfigMap {FULLNAME}-prometheus (key scrape-configs.yaml)" in default
    assert "/etc/prometheus/secrets/openclara-metrics/token" in default
    without = render_notes("variants", tmp_path / "variants")  # scrapeConfig.enabled: false
    assert "GET /metrics" in without and "-prometheus" not in without
