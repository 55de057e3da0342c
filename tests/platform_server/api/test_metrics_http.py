"""/metrics of a real in-process platform after a known workload, its token check, and Clara's node monitor.

The workload: one reusable payload uploaded (1,000 bytes) and downloaded once; a NORMAL job whose two
operators complete; a HIGHER job whose one operator exits 3. Operators are local processes; the GPU is a
fake `nvidia-smi` on PATH that prints one board's CSV line.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from openclara.auth.credentials import client_token
from openclara.auth.grpc_client import token_interceptors
from openclara.metrics import Figures, ScrapeError, scrape
from platform_api import JobPriority, JobState, PlatformClient
from platform_api._generated.nvidia.clara.platform.node_monitor import metrics_pb2, metrics_pb2_grpc
from platform_server.app import PlatformServer
from platform_server.settings import PlatformSettings
from tests.pki import make_pki

READER_TOKEN = "metrics-reader-token-for-tests"
MIB = 1024 * 1024
PIPELINE = """\
api-version: 0.4.0
name: known
operators:
- name: copy
  container: {{image: local/py, command: [{python}, -c, "import shutil,sys; shutil.copytree(sys.argv[1], sys.argv[2], \
dirs_exist_ok=True)", /input, /output]}}
  input: [{{path: /input}}]
  output: [{{path: /output}}]
- name: count
  container: {{image: local/py, command: [{python}, -c, "import os,sys; print(len(os.listdir(sys.argv[1])))", /in]}}
  input: [{{from: copy, path: /in}}]
"""
FAILING = """\
api-version: 0.4.0
name: failing
operators:
- name: crash
  container: {{image: local/py, command: [{python}, -c, "import sys; sys.exit(3)"]}}
"""


@pytest.fixture
def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One GPU at 45 % with 6000 of 16000 MiB used, in the `--query-gpu ... --format=csv` shape."""
    folder = tmp_path / "bin"
    folder.mkdir()
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '0, 00000000:3B:00.0, 45, 10000, 6000, 16000'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def settings(root: Path, tls: dict[str, str] | None = None, **metrics: object) -> PlatformSettings:
    reader = {"name": "prometheus", "role": "read-only", "sha256": hashlib.sha256(READER_TOKEN.encode()).hexdigest()}
    return PlatformSettings.model_validate({
        "server": {"port": 0, "tls": tls or {}}, "metrics": metrics, "storage": {"data_dir": str(root)},
        "scheduler": {"gpus": 0, "max_concurrent_jobs": 2}, "auth": {"api_keys": [reader]}})


