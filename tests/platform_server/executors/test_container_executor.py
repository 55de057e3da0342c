"""The container executor on real Podman: mounts, limits, logs, timeouts, cancel, GPUs, services, reaping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from platform_server.executors.base import ExecutorError, Mount, OperatorRun, Outcome, ResourceRequest, ServiceRun
from platform_server.executors.container import ContainerExecutor, ContainerOptions
from platform_server.executors.engine import JOB_LABEL, ContainerEngine
from platform_server.executors.jobspace import container_name, pod_name
from tests.support.containers import leftover_containers, podman_env

pytestmark = pytest.mark.usefixtures("podman")


def job_id(tag: str) -> str:
    return (tag + "0" * 32)[:32]


@pytest.fixture
async def executor() -> AsyncIterator[ContainerExecutor]:
    yield ContainerExecutor(ContainerEngine("podman", podman_env()), ContainerOptions(kill_grace=1.0))


async def finish(executor: ContainerExecutor, job: str) -> None:
    """End the job and wait for the background clean-up, as the platform does when it stops."""
    await executor.end_job(job)
    await executor.close()


def make_run(tmp_path: Path, image: str, command: list[str], job: str, **kwargs: object) -> OperatorRun:
    (tmp_path / "in").mkdir(exist_ok=True)
    values: dict[str, object] = dict(
        job_id=job, operator="op", image=image, command=tuple(command),
        inputs=(Mount("payload", "/input", tmp_path / "in", True),),
        outputs=(Mount("result", "/output", tmp_path / "out", False),),
        env={"NVIDIA_CLARA_JOBID": job, "CLARA_RESULTSSERVICE_SERVICE_HOST": "127.0.0.1"},
        work_dir=tmp_path / "work", log_path=tmp_path / "logs" / "op.log", timeout=60.0,
    )
    values.update(kwargs)
    return OperatorRun(**values)  # type: ignore[arg-type]


async def test_operator_reads_read_only_input_and_writes_output(tmp_path, executor, busybox_image) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.txt").write_text("hello")
    script = ('cat /input/x.txt > /output/y.txt; echo "in=$NVIDIA_CLARA_INPUTPATHS out=$NVIDIA_CLARA_OUTPUTPATHS '
              'results=$CLARA_RESULTSSERVICE_SERVICE_HOST gpus=$NVIDIA_VISIBLE_DEVICES"')
    job = job_id("c1")
    result = await executor.run(make_run(tmp_path, busybox_image, ["sh", "-c", script], job))
    assert result.ok, result
    assert (tmp_path / "out" / "y.txt").read_text() == "hello"
    assert result.last_lines[-1] == "in=payload:/input out=result:/output results=10.0.2.2 gpus=void"
    await finish(executor, job)  # removed in the background once the job has its result
    assert leftover_containers(f"{JOB_LABEL}={job}") == []


async def test_writing_to_an_input_fails_with_a_clear_message(tmp_path, executor, busybox_image) -> None:
    job = job_id("c2")
    result = await executor.run(make_run(tmp_path, busybox_image, ["sh", "-c", "echo x > /input/new.txt"], job))
    await finish(executor, job)
    assert result.outcome == Outcome.FAILED and result.exit_code != 0
    assert "read-only" in result.reason and "declared output" in result.reason
    assert any("Read-only file system" in line for line in result.last_lines)
    assert not (tmp_path / "in" / "new.txt").exists()


async def test_entrypoint_runs_when_there_is_no_command(tmp_path, executor, busybox_image) -> None:
    """busybox images have no entrypoint: the image's default command (`sh`) runs and ends at once."""
    job = job_id("c3")
    result = await executor.run(make_run(tmp_path, busybox_image, [], job))
    await finish(executor, job)
    assert result.ok, result


async def test_exit_code_and_log_lines_are_reported(tmp_path, executor, busybox_image) -> None:
    job = job_id("c4")
    result = await executor.run(make_run(tmp_path, busybox_image, ["sh", "-c", "echo bad input; exit 3"], job))
    await finish(executor, job)
    assert result.outcome == Outcome.FAILED and result.exit_code == 3
    assert result.reason == "operator 'op' exited with code 3"
    assert result.last_lines == ("bad input",)
    assert "bad input" in (tmp_path / "logs" / "op.log").read_text()


async def test_missing_image_fails_clearly_and_leaves_nothing(tmp_path, executor) -> None:
    job = job_id("c5")
    run = make_run(tmp_path, "localhost/openclara-test/does-not-exist:1", ["true"], job, pull_secrets=("ngc",))
    result = await executor.run(run)
    await finish(executor, job)
    assert result.outcome == Outcome.NOT_STARTED
    assert "localhost/openclara-test/does-not-exist:1" in result.reason and "could not be pulled" in result.reason
    assert "pull-secrets ngc are not configured" in result.reason
    assert leftover_containers(f"{JOB_LABEL}={job}") == []


async def test_timeout_stops_the_container(tmp_path, executor, busybox_image) -> None:
    job = job_id("c6")
    started = time.monotonic()
    result = await executor.run(make_run(tmp_path, busybox_image, ["sleep", "60"], job, timeout=1.0))
    await finish(executor, job)
    assert result.outcome == Outcome.TIMED_OUT and "timed out after 1 s" in result.reason
    assert time.monotonic() - started < 6
    assert leftover_containers(f"{JOB_LABEL}={job}") == []


