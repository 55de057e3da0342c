"""The register_results operator as a real process against a real results service."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.results_service.service_process import REPO, ServiceProcess
from tests.support import http

pytestmark = pytest.mark.integration


def _payload(tmp_path: Path) -> Path:
    out = tmp_path / "payloads" / "p1" / "operators" / "seg-writer" / "output"
    out.mkdir(parents=True)
    (out / "seg.dcm").write_bytes(b"seg")
    return out


def _operator(output_dir: Path, port: int, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "NVIDIA_CLARA_JOBID": "job-1",
        "NVIDIA_CLARA_PAYLOADID": "p1",
        "NVIDIA_CLARA_PIPELINEID": "pipe-1",
        "NVIDIA_CLARA_INPUTPATHS": f"seg-writer:{output_dir}",
        "CLARA_RESULTSSERVICE_SERVICE_HOST": "127.0.0.1",
        "CLARA_RESULTSSERVICE_SERVICE_PORT": str(port),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline_operators.register_results", "--agent", "ClaraSCU", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def test_operator_registers_one_task_per_destination_idempotently(tmp_path: Path) -> None:
    output_dir = _payload(tmp_path)
    with ServiceProcess(tmp_path, free_port()) as service:
        for _ in range(2):  # a retried job registers again: no duplicate tasks
            proc = _operator(output_dir, service.port, "--data", '["MYPACS","OTHER"]')
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert out.count("registered task") == 2
        tasks = http.get(f"{service.url}/api/tasks", params={"jobId": "job-1"}).json()
        assert sorted(t["parameters"] for t in tasks) == ['"MYPACS"', '"OTHER"']
        assert all(t["uris"] == ["operators/seg-writer/output/seg.dcm"] for t in tasks)
        assert all((t["payloadId"], t["pipelineId"]) == ("p1", "pipe-1") for t in tasks)


def test_operator_waits_for_a_late_service(tmp_path: Path) -> None:
    output_dir = _payload(tmp_path)
    port = free_port()
    proc = _operator(output_dir, port, "--data", '"MYPACS"', "--retry-seconds", "60")
    time.sleep(1.0)  # the service is down for a while; what matters is that the operator waited for it
    with ServiceProcess(tmp_path, port) as service:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        assert len(http.get(f"{service.url}/api/tasks").json()) == 1


def test_operator_fails_with_clear_message_when_service_stays_down(tmp_path: Path) -> None:
    proc = _operator(_payload(tmp_path), free_port(), "--data", '["MYPACS"]', "--retry-seconds", "2")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "register_results: error: could not register results with http://127.0.0.1:" in err
    assert "within 2 s: service unreachable" in err
