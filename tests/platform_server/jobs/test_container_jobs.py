"""Jobs through the runner and the real container executor: GPUs as a fake `nvidia-smi` and CDI spec show them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_server.domain import JobPriority, JobStatus
from platform_server.executors.container import ContainerExecutor, ContainerOptions
from platform_server.executors.engine import ContainerEngine
from platform_server.settings import PlatformSettings
from tests.platform_server.conftest import build
from tests.support.containers import podman_env

pytestmark = pytest.mark.usefixtures("podman")


@pytest.fixture
def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An `nvidia-smi` that lists two GPUs, first on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: Fake GPU (UUID: GPU-0)'\necho 'GPU 1: Fake GPU (UUID: GPU-1)'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    yield


def gpu_pipeline(image: str) -> str:
    show = "env | grep -E '^(FAKE_GPU|NVIDIA_VISIBLE)' | sort > /output/gpus.txt"
    operators = "".join(
        f"""
- name: {name}
  container: {{image: {image}, command: [sh, -c, "{show}"]}}
  input: [{{path: /input}}]
  output: [{{path: /output}}]
  requests: {{gpu: {gpus}}}
""" for name, gpus in (("first", 1), ("second", 1), ("cpu-only", 0)))
    return f"api-version: 0.4.0\nname: gpus\noperators:{operators}"


async def test_each_operator_sees_exactly_the_gpus_it_was_given(tmp_path: Path, busybox_image: str,
                                                                 fake_nvidia_smi: None, fake_gpus: None) -> None:
    gpus = PlatformSettings().gpu_count()  # scheduler.gpus: auto -> the fake nvidia-smi's two GPUs
    assert gpus == 2
    executor = ContainerExecutor(ContainerEngine("podman", podman_env()), ContainerOptions())
    platform = await build(tmp_path, executor, slots=1, gpus=gpus)
    try:
        pipeline = await platform.pipelines.create([("gpus.yaml", gpu_pipeline(busybox_image))], {})
        job = await platform.service.create(pipeline.pipeline_id, "gpus", JobPriority.NORMAL, [], {})
        await platform.service.start(job.job_id, {})
        done = await platform.wait_stopped(job.job_id, timeout=60)
        assert done.status == JobStatus.HEALTHY, done.messages
        seen = {name: (platform.payloads.output_dir(job.payload_id, name, "output") / "gpus.txt").read_text().split()
                for name in ("first", "second", "cpu-only")}
        assert seen["cpu-only"] == ["NVIDIA_VISIBLE_DEVICES=void"]
        assert sorted(seen["first"] + seen["second"]) == ["FAKE_GPU_0=present", "FAKE_GPU_1=present"]
    finally:
        await platform.scheduler.stop(5)
        await executor.close()
        await platform.db.stop()