async def test_cancel_stops_the_container_within_two_seconds(tmp_path, executor, busybox_image) -> None:
    job = job_id("c7")
    task = asyncio.create_task(executor.run(make_run(tmp_path, busybox_image, ["sleep", "60"], job)))
    name = container_name(job, "op")
    deadline = time.monotonic() + 20
    while not await executor.engine.running(name):
        assert time.monotonic() < deadline, "the container never started"
        await asyncio.sleep(0.1)
    cancelled = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled < 2.0
    await finish(executor, job)
    assert leftover_containers(f"{JOB_LABEL}={job}") == []


async def test_memory_limit_and_oom_kill_reason(tmp_path, executor, busybox_image) -> None:
    job = job_id("c8")
    # dd allocates its whole block: 64 MiB against a 32 MiB limit.
    script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; " \
             "dd if=/dev/zero of=/dev/null bs=64M count=1"
    run = make_run(tmp_path, busybox_image, ["sh", "-c", script], job,
                   resources=ResourceRequest(memory_mb=32, cpu=0.5))
    result = await executor.run(run)
    await finish(executor, job)
    assert str(32 * 1024 * 1024) in (tmp_path / "logs" / "op.log").read_text()
    assert result.outcome == Outcome.FAILED
    assert result.exit_code == 137
    assert result.reason == "operator 'op' was killed: out of memory (memory limit 32 MiB), exit code 137"


async def test_gpu_request_gets_exactly_its_gpus(tmp_path, executor, busybox_image, fake_gpus) -> None:
    job = job_id("c9")
    script = "env | grep -E '^(FAKE_GPU|NVIDIA_VISIBLE)' | sort"
    with_gpu = await executor.run(make_run(tmp_path, busybox_image, ["sh", "-c", script], job,
                                           resources=ResourceRequest(gpu=1, gpu_ids=(1,))))
    without = await executor.run(make_run(tmp_path, busybox_image, ["sh", "-c", script], job,
                                          operator="cpu-only", log_path=tmp_path / "logs" / "cpu.log"))
    await finish(executor, job)
    assert with_gpu.ok and with_gpu.last_lines == ("FAKE_GPU_1=present",)
    assert without.ok and without.last_lines == ("NVIDIA_VISIBLE_DEVICES=void",)


def service_run(tmp_path: Path, image: str, job: str, command: list[str], timeout: float = 30.0) -> ServiceRun:
    return ServiceRun(job_id=job, name="web", image=image, command=tuple(command), env={"GREETING": "hi"},
                      ports=(8000,), log_path=tmp_path / "logs" / "service-web.log", ready_timeout=timeout)


async def test_service_is_reachable_by_the_operator_and_gone_after_the_job(tmp_path, executor, busybox_image) -> None:
    job = job_id("ca")
    await executor.begin_job(job, (8000,))
    site = "mkdir -p /www && echo \"$GREETING from the service\" > /www/index.html && exec httpd -f -p 8000 -h /www"
    addresses = await executor.start_service(service_run(tmp_path, busybox_image, job, ["sh", "-c", site]))
    assert addresses == {8000: "localhost:8000"}
    run = make_run(tmp_path, busybox_image, ["sh", "-c", "wget -q -O /output/page.html http://$WEB_URI/"], job,
                   env={"WEB_URI": addresses[8000]})
    result = await executor.run(run)
    assert result.ok, result
    assert (tmp_path / "out" / "page.html").read_text() == "hi from the service\n"
    await finish(executor, job)
    assert leftover_containers(f"{JOB_LABEL}={job}") == []
    assert (await executor.engine.call("pod", "exists", pod_name(job), check=False)).code != 0


async def test_service_that_never_answers_times_out_with_its_log(tmp_path, executor, busybox_image) -> None:
    job = job_id("cb")
    await executor.begin_job(job, (8000,))
    with pytest.raises(ExecutorError) as caught:
        await executor.start_service(service_run(tmp_path, busybox_image, job,
                                                 ["sh", "-c", "echo loading models; sleep 60"], timeout=2.0))
    await finish(executor, job)
    message = str(caught.value)
    assert "service 'web'" in message and "did not answer HTTP on port 8000 within 2 s" in message
    assert "loading models" in message
    assert leftover_containers(f"{JOB_LABEL}={job}") == []


async def test_reap_removes_what_a_crashed_platform_left(tmp_path, executor, busybox_image) -> None:
    job = job_id("cc")
    task = asyncio.create_task(executor.run(make_run(tmp_path, busybox_image, ["sleep", "60"], job)))
    deadline = time.monotonic() + 20
    while not await executor.engine.running(container_name(job, "op")):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    # A new executor (the restarted platform) knows nothing but the label.
    fresh = ContainerExecutor(ContainerEngine("podman", podman_env()), ContainerOptions())
    assert await fresh.reap(job, tmp_path) == 1
    result = await task
    assert result.outcome == Outcome.FAILED
    assert leftover_containers(f"{JOB_LABEL}={job}") == []
    await finish(executor, job)
