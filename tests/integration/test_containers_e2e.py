"""Operators as containers, through real processes and real Podman.

1. The reference pipeline in containers (config/pipelines/lung-seg-containers.yaml): storescu (DCMTK)
   -> DICOM adapter -> platform (container executor) -> four containers of openclara/operators:0.1
   -> results service -> export agent -> the SEG at DCMTK storescp.
2. Small busybox pipelines through the platform: a service the operator calls, an operator that writes
   to its input, an image that does not exist, a GPU request without GPUs, a service that never answers.
   Each ends as the user expects, and nothing of the job is left running.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread

from platform_api.client import PlatformClient
from platform_api.types import JobState, JobStatus
from platform_server.executors.engine import JOB_LABEL
from tests.conftest import free_port, require_peer
from tests.integration.test_roundtrip_orthanc import write_study
from tests.support.containers import leftover_containers
from tests.support.processes import (
    ROOT,
    dicom_adapter,
    platform_server,
    received_files,
    results_service,
    storescp,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("podman")]
CONTAINERS_PIPELINE = ROOT / "config" / "pipelines" / "lung-seg-containers.yaml"
CLARA_AE = "CLARA-AE"


@dataclass
class Stack:
    platform: str
    results: str
    root: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, podman: None) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("containers")
    for name in ("rs", "ps"):
        (root / name).mkdir()
    executor = {"kind": "container", "kill_grace": 1.0,
                "container": {"containers_conf": str(ROOT / "deploy" / "podman" / "containers.conf")},
                "service_ready_timeout": 4}
    with (
        results_service(root / "rs", free_port(), lease={"seconds": 60, "sweep_interval_seconds": 0.5}) as results,
        platform_server(root / "ps", free_port(), results, executor=executor) as platform,
    ):
        yield Stack(platform, results, root)


async def run_job(endpoint: str, definition: str, files: dict[str, bytes],
                  timeout: float) -> tuple[str, JobStatus, list[str]]:
    async with PlatformClient(endpoint) as client:
        pipeline_id = await client.create_pipeline({"pipeline.yaml": definition})
        job_id, payload_id = await client.create_job(pipeline_id, "containers-e2e")
        for name, content in files.items():
            await client.upload(payload_id, name, content)
        await client.start_job(job_id)
        deadline = time.monotonic() + timeout
        status = await client.job_status(job_id)
        while status.state != JobState.STOPPED and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status = await client.job_status(job_id)
        assert status.state == JobState.STOPPED, f"job still {status.state} after {timeout} s"
        return str(job_id), status.status, list(status.messages)


def job(definition: str, endpoint: str, files: dict[str, bytes] | None = None) -> tuple[str, JobStatus, list[str]]:
    return asyncio.run(run_job(endpoint, definition, files or {}, 120))


async def read_logs(endpoint: str, job_id: str, operator: str) -> list[str]:
    """Jobs.ReadLogs: what the operator's container printed."""
    async with PlatformClient(endpoint) as client:
        return [line async for line in client.read_logs(job_id, operator)]


async def only_job(endpoint: str, pipeline_id: str) -> str:
    async with PlatformClient(endpoint) as client:
        [found] = [j for j in await client.list_jobs() if str(j.pipeline_id) == pipeline_id]
        return str(found.job_id)


def assert_removed(job_id: str) -> None:
    """A job's containers and pod go in the background once it has stopped: within seconds."""
    wait_for(lambda: leftover_containers(f"{JOB_LABEL}={job_id}") == [], 15, f"job {job_id}'s containers removed")


def payload_file(stack: Stack, job_id: str, relative: str) -> Path:
    [path] = (stack.root / "ps" / "platform" / "payloads").glob(f"*/{relative}")
    return path


def busybox_pipeline(image: str, operator: str, service: str = "") -> str:
    return f"""\
api-version: 0.4.0
name: busybox
operators:
- name: op
  container:
    image: {image}
    command: ["sh", "-c", {operator!r}]
  input: [{{path: /input}}]
  output: [{{path: /output}}]
{service}"""


WEB_SERVICE = """\
  services:
  - name: web
    container:
      image: {image}
      command: ["sh", "-c", "mkdir -p /www && echo $(GREETING) > /www/index.html && exec httpd -f -p 8000 -h /www"]
    variables: {{GREETING: hello-from-the-service}}
    connections:
      http: [{{name: WEB_URI, port: 8000}}]
"""