@dataclass
class Running:
    server: PlatformServer

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.metrics_port}/metrics"

    async def scrape(self, token: str | None = READER_TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.get(self.url, headers=headers)


@pytest.fixture
async def platform(tmp_path: Path, fake_nvidia_smi: None) -> AsyncIterator[Running]:
    server = PlatformServer(settings(tmp_path / "data"), request_stop=lambda: None)
    await server.start()
    yield Running(server)
    await server.stop()


async def wait_stopped(client: PlatformClient, job_id: str) -> None:
    for _ in range(600):
        if (await client.job_status(job_id)).state == JobState.STOPPED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not stop")


async def known_workload(endpoint: str, folder: Path) -> None:
    python = sys.executable
    async with PlatformClient(endpoint, timeout=20) as client:
        payload = await client.create_payload()
        await client.upload(payload, "study/1.dcm", b"x" * 1000)
        await client.download(payload, "study/1.dcm", folder / "1.dcm")
        assert (folder / "1.dcm").read_bytes() == b"x" * 1000
        known = await client.create_pipeline({"known.yaml": PIPELINE.format(python=python)})
        job, _ = await client.create_job(known, "known-1", input_payloads=[payload])
        await client.start_job(job)
        await wait_stopped(client, job)
        failing = await client.create_pipeline({"failing.yaml": FAILING.format(python=python)})
        bad, _ = await client.create_job(failing, "failing-1", priority=JobPriority.HIGHER)
        await client.start_job(bad)
        await wait_stopped(client, bad)
        await client.create_job(known, "never-started")


async def test_figures_after_a_known_workload(platform: Running, tmp_path: Path) -> None:
    await known_workload(platform.endpoint, tmp_path)
    response = await platform.scrape()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    figures = Figures.parse(response.text)

    assert figures.types["openclara_platform_jobs"] == "gauge"
    assert figures.value("openclara_platform_jobs", state="STOPPED", priority="NORMAL") == 1
    assert figures.value("openclara_platform_jobs", state="STOPPED", priority="HIGHER") == 1
    assert figures.value("openclara_platform_jobs", state="PENDING", priority="NORMAL") == 1
    assert figures.total("openclara_platform_jobs", state="RUNNING") == 0
    assert figures.total("openclara_platform_queue_depth") == 0
    assert figures.value("openclara_platform_job_slots") == 2

    assert figures.types["openclara_platform_jobs_finished"] == "counter"
    assert figures.value("openclara_platform_jobs_finished_total", status="HEALTHY") == 1
    assert figures.value("openclara_platform_jobs_finished_total", status="FAULTED") == 1
    assert figures.types["openclara_platform_queue_wait_seconds"] == "histogram"
    assert figures.value("openclara_platform_queue_wait_seconds_count", priority="NORMAL") == 1
    assert figures.value("openclara_platform_queue_wait_seconds_count", priority="HIGHER") == 1
    assert figures.total("openclara_platform_job_duration_seconds_count") == 2
    for operator in ("copy", "count"):
        assert figures.value("openclara_platform_operator_duration_seconds_count", operator=operator,
                             outcome="completed") == 1
    assert figures.value("openclara_platform_operator_duration_seconds_count", operator="crash",
                         outcome="failed") == 1
    assert figures.value("openclara_platform_executor_errors_total", reason="failed") == 1
    assert figures.total("openclara_platform_executor_errors_total") == 1
    assert figures.value("openclara_platform_payload_bytes_total", direction="upload") == 1000
    assert figures.value("openclara_platform_payload_bytes_total", direction="download") == 1000

    assert figures.value("openclara_platform_node_cpus") == os.cpu_count()
    assert 0 <= (figures.value("openclara_platform_node_cpu_utilization_ratio") or -1) <= 1
    assert (figures.value("openclara_platform_node_memory_size_bytes") or 0) > 0
    for volume in ("data", "payloads", "models"):
        size = figures.value("openclara_platform_node_disk_size_bytes", volume=volume) or 0
        assert 0 < (figures.value("openclara_platform_node_disk_available_bytes", volume=volume) or 0) <= size
    assert (figures.value("openclara_platform_process_resident_memory_bytes") or 0) > 0

    assert figures.value("openclara_platform_gpus") == 1
    assert figures.value("openclara_platform_gpu_utilization_ratio", gpu="0", pcie_id=str(0x3B)) == 0.45
    assert figures.value("openclara_platform_gpu_memory_used_bytes", gpu="0") == 6000 * MIB
    assert figures.value("openclara_platform_gpu_memory_free_bytes", gpu="0") == 10000 * MIB


async def test_metrics_need_a_token_with_a_role(platform: Running) -> None:
    refused = await platform.scrape(token=None)
    assert refused.status_code == 401 and "openclara_platform" not in refused.text
    async with httpx.AsyncClient(timeout=10) as http:
        with pytest.raises(ScrapeError, match="HTTP 401 \\(a read-only token is needed\\)"):
            await scrape(http, platform.url, None)
        assert (await scrape(http, platform.url, READER_TOKEN)).value("openclara_platform_job_slots") == 2
        with pytest.raises(ScrapeError, match="ConnectError"):
            await scrape(http, "http://127.0.0.1:9/metrics", READER_TOKEN)
    assert (await platform.scrape(token="not-a-token")).status_code == 401
    assert (await platform.scrape(token=client_token())).status_code == 200  # the stack's admin token
    async with httpx.AsyncClient(timeout=10) as http:  # a DNS-rebinding page's Host is refused before the token
        rebound = await http.get(platform.url, headers={"Host": "attacker.example"})
    assert rebound.status_code == 421


async def test_node_monitor_streams_the_same_gpu_readings(platform: Running) -> None:
    async with grpc.aio.insecure_channel(platform.endpoint,
                                         interceptors=token_interceptors(READER_TOKEN)) as channel:
        stream = metrics_pb2_grpc.MonitorStub(channel).GpuMetrics(metrics_pb2.MonitorGpuMetricsRequest())
        first = await anext(aiter(stream))
        stream.cancel()
    assert first.header.code == 0
    [gpu] = first.gpu_details
    assert gpu.device_id == 0 and gpu.timestamp.value > 0
    assert gpu.data.gpu_utilization == pytest.approx(0.45) and gpu.data.memory_utilization == pytest.approx(0.375)
    assert (gpu.data.used_gpu_memory, gpu.data.free_gpu_memory) == (6000, 10000)


async def test_clara_utilization_reads_the_same_gpus(platform: Running) -> None:
    async with PlatformClient(platform.endpoint, timeout=10) as client:
        [gpu] = await client.utilization()
    assert gpu.pcie_id == 0x3B and gpu.compute_utilization == pytest.approx(0.45)


async def test_node_monitor_refuses_a_caller_without_a_token(platform: Running) -> None:
    async with grpc.aio.insecure_channel(platform.endpoint) as channel:
        stream = metrics_pb2_grpc.MonitorStub(channel).GpuMetrics(metrics_pb2.MonitorGpuMetricsRequest())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await anext(aiter(stream))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


async def test_a_busy_metrics_port_stops_the_start(tmp_path: Path, busy_port: int) -> None:
    server = PlatformServer(settings(tmp_path, port=busy_port), request_stop=lambda: None)
    with pytest.raises(OSError, match=f"metrics: cannot listen on 127.0.0.1:{busy_port}"):
        await server.start()


async def test_metrics_can_be_switched_off(tmp_path: Path) -> None:
    server = PlatformServer(settings(tmp_path, enabled=False), request_stop=lambda: None)
    await server.start()
    try:
        assert server.metrics_port == 0 and server.port > 0
    finally:
        await server.stop()


def test_default_port_follows_the_api_port() -> None:
    assert PlatformSettings().metrics_port == 30032
    assert PlatformSettings.model_validate({"server": {"port": 40000}}).metrics_port == 40001
    assert PlatformSettings.model_validate({"server": {"port": 0}}).metrics_port == 0
    assert PlatformSettings.model_validate({"metrics": {"port": 9100}}).metrics_port == 9100
    assert PlatformSettings().metrics_host == "127.0.0.1"


async def test_with_server_tls_metrics_are_https_with_the_same_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    tls = {"cert_file": str(pki.server_crt), "key_file": str(pki.server_key)}
    server = PlatformServer(settings(tmp_path / "data", tls), request_stop=lambda: None)
    await server.start()
    try:
        headers = {"Authorization": f"Bearer {READER_TOKEN}"}
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(pki.ca_crt)), timeout=10) as http:
            response = await http.get(f"https://127.0.0.1:{server.metrics_port}/metrics", headers=headers)
        assert response.status_code == 200 and "openclara_platform_jobs" in response.text
        async with httpx.AsyncClient(timeout=10) as http:  # no plain HTTP beside it
            with pytest.raises(httpx.HTTPError):
                await http.get(f"http://127.0.0.1:{server.metrics_port}/metrics", headers=headers)
    finally:
        await server.stop()

