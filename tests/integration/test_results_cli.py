"""`clara results start|status|list|retry|stop` as real processes against a real service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port
from tests.results_service.service_process import REPO
from tests.support import http

pytestmark = pytest.mark.integration


def _clara(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLARA_HOME": str(home), "CLARA_RESULTS_ENDPOINT": url, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "clara_cli", *args], env=env, capture_output=True, text=True, timeout=90, cwd=REPO
    )


def test_cli_start_list_retry_stop(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "results.yaml"
    config.write_text(
        yaml.safe_dump({"port": port, "database": {"path": str(tmp_path / "r.db")}, "cleanup": {"enabled": False}})
    )
    home = tmp_path / "home"
    started = _clara(home, url, "results", "start", "-f", str(config))
    try:
        assert started.returncode == 0, started.stderr
        assert "results service started (pid" in started.stdout
        again = _clara(home, url, "results", "start", "-f", str(config))
        assert again.returncode == 1 and "results is already running" in again.stderr

        task = http.post(f"{url}/api/tasks/register/ClaraSCU", json={"jobId": "j1", "uris": ["a.dcm"]}).json()
        http.get(f"{url}/api/tasks/ClaraSCU/pending")
        http.put(f"{url}/api/tasks/failure/{task['taskId']}", json={"retryLater": False, "error": "refused"})

        listed = _clara(home, url, "--output", "json", "results", "list", "--state", "failed")
        assert [t["task_id"] for t in json.loads(listed.stdout)] == [task["taskId"]]
        retried = _clara(home, url, "results", "retry", task["taskId"])
        assert retried.stdout == f"task {task['taskId']} is Pending again (agent ClaraSCU)\n"
        conflict = _clara(home, url, "results", "retry", task["taskId"])
        assert conflict.returncode == 1
        assert "409: task" in conflict.stderr and "only a Failed task can be retried" in conflict.stderr
        status = _clara(home, url, "--output", "json", "results", "status")
        assert json.loads(status.stdout)["ready"] is True
    finally:
        stopped = _clara(home, url, "results", "stop")
    assert stopped.stdout == "results service stopped\n"
    down = _clara(home, url, "results", "list")
    assert down.returncode == 1
    assert down.stderr.strip() == (
        f"error: results service is not reachable at {url} (ConnectError); "
        "start it with `clara results start`, or the whole stack with `scripts/run` (`openclara up`)"
    )
