"""JobService over real stores: ordering, faults, cancel, priorities, restart recovery, GPUs, metadata."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from platform_server.domain import JobPriority, JobState, JobStatus, OperatorStatus
from platform_server.errors import Conflict, InvalidArgument, NotFound
from platform_server.jobs.service import RESTART_MESSAGE
from tests.platform_server.conftest import DIAMOND, FakeExecutor, Platform, build


async def new_job(platform: Platform, priority: JobPriority = JobPriority.NORMAL, name: str = "job") -> str:
    pipeline = await platform.pipelines.create([("diamond.yaml", DIAMOND)], {})
    job = await platform.service.create(pipeline.pipeline_id, name, priority, [], {"study": "1"})
    return job.job_id


async def test_created_job_is_pending_and_not_queued(platform: Platform) -> None:
    job = await platform.jobs.get(await new_job(platform))
    assert (job.state, job.status, job.queued) == (JobState.PENDING, JobStatus.HEALTHY, None)
    assert platform.scheduler.queued == 0


async def test_fan_out_fan_in_runs_in_dependency_order(platform: Platform, fake: FakeExecutor) -> None:
    job_id = await new_job(platform)
    await platform.service.start(job_id, {"WHO": "pacs"})
    job = await platform.wait_stopped(job_id)
    assert (job.state, job.status) == (JobState.STOPPED, JobStatus.HEALTHY)
    order = [s.split(":")[1] for s in fake.started]
    assert order[0] == "reader" and order[-1] == "join" and set(order[1:3]) == {"left", "right"}
    assert fake.peak == 2  # left and right ran in parallel
    assert all(op.status == OperatorStatus.COMPLETED for op in job.operators)
    reader = fake.runs[0]
    assert reader.command == ("python", "r.py", "pacs")
    assert reader.env["NVIDIA_CLARA_JOBID"] == job_id and reader.env["NVIDIA_CLARA_STAGENAME"] == "reader"
    assert reader.env["LEVEL"] == "debug" and reader.env["CLARA_RESULTSSERVICE_SERVICE_PORT"] == "8088"
    join = next(r for r in fake.runs if r.operator == "join")
    assert [m.host_path.relative_to(platform.payloads.folder(job.payload_id)).as_posix() for m in join.inputs] == [
        "operators/left/seg", "operators/right/output"]


async def test_failing_operator_faults_job_with_log_lines(platform: Platform, fake: FakeExecutor) -> None:
    fake.fail.add("left")
    job_id = await new_job(platform)
    await platform.service.start(job_id, {})
    job = await platform.wait_stopped(job_id)
    assert job.status == JobStatus.FAULTED
    assert job.messages == ["operator 'left' exited with code 1", "last 1 log line(s) of operator 'left':", "  boom"]
    statuses = {op.name: op.status for op in job.operators}
    assert statuses["left"] == OperatorStatus.FAULTED and statuses["join"] == OperatorStatus.PENDING


async def test_start_twice_and_unknown_variables(platform: Platform) -> None:
    job_id = await new_job(platform)
    with pytest.raises(InvalidArgument, match="unknown variable"):
        await platform.service.start(job_id, {"NOPE": "1"})
    await platform.service.start(job_id, {})
    with pytest.raises(Conflict, match="was already started"):
        await platform.service.start(job_id, {})


async def test_unknown_ids(platform: Platform) -> None:
    with pytest.raises(NotFound, match="job 0123456789abcdef0123456789abcdef does not exist"):
        await platform.service.get("0123456789ABCDEF0123456789ABCDEF")
    with pytest.raises(InvalidArgument, match="job id 'nope' is not a valid identifier"):
        await platform.service.get("nope")
    with pytest.raises(NotFound, match="pipeline"):
        await platform.service.create("f" * 32, "x", JobPriority.NORMAL, [], {})


async def test_started_payload_input_is_read_only(platform: Platform) -> None:
    job_id = await new_job(platform)
    job = await platform.jobs.get(job_id)

    async def data():
        yield b"x"

    await platform.payloads.upload(job.payload_id, "a.dcm", data())
    await platform.service.start(job_id, {})
    with pytest.raises(Conflict, match=f"belongs to job {job_id}, which has started: its input is read-only"):
        await platform.payloads.upload(job.payload_id, "b.dcm", data())
    with pytest.raises(Conflict, match="read-only"):
        await platform.payloads.remove(job.payload_id, "input/a.dcm")


async def test_running_jobs_payload_cannot_be_deleted(platform: Platform, fake: FakeExecutor) -> None:
    """Deleting a payload under running operators would fault them with file errors; refuse, name the way out."""
    fake.block.add("reader")
    job_id = await new_job(platform)
    job = await platform.jobs.get(job_id)
    await platform.service.start(job_id, {})
    while not fake.started:
        await asyncio.sleep(0.01)
    with pytest.raises(Conflict, match=f"belongs to job {job_id}, which is running: cancel the job or wait"):
        await platform.payloads.delete(job.payload_id)
    await platform.service.cancel(job_id, "done testing")
    await platform.payloads.delete(job.payload_id)
    with pytest.raises(NotFound):
        await platform.payloads.get(job.payload_id)


async def test_cancel_queued_and_running_jobs(platform: Platform, fake: FakeExecutor) -> None:
    fake.block.add("reader")
    first, second = await new_job(platform), await new_job(platform)
    await platform.service.start(first, {})
    await platform.service.start(second, {})
    while not fake.started:
        await asyncio.sleep(0.01)
    queued = await platform.service.cancel(second, "not needed")
    assert (queued.state, queued.status) == (JobState.STOPPED, JobStatus.CANCELED)
    running = await platform.service.cancel(first, "operator hung")
    assert (running.state, running.status) == (JobState.STOPPED, JobStatus.CANCELED)
    assert running.messages == ["job canceled: operator hung"]
    again = await platform.service.cancel(first, "")
    assert again.status == JobStatus.CANCELED


async def test_immediate_then_higher_then_lower_with_one_slot(platform: Platform, fake: FakeExecutor) -> None:
    fake.block.add("reader")
    # The blocker is IMMEDIATE so it does not use up a turn of NORMAL in the weighted rotation.
    blocker = await new_job(platform, JobPriority.IMMEDIATE)
    await platform.service.start(blocker, {})
    while not fake.started:
        await asyncio.sleep(0.01)
    ids = {}
    for priority in (JobPriority.LOWER, JobPriority.NORMAL, JobPriority.HIGHER, JobPriority.IMMEDIATE):
        ids[priority] = await new_job(platform, priority)
        await platform.service.start(ids[priority], {})
    fake.release.set()
    for job_id in ids.values():
        await platform.wait_stopped(job_id)
    readers = [s.split(":")[0] for s in fake.started if s.endswith(":reader")][1:]
    expected = [ids[p][:6] for p in (JobPriority.IMMEDIATE, JobPriority.HIGHER, JobPriority.NORMAL, JobPriority.LOWER)]
    assert readers == expected


async def test_restart_faults_running_jobs_and_keeps_queued_ones(tmp_path: Path) -> None:
    blocked = FakeExecutor(block={"reader"})
    first = await build(tmp_path, blocked)
    running, queued = await new_job(first), await new_job(first)
    await first.service.start(running, {})
    await first.service.start(queued, {})
    while not blocked.started:
        await asyncio.sleep(0.01)
    first.runner.shutting_down = True  # what a crash looks like: the job stays RUNNING in the database
    await first.scheduler.stop(0)
    await first.db.stop()

    second = await build(tmp_path, FakeExecutor())
    try:
        crashed = await second.jobs.get(running)
        assert (crashed.state, crashed.status) == (JobState.STOPPED, JobStatus.FAULTED)
        assert crashed.messages == [RESTART_MESSAGE]
        finished = await second.wait_stopped(queued)
        assert finished.status == JobStatus.HEALTHY
    finally:
        await second.scheduler.stop(5)
        await second.db.stop()


async def test_restart_can_requeue_running_jobs(tmp_path: Path) -> None:
    blocked = FakeExecutor(block={"reader"})
    first = await build(tmp_path, blocked)
    job_id = await new_job(first)
    await first.service.start(job_id, {})
    while not blocked.started:
        await asyncio.sleep(0.01)
    first.runner.shutting_down = True
    await first.scheduler.stop(0)
    await first.db.stop()
    second = await build(tmp_path, FakeExecutor(), requeue=True)
    try:
        job = await second.wait_stopped(job_id)
        assert job.status == JobStatus.HEALTHY
        assert job.messages == [f"{RESTART_MESSAGE}; it was queued again"]
    finally:
        await second.scheduler.stop(5)
        await second.db.stop()


async def test_operator_requesting_too_many_gpus_faults_clearly(platform: Platform) -> None:
    text = DIAMOND.replace("  variables: {LEVEL: debug}", "  requests: {gpu: 2}")
    pipeline = await platform.pipelines.create([("gpu.yaml", text)], {})
    job = await platform.service.create(pipeline.pipeline_id, "g", JobPriority.NORMAL, [], {})
    await platform.service.start(job.job_id, {})
    stopped = await platform.wait_stopped(job.job_id)
    assert stopped.status == JobStatus.FAULTED
    assert stopped.messages[0].startswith("operator 'reader' requests 2 GPU(s) but the platform has 0")


async def test_gpu_operators_wait_for_free_gpus(tmp_path: Path) -> None:
    fake = FakeExecutor()
    platform = await build(tmp_path, fake, slots=2, gpus=1)
    try:
        # left and right each request the only GPU.
        text = DIAMOND.replace("  input: [{from: reader, path: /in}]\n", "  input: [{from: reader, path: /in}]\n"
                               "  requests: {gpu: 1}\n")
        pipeline = await platform.pipelines.create([("gpu.yaml", text)], {})
        job = await platform.service.create(pipeline.pipeline_id, "g", JobPriority.NORMAL, [], {})
        await platform.service.start(job.job_id, {})
        assert (await platform.wait_stopped(job.job_id)).status == JobStatus.HEALTHY
        assert fake.peak == 1  # left and right each need the only GPU: they ran one after the other
        assert {r.resources.gpu_ids for r in fake.runs if r.operator in ("left", "right")} == {(0,)}
    finally:
        await platform.scheduler.stop(5)
        await platform.db.stop()


async def test_job_metadata_limits(platform: Platform) -> None:
    job_id = await new_job(platform)
    assert await platform.service.add_metadata(job_id, {"Study": "2"}) == {"Study": "2"}
    with pytest.raises(InvalidArgument, match="longer than 256 bytes"):
        await platform.service.add_metadata(job_id, {"k": "v" * 257})
    assert await platform.service.remove_metadata(job_id, ["STUDY"]) == {}