def test_operator_calls_its_service_and_the_service_is_gone_after_the_job(stack: Stack, busybox_image: str) -> None:
    definition = busybox_pipeline(busybox_image, "wget -q -O /output/page.txt http://$WEB_URI/",
                                  WEB_SERVICE.format(image=busybox_image))
    job_id, status, messages = job(definition, stack.platform)
    assert status == JobStatus.HEALTHY, messages
    assert payload_file(stack, job_id, "operators/op/output/page.txt").read_text() == "hello-from-the-service\n"
    assert_removed(job_id)


def test_operator_writing_to_its_input_faults_the_job(stack: Stack, busybox_image: str) -> None:
    definition = busybox_pipeline(busybox_image, "echo changed > /input/study.txt")
    job_id, status, messages = job(definition, stack.platform, {"study.txt": b"original\n"})
    assert status == JobStatus.FAULTED
    assert "read-only" in messages[0] and "declared output" in messages[0], messages
    assert payload_file(stack, job_id, "input/study.txt").read_text() == "original\n"
    assert any("Read-only file system" in line for line in asyncio.run(read_logs(stack.platform, job_id, "op")))
    assert_removed(job_id)


def test_missing_image_faults_the_job_clearly(stack: Stack) -> None:
    job_id, status, messages = job(busybox_pipeline("localhost/openclara-test/nothing:9", "true"), stack.platform)
    assert status == JobStatus.FAULTED
    assert "'localhost/openclara-test/nothing:9' is not on this machine and could not be pulled" in messages[0]
    assert_removed(job_id)


def test_gpu_request_without_gpus_faults_the_job(stack: Stack, busybox_image: str) -> None:
    definition = busybox_pipeline(busybox_image, "true").replace("  output:", "  requests: {gpu: 1}\n  output:")
    _, status, messages = job(definition, stack.platform)
    assert status == JobStatus.FAULTED
    assert "requests 1 GPU(s) but the platform has 0" in messages[0]


def test_service_that_never_answers_faults_the_job_with_a_timeout(stack: Stack, busybox_image: str) -> None:
    silent = WEB_SERVICE.format(image=busybox_image).replace(
        "mkdir -p /www && echo $(GREETING) > /www/index.html && exec httpd -f -p 8000 -h /www",
        "echo warming up; sleep 300")
    job_id, status, messages = job(busybox_pipeline(busybox_image, "true", silent), stack.platform)
    assert status == JobStatus.FAULTED
    assert "service 'web'" in messages[0] and "did not answer HTTP on port 8000 within 4 s" in messages[0]
    assert "warming up" in "\n".join(messages)
    assert_removed(job_id)


def test_reference_pipeline_in_containers_turns_a_study_into_a_seg(stack: Stack, operator_image: str,
                                                                    tmp_path: Path) -> None:
    require_peer("storescu")
    storescp_exe = require_peer("storescp")

    async def register() -> str:
        async with PlatformClient(stack.platform) as client:
            return str(await client.create_pipeline(CONTAINERS_PIPELINE))

    pipeline_id = asyncio.run(register())
    files = write_study(tmp_path / "ct", seed_value=21)
    adapter_port, pacs_port = free_port(), free_port()
    seed = {
        "ae_titles": [{"name": CLARA_AE, "aeTitle": CLARA_AE,
                       "processorSettings": {"timeout": 2, "pipeline-lungseg": pipeline_id}}],
        "sources": [{"aeTitle": "STORESCU", "hostIp": "127.0.0.1"}],
        "destinations": [{"name": "ORTHANC", "aeTitle": "STORESCP", "hostIp": "127.0.0.1", "port": pacs_port}],
    }
    out = tmp_path / "storescp"
    with (
        storescp(storescp_exe, out, pacs_port, "STORESCP"),
        dicom_adapter(tmp_path / "adapter", dicom_port=adapter_port, api_port=free_port(), platform=stack.platform,
                      results=stack.results, seed=seed) as adapter,
    ):
        from tests.support.harness import storescu

        code, output = storescu(adapter_port, files, called=CLARA_AE)
        assert code == 0, output
        try:
            wait_for(lambda: bool(received_files(out)), 300, "the SEG at storescp")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- adapter log ---\n{adapter.log()[-4000:]}") from None
    # register-results is the last operator: once the SEG is out, the job ends and its containers go.
    job_id = asyncio.run(only_job(stack.platform, pipeline_id))
    assert_removed(job_id)
    [path] = received_files(out)
    seg = dcmread(path)
    assert seg.Modality == "SEG"
    assert seg.StudyInstanceUID == dcmread(files[0], stop_before_pixels=True).StudyInstanceUID
    assert {str(s.SegmentLabel).lower() for s in seg.SegmentSequence} == {"body", "lung"}
