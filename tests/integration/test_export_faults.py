"""Export agent end to end: real results service, platform server (payload download), DCMTK storescp,
and the agent inside a real `python -m dicom_adapter serve` process (so it can be killed with -9).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import ImplicitVRLittleEndian, JPEG2000Lossless

from tests.conftest import free_port, require_peer
from tests.support import http
from tests.support.instances import make_series
from tests.support.processes import (
    Process,
    dicom_adapter,
    platform_server,
    received_files,
    results_service,
    storescp,
    wait_for,
)

pytestmark = pytest.mark.integration

AGENT = "ClaraSCU"


@dataclass
class Stack:
    results: str
    platform: str
    root: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("export-stack")
    (root / "rs").mkdir()
    (root / "ps").mkdir()
    with results_service(root / "rs", free_port()) as url, platform_server(root / "ps", free_port(), url) as ep:
        yield Stack(url, ep, root)


def upload(stack: Stack, files: list[Path]) -> tuple[str, list[str]]:
    from platform_api.client import PlatformClient

    async def run() -> tuple[str, list[str]]:
        async with PlatformClient(stack.platform) as client:
            payload_id = await client.create_payload()
            uris = [f"seg-writer/seg/{path.name}" for path in files]
            await client.upload_many(payload_id, list(zip(uris, files, strict=True)))
            return str(payload_id), uris

    return asyncio.run(run())


def register(stack: Stack, payload_id: str, uris: list[str], parameters: str) -> str:
    body = {
        "jobId": f"job-{payload_id[:8]}-{parameters[:10]}",
        "pipelineId": "p1",
        "payloadId": payload_id,
        "parameters": parameters,
        "uris": uris,
    }
    response = http.post(f"{stack.results}/api/tasks/register/{AGENT}", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["taskId"])


def task(stack: Stack, task_id: str) -> dict:
    return dict(http.get(f"{stack.results}/api/tasks/{task_id}", timeout=10).json())


def wait_state(stack: Stack, task_id: str, *states: str, timeout: float = 60) -> dict:
    wait_for(lambda: task(stack, task_id)["state"] in states, timeout, f"task {task_id} in {states}")
    return task(stack, task_id)


@contextmanager
def adapter(stack: Stack, tmp: Path, destinations: dict[str, tuple[str, int]]) -> Iterator[Process]:
    """The DICOM adapter with `destinations` {name: (AE title, port)} seeded; export backoff kept short."""
    seed = {
        "destinations": [
            {"name": name, "aeTitle": ae, "hostIp": "127.0.0.1", "port": port}
            for name, (ae, port) in destinations.items()
        ]
    }
    with dicom_adapter(
        tmp,
        dicom_port=free_port(),
        api_port=free_port(),
        platform=stack.platform,
        results=stack.results,
        seed=seed,
        export={"retry_backoff_base_seconds": 0.5, "retry_backoff_max_seconds": 2.0, "stop_timeout_seconds": 5.0},
    ) as process:
        yield process


def test_export_delivers_every_file_once_to_storescp(stack, tmp_path):
    exe = require_peer("storescp")
    files = make_series(tmp_path / "src", 5)
    payload_id, uris = upload(stack, files)
    port = free_port()
    with (
        storescp(exe, tmp_path / "out", port, "DEST"),
        adapter(stack, tmp_path / "adapter", {"MYPACS": ("DEST", port)}) as agent,
    ):
        task_id = register(stack, payload_id, uris, '"MYPACS"')
        done = wait_state(stack, task_id, "Succeeded", "Failed")
    assert done["state"] == "Succeeded", (done, agent.log())
    received = received_files(tmp_path / "out")
    assert sorted(dcmread(p).SOPInstanceUID for p in received) == sorted(dcmread(p).SOPInstanceUID for p in files)


def test_export_retries_a_down_destination_and_delivers_once_when_it_comes_up(stack, tmp_path):
    exe = require_peer("storescp")
    files = make_series(tmp_path / "src", 3)
    payload_id, uris = upload(stack, files)
    port = free_port()
    with adapter(stack, tmp_path / "adapter", {"MYPACS": ("DEST", port)}) as agent:
        task_id = register(stack, payload_id, uris, '"MYPACS"')
        wait_for(lambda: task(stack, task_id)["retries"] >= 1, 60, "a failed first attempt")
        first = task(stack, task_id)
        assert "cannot connect to 127.0.0.1" in (first["lastError"] or ""), first
        with storescp(exe, tmp_path / "out", port, "DEST"):
            done = wait_state(stack, task_id, "Succeeded", "Failed")
    assert done["state"] == "Succeeded", (done, agent.log())
    assert len(received_files(tmp_path / "out")) == 3


def test_export_transcodes_for_a_destination_refusing_the_stored_syntax(stack, tmp_path):
    exe = require_peer("storescp")
    files = make_series(tmp_path / "src", 3, transfer_syntax=JPEG2000Lossless)
    payload_id, uris = upload(stack, files)
    port = free_port()
    # +xi: storescp accepts Implicit VR Little Endian only, so the JPEG 2000 files cannot go as stored
    with (
        storescp(exe, tmp_path / "out", port, "DEST", "+xi"),
        adapter(stack, tmp_path / "adapter", {"MYPACS": ("DEST", port)}) as agent,
    ):
        task_id = register(stack, payload_id, uris, '"MYPACS"')
        done = wait_state(stack, task_id, "Succeeded", "Failed")
    assert done["state"] == "Succeeded", (done, agent.log())
    received = [dcmread(p) for p in received_files(tmp_path / "out")]
    assert len(received) == 3
    assert {ds.file_meta.TransferSyntaxUID for ds in received} == {ImplicitVRLittleEndian}
    assert {ds.SOPInstanceUID for ds in received} == {dcmread(p).SOPInstanceUID for p in files}
    assert all(ds.pixel_array.shape == (64, 64) for ds in received)


def test_export_unknown_destination_fails_with_the_reason_in_clara_results_list(stack, tmp_path):
    files = make_series(tmp_path / "src", 1)
    payload_id, uris = upload(stack, files)
    with adapter(stack, tmp_path / "adapter", {}):
        task_id = register(stack, payload_id, uris, '"NOSUCHPACS"')
        done = wait_state(stack, task_id, "Failed", "Succeeded")
    assert done["state"] == "Failed"
    assert "unknown destination 'NOSUCHPACS'" in done["lastError"]
    listing = subprocess.run(
        [sys.executable, "-m", "clara_cli", "-O", "json", "results", "list", "--agent", AGENT, "--state", "Failed"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CLARA_RESULTS_ENDPOINT": stack.results},
    )
    assert listing.returncode == 0, listing.stderr
    rows = {row["task_id"]: row for row in json.loads(listing.stdout)}  # the CLI's JSON is snake_case
    assert "unknown destination 'NOSUCHPACS'" in rows[task_id]["last_error"]


def test_export_adapter_killed_mid_export_resumes_without_resending(stack, tmp_path):
    exe = require_peer("storescp")
    files = make_series(tmp_path / "src", 6)
    payload_id, uris = upload(stack, files)
    port = free_port()
    out = tmp_path / "out"
    destinations = {"MYPACS": ("DEST", port)}
    # storescp sleeps 1 s after each acknowledged store, so the kill lands between two files
    with storescp(exe, out, port, "DEST", "--sleep-after", "1"):
        with adapter(stack, tmp_path / "adapter", destinations) as first:
            task_id = register(stack, payload_id, uris, '"MYPACS"')
            wait_for(lambda: len(received_files(out)) >= 2, 60, "two files at storescp")
            first.kill()
        killed_at = len(received_files(out))
        assert killed_at < 6
        # The task stays InProgress until its 3 s lease lapses; the restarted adapter then re-leases it.
        with adapter(stack, tmp_path / "adapter", destinations) as restarted:
            done = wait_state(stack, task_id, "Succeeded", "Failed", timeout=90)
    assert done["state"] == "Succeeded", (done, restarted.log())
    received = [dcmread(p).SOPInstanceUID for p in received_files(out)]
    assert len(received) == 6, f"{len(received)} files at storescp after a kill at {killed_at}: duplicates"
    assert set(received) == {dcmread(p).SOPInstanceUID for p in files}
