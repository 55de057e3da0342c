"""Cleanup against a REAL platform server: a finished job's payload is deleted, an unfinished one kept."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from platform_api import NotFound, PlatformClient, PlatformError
from tests.conftest import free_port
from tests.results_service.service_process import REPO, ServiceProcess
from tests.support import http

pytestmark = pytest.mark.integration


@pytest.fixture
def platform_endpoint(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "platform.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"host": "127.0.0.1", "port": port},
                "metrics": {"port": 0},  # any free port: the default (the API's + 1) may be taken
                "storage": {"data_dir": str(tmp_path / "platform")},
                "log": {"level": "WARNING"},
            }
        )
    )
    log = (tmp_path / "platform.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "platform_server", "serve", "-f", str(config)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "CLARA_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)},
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def _payload_with_file(endpoint: str) -> str:
    deadline = time.monotonic() + 60
    async with PlatformClient(endpoint, timeout=5) as client:
        while True:
            try:
                payload_id = await client.create_payload()
                break
            except PlatformError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        await client.upload(payload_id, "seg.dcm", b"result")
    return str(payload_id)


async def _exists(endpoint: str, payload_id: str) -> bool:
    async with PlatformClient(endpoint, timeout=10) as client:
        try:
            await client.payload_details(payload_id)
        except NotFound:
            return False
    return True


async def _wait_deleted(endpoint: str, payload_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while await _exists(endpoint, payload_id):
        assert time.monotonic() < deadline, f"payload {payload_id} was not deleted within {timeout:.0f} s"
        await asyncio.sleep(0.2)


async def test_cleanup_deletes_finished_jobs_payload_and_keeps_unfinished(
    tmp_path: Path, platform_endpoint: str
) -> None:
    finished_payload = await _payload_with_file(platform_endpoint)
    unfinished_payload = await _payload_with_file(platform_endpoint)
    service = ServiceProcess(
        tmp_path,
        free_port(),
        platform_endpoint=platform_endpoint,
        cleanup={"enabled": True, "retainDataForMinutes": 0, "interval_seconds": 0.3},
    )
    with service:
        async with http.AsyncClient(base_url=service.url) as client:
            for job, payload in (("finished", finished_payload), ("unfinished", unfinished_payload)):
                for destination in ("A", "B"):
                    response = await client.post(
                        "/api/tasks/register/ClaraSCU",
                        json={
                            "jobId": job,
                            "payloadId": payload,
                            "parameters": f'"{destination}"',
                            "uris": ["seg.dcm"],
                        },
                    )
                    assert response.status_code == 201
            leased = (await client.get("/api/tasks/ClaraSCU/pending", params={"size": 10})).json()
            for task in leased:
                if task["jobId"] == "finished" and task["parameters"] == '"A"':
                    await client.put(f"/api/tasks/success/{task['taskId']}")
                elif task["jobId"] == "finished":
                    await client.put(f"/api/tasks/failure/{task['taskId']}", json={"retryLater": False})
                elif task["parameters"] == '"A"':
                    await client.put(f"/api/tasks/success/{task['taskId']}")  # B of "unfinished" stays InProgress

            await _wait_deleted(platform_endpoint, finished_payload)
            # The platform answers NotFound as soon as it deleted; the service records the deletion just after.
            deadline = time.monotonic() + 30
            deleted = 'openclara_results_payload_deletions_total{outcome="deleted"} 1.0'
            while deleted not in (await client.get("/metrics")).text:
                assert time.monotonic() < deadline, "the service never recorded the payload deletion"
                await asyncio.sleep(0.1)
            assert await _exists(platform_endpoint, unfinished_payload)

            # A finished job's Failed task cannot be re-driven once its files are gone: say so.
            failed = (await client.get("/api/tasks", params={"jobId": "finished", "state": "failed"})).json()
            response = await client.post(f"/api/tasks/{failed[0]['taskId']}/retry")
            assert response.status_code == 409
            assert "was deleted by cleanup" in response.json()["detail"]
