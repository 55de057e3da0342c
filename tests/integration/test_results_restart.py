"""Real service process: kill -9 and restart loses no acknowledged task; SIGTERM drains and exits 0."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.results_service.service_process import ServiceProcess, wait_until
from tests.support import http

pytestmark = pytest.mark.integration


def _registrar(url: str, acknowledged: list[str], stop: threading.Event) -> None:
    with http.Client(base_url=url, timeout=5) as client:
        i = 0
        while not stop.is_set():
            body = {"jobId": f"job-{i}", "parameters": '"MYPACS"', "uris": [f"f{i}.dcm"]}
            try:
                response = client.post("/api/tasks/register/ClaraSCU", json=body)
            except httpx.TransportError:
                return  # the service was killed mid-request: that task was never acknowledged
            if response.status_code == 201:
                acknowledged.append(response.json()["taskId"])
            i += 1


def _all_tasks(url: str) -> dict[str, dict[str, object]]:
    tasks: dict[str, dict[str, object]] = {}
    offset = 0
    while page := http.get(f"{url}/api/tasks", params={"limit": 1000, "offset": offset}).json():
        tasks.update((task["taskId"], task) for task in page)
        offset += len(page)
    return tasks


def test_kill_9_and_restart_loses_no_acknowledged_task(tmp_path: Path) -> None:
    port = free_port()
    service = ServiceProcess(tmp_path, port).start()
    try:
        with http.Client(base_url=service.url) as client:
            for i in range(30):
                client.post("/api/tasks/register/DICOMweb", json={"jobId": f"d{i}", "uris": ["a.dcm"]})
            leased = client.get("/api/tasks/DICOMweb/pending", params={"size": 20}).json()
            for task in leased[:10]:
                client.put(f"/api/tasks/success/{task['taskId']}")
            for task in leased[10:15]:
                client.put(f"/api/tasks/failure/{task['taskId']}", json={"RetryLater": False})
        acknowledged: list[str] = []
        stop = threading.Event()
        writer = threading.Thread(target=_registrar, args=(service.url, acknowledged, stop))
        writer.start()
        wait_until(lambda: len(acknowledged) >= 200, what="200 acknowledged registrations")
        service.kill()
        stop.set()
        writer.join(30)

        service = ServiceProcess(tmp_path, port).start()
        tasks = _all_tasks(service.url)
        missing = set(acknowledged) - set(tasks)
        assert missing == set(), f"{len(missing)} acknowledged tasks lost"
        states = [task["state"] for task in tasks.values() if task["agent"] == "DICOMweb"]
        assert (
            states.count("Succeeded"),
            states.count("Failed"),
            states.count("InProgress"),
            states.count("Pending"),
        ) == (10, 5, 5, 10)
    finally:
        service.kill()


def test_sigterm_drains_and_exits_zero(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path, free_port()).start()
    http.post(f"{service.url}/api/tasks/register/ClaraSCU", json={"jobId": "j", "uris": ["a.dcm"]})
    assert service.terminate() == 0
    service.start()
    try:
        assert len(http.get(f"{service.url}/api/tasks").json()) == 1
    finally:
        service.kill()
