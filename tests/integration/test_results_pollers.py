"""Real service process: concurrent pollers get every task exactly once; a dead agent's leases come back."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.results_service.service_process import ServiceProcess, wait_until
from tests.support import http

pytestmark = pytest.mark.integration

TASKS = 1000
POLLERS = 8


def _register_range(url: str, start: int, stop: int, agent: str = "ClaraSCU") -> None:
    with http.Client(base_url=url, timeout=30) as client:
        for i in range(start, stop):
            body = {"jobId": f"job-{i}", "payloadId": f"p-{i}", "parameters": '"MYPACS"', "uris": [f"f{i}.dcm"]}
            assert client.post(f"/api/tasks/register/{agent}", json=body).status_code == 201


def _register_many(url: str, count: int, agent: str = "ClaraSCU", workers: int = 4) -> None:
    step = count // workers
    threads = [
        threading.Thread(target=_register_range, args=(url, i * step, (i + 1) * step, agent)) for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _poller(url: str, delivered: list[str], errors: list[str]) -> None:
    with http.Client(base_url=url, timeout=30) as client:
        idle = 0
        while idle < 3:
            tasks = client.get("/api/tasks/ClaraSCU/pending", params={"size": 10}).json()
            if not tasks:
                idle += 1
                continue
            idle = 0
            for task in tasks:
                delivered.append(task["taskId"])
                response = client.put(f"/api/tasks/success/{task['taskId']}")
                if response.status_code != 200:
                    errors.append(response.text)


def test_eight_pollers_deliver_each_of_1000_tasks_exactly_once(tmp_path: Path) -> None:
    with ServiceProcess(tmp_path, free_port()) as service:
        _register_many(service.url, TASKS)
        delivered: list[str] = []
        errors: list[str] = []
        threads = [threading.Thread(target=_poller, args=(service.url, delivered, errors)) for _ in range(POLLERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        counts = Counter(delivered)
        assert errors == []
        assert len(counts) == TASKS, f"{TASKS - len(counts)} tasks never delivered"
        assert [task for task, n in counts.items() if n > 1] == []
        states = http.get(f"{service.url}/api/tasks", params={"state": "succeeded", "limit": 1000}).json()
        assert len(states) == TASKS


AGENT_SCRIPT = """
import sys, time, httpx
from openclara.auth.credentials import auth_headers
tasks = httpx.get(sys.argv[1] + "/api/tasks/ClaraSCU/pending", params={"size": 5}, headers=auth_headers()).json()
print(" ".join(t["taskId"] for t in tasks), flush=True)
time.sleep(600)
"""


def test_killed_agents_leased_tasks_come_back_after_the_lease(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path, free_port(), lease={"seconds": 1, "sweep_interval_seconds": 0.2})
    with service:
        _register_range(service.url, 0, 5)
        agent = subprocess.Popen([sys.executable, "-c", AGENT_SCRIPT, service.url], stdout=subprocess.PIPE, text=True)
        assert agent.stdout is not None
        leased = set(agent.stdout.readline().split())
        agent.kill()
        agent.wait(10)
        assert len(leased) == 5
        in_progress = http.get(f"{service.url}/api/tasks/ClaraSCU/inprogress").json()
        assert {t["taskId"] for t in in_progress} <= leased

        back: set[str] = set()

        def leased_again() -> bool:
            back.update(t["taskId"] for t in http.get(f"{service.url}/api/tasks/ClaraSCU/pending").json())
            return back == leased

        wait_until(leased_again, timeout=30, interval=0.2, what="expired leases to return")
        expiries = 'openclara_results_lease_expiries_total{agent="ClaraSCU"} 5.0'
        wait_until(lambda: expiries in http.get(f"{service.url}/metrics").text, what="5 lease expiries counted")
