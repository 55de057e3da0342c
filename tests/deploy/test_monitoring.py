"""The chart's monitoring: the platform's /metrics port wired through config, pod and Service, and a
Prometheus scrape config whose targets are the chart's own Services, each scraped with a bearer token."""

from __future__ import annotations

from typing import Any

import yaml

from tests.deploy.chart import FULLNAME, NAMESPACE, pod_spec, render, values


def scrape_configs() -> list[dict[str, Any]]:
    config_map = render("default").get("ConfigMap", f"{FULLNAME}-prometheus")
    return list(yaml.safe_load(config_map["data"]["scrape-configs.yaml"])["scrape_configs"])


def service_ports() -> dict[str, set[int]]:
    services = render("default").of_kind("Service")
    return {s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]} for s in services}


def test_every_service_is_scraped_at_one_of_its_service_ports() -> None:
    jobs = {c["job_name"]: c for c in scrape_configs()}
    assert sorted(jobs) == ["openclara-dicom", "openclara-platform", "openclara-results"]
    ports = service_ports()
    for job in jobs.values():
        [target] = job["static_configs"][0]["targets"]
        host, port = target.rsplit(":", 1)
        name, namespace, svc = host.split(".")
        assert (namespace, svc) == (NAMESPACE, "svc") and int(port) in ports[name], target
        assert job["metrics_path"] == "/metrics"


def test_every_scrape_sends_the_read_only_token_from_a_file() -> None:
    token_file = values()["metrics"]["scrapeConfig"]["tokenFile"]
    for job in scrape_configs():
        assert job["authorization"] == {"type": "Bearer", "credentials_file": token_file}


def test_the_platform_metrics_port_is_the_same_in_config_pod_and_service() -> None:
    for scenario, port in (("default", values()["metrics"]["port"]), ("variants", 9100)):
        manifests = render(scenario)
        metrics = manifests.config("platform")["metrics"]
        assert (metrics["enabled"], metrics["host"], metrics["port"]) == (True, "0.0.0.0", port)
        assert f"{FULLNAME}-platform.{NAMESPACE}.svc" in metrics["allowed_hosts"]
        [container] = pod_spec(manifests, "platform")["containers"]
        assert {"name": "metrics", "containerPort": port} in container["ports"]
        service = manifests.get("Service", f"{FULLNAME}-platform")
        assert {"name": "metrics", "port": port, "targetPort": "metrics", "appProtocol": "http"} in \
            service["spec"]["ports"]


def test_the_scrape_config_can_be_left_out() -> None:
    assert not [c for c in render("variants").of_kind("ConfigMap") if c["metadata"]["name"].endswith("-prometheus")]
