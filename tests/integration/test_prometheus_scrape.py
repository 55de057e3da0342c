"""A real Prometheus scrapes a real platform process with the Helm chart's scrape job: up with the read-only
token from a file, down (401) without a valid one; every query of the Grafana dashboards is PromQL it runs.
And `promtool` accepts the chart's scrape config as is."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import free_port, require_peer
from tests.deploy.chart import FULLNAME, ROOT, render
from tests.platform_server.server_process import ServerProcess
from tests.support.processes import Process, running, wait_for

pytestmark = pytest.mark.integration
TOKEN = "prometheus-read-only-token"


def chart_scrape_configs() -> list[dict[str, Any]]:
    config_map = render("default").get("ConfigMap", f"{FULLNAME}-prometheus")
    return list(yaml.safe_load(config_map["data"]["scrape-configs.yaml"])["scrape_configs"])


def test_promtool_accepts_the_charts_scrape_config(tmp_path: Path) -> None:
    promtool = require_peer("promtool", "prometheus")
    jobs = chart_scrape_configs()
    for job in jobs:  # the file lives in the Prometheus pod; here it must merely exist
        token = tmp_path / job["job_name"]
        token.write_text(TOKEN)
        job["authorization"]["credentials_file"] = str(token)
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": jobs}))
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[ServerProcess]:
    reader = {"name": "prometheus", "role": "read-only", "sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}
    (tmp_path / "platform").mkdir()
    process = ServerProcess(tmp_path / "platform", free_port(), metrics__port=free_port(),
                            auth__api_keys=[reader])
    try:
        asyncio.run(process.start())
        yield process
    finally:
        assert process.stop() == 0, process.log.read_text()


def prometheus_config(folder: Path, metrics_port: int) -> Path:
    """The chart's platform job pointed at this platform, twice: with the token, and with a wrong one."""
    [platform_job] = [job for job in chart_scrape_configs() if job["job_name"] == "openclara-platform"]
    jobs = []
    for name, token in (("with-token", TOKEN), ("wrong-token", "not-the-token")):
        token_file = folder / f"{name}.token"
        token_file.write_text(token)
        job = {**platform_job, "job_name": name, "scrape_interval": "1s", "scrape_timeout": "1s",
               "authorization": {**platform_job["authorization"], "credentials_file": str(token_file)},
               "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
        jobs.append(job)
    config = folder / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": jobs}))
    return config


def targets(api: str) -> dict[str, dict[str, Any]]:
    active = httpx.get(f"{api}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return {t["labels"]["job"]: t for t in active}


def test_prometheus_scrapes_the_platform_with_the_read_only_token(platform: ServerProcess, tmp_path: Path) -> None:
    binary = require_peer("prometheus", "prometheus")
    metrics_port = yaml.safe_load(platform.config.read_text())["metrics"]["port"]
    web = free_port()
    api = f"http://127.0.0.1:{web}"
    argv = [binary, f"--config.file={prometheus_config(tmp_path, metrics_port)}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{web}"]
    proc = Process(argv, tmp_path / "prometheus.log")

    def ready() -> bool:
        try:
            return httpx.get(f"{api}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    with running(proc, ready, 60, "Prometheus"):
        # One scrape may time out on a loaded machine: wait for the steady state, then say what was seen.
        def settled() -> bool:
            found = targets(api)
            return found.get("with-token", {}).get("health") == "up" and "401" in found.get(
                "wrong-token", {}).get("lastError", "")

        try:
            wait_for(settled, 60, "the token's target up and the wrong token's refused")
        except AssertionError:
            raise AssertionError(json.dumps(targets(api), indent=1)) from None
        assert targets(api)["wrong-token"]["health"] == "down"
        answer = httpx.get(f"{api}/api/v1/query", params={"query": 'openclara_platform_job_slots{job="with-token"}'},
                           timeout=5).json()
        [sample] = answer["data"]["result"]
        assert sample["value"][1] == "1"  # ServerProcess runs one job at a time
        for dashboard in sorted((ROOT / "deploy/grafana").glob("*.json")):
            for panel in json.loads(dashboard.read_text())["panels"]:
                for target in panel["targets"]:
                    result = httpx.get(f"{api}/api/v1/query", params={"query": target["expr"]}, timeout=5).json()
                    assert result["status"] == "success", f"{dashboard.name} {panel['title']!r}: {result}"
