from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dicom_adapter.assembler import PayloadAssembler
from dicom_adapter.db import Database, PayloadRepository
from dicom_adapter.errors import PlatformRejected, PlatformUnavailable
from dicom_adapter.jobs import IDEMPOTENCY_KEY, job_name
from dicom_adapter.models import PayloadState
from dicom_adapter.settings import PlatformSettings
from dicom_adapter.submitter import PayloadSubmitter
from tests.dicom_adapter.fakes import (
    FakeClock,
    FakePlatform,
    FakeRegistry,
    FakeSpool,
    clara_ae,
    make_instance,
    unavailable,
)


@pytest.fixture
async def database(tmp_path: Path):
    db = Database(tmp_path / "adapter.db")
    await db.start()
    yield db
    await db.stop()


async def closed_payload(database: Database, tmp_path: Path, pipelines: dict[str, str], n: int = 3) -> str:
    clock, closed = FakeClock(), []
    registry = FakeRegistry({"CLARA": clara_ae(pipelines=pipelines, timeout=1)})
    assembler = PayloadAssembler(PayloadRepository(database), registry, FakeSpool(), closed.append, clock=clock)
    await assembler.ingest([make_instance(tmp_path, str(i), series=f"S{i % 2}") for i in range(n)])
    clock.advance(2)
    (payload_id,) = await assembler.close_due()
    return payload_id


def submitter(database: Database, platform: FakePlatform, spool: FakeSpool | None = None) -> PayloadSubmitter:
    return PayloadSubmitter(
        PayloadRepository(database), platform, spool or FakeSpool(), PlatformSettings(), sleep=_no_sleep
    )


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


async def test_submitter_creates_one_started_job_per_pipeline_with_layout(database, tmp_path):
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1", "cls": "p2"})
    platform, spool = FakePlatform(), FakeSpool()
    assert await submitter(database, platform, spool).process(payload_id) is PayloadState.DONE
    assert sorted(j.pipeline_id for j in platform.jobs.values()) == ["p1", "p2"]
    for job in platform.jobs.values():
        assert job.started
        assert set(job.files) == {"dcm/1.2.3/S0/0.dcm", "dcm/1.2.3/S1/1.dcm", "dcm/1.2.3/S0/2.dcm"}
        assert job.metadata["Instances"] == "3"
        assert job.metadata[IDEMPOTENCY_KEY].startswith(payload_id)
        assert job.name.startswith("clara-")
    assert len(spool.removed) == 3


async def test_submitter_retry_after_crash_between_create_and_record_finds_existing_job(database, tmp_path):
    """The job was created but the adapter died before recording its id: Jobs.List finds it by metadata."""
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1"})
    platform = FakePlatform()
    platform.fail["after_create"] = [unavailable()]  # create succeeded on the platform, the answer was lost
    with pytest.raises(PlatformUnavailable):
        await submitter(database, platform).process(payload_id)
    assert await submitter(database, platform).process(payload_id) is PayloadState.DONE
    assert len(platform.jobs) == 1
    assert next(iter(platform.jobs.values())).started


async def test_submitter_crash_after_start_does_not_start_twice(database, tmp_path):
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1"})
    platform = FakePlatform()
    platform.fail["after_start"] = [unavailable()]
    with pytest.raises(PlatformUnavailable):
        await submitter(database, platform).process(payload_id)
    assert await submitter(database, platform).process(payload_id) is PayloadState.DONE
    assert platform.calls.count("start_job") == 1
    assert len(platform.jobs) == 1


async def test_submitter_retries_only_the_pipeline_that_failed(database, tmp_path):
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1", "cls": "p2"})
    platform = FakePlatform()
    platform.fail["start_job"] = [unavailable()]
    s = submitter(database, platform)
    s.submit(payload_id)
    await s.start()
    try:
        await asyncio.wait_for(s.idle(), 10)
    finally:
        await s.stop()
    assert len(platform.jobs) == 2  # Clara re-created both jobs on retry
    assert all(j.started for j in platform.jobs.values())
    (payload,) = await PayloadRepository(database).payloads([PayloadState.DONE])
    assert payload.payload_id == payload_id


async def test_submitter_backs_off_while_platform_is_down_and_keeps_files(database, tmp_path):
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1"})
    platform, spool = FakePlatform(), FakeSpool()
    platform.fail["create_job"] = [unavailable() for _ in range(4)]
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)
        assert spool.removed == []  # nothing deleted while not submitted

    settings = PlatformSettings(retry_backoff_base_seconds=1, retry_backoff_max_seconds=5)
    s = PayloadSubmitter(PayloadRepository(database), platform, spool, settings, sleep=record_sleep)
    s.submit(payload_id)
    await s.start()
    try:
        await asyncio.wait_for(s.idle(), 10)
    finally:
        await s.stop()
    assert delays == [1, 2, 4, 5]
    assert len(spool.removed) == 3


async def test_submitter_faults_payload_when_platform_rejects(database, tmp_path):
    payload_id = await closed_payload(database, tmp_path, {"seg": "nope"})
    platform, spool = FakePlatform(), FakeSpool()
    platform.unknown_pipelines.add("nope")
    assert await submitter(database, platform, spool).process(payload_id) is PayloadState.FAULTED
    closed = await PayloadRepository(database).get(payload_id)
    assert closed is not None and "nope" in (closed.payload.error or "")
    assert spool.removed == []  # kept for the operator


async def test_submitter_faults_payload_without_pipelines(database, tmp_path):
    payload_id = await closed_payload(database, tmp_path, {})
    assert await submitter(database, FakePlatform()).process(payload_id) is PayloadState.FAULTED


def test_job_name_follows_clara_rules_without_cutting_the_time():
    name = job_name("My_Long AE.Title", "Seg", 0)
    assert name == "my-long-ae-title-seg-19700101000000"
    assert isinstance(PlatformRejected("x"), Exception)


async def test_submitter_first_attempt_skips_jobs_list(database, tmp_path):
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1"})
    platform = FakePlatform()
    await submitter(database, platform).process(payload_id)
    assert "find_job" not in platform.calls


async def test_submitter_attempt_waits_for_every_pipeline_before_failing(database, tmp_path):
    """One pipeline failing must not leave a sibling creating a job while the next attempt starts."""
    payload_id = await closed_payload(database, tmp_path, {"a": "p1", "b": "p2", "c": "p3"})
    platform = FakePlatform()
    platform.fail["upload_many"] = [unavailable()]
    with pytest.raises(PlatformUnavailable):
        await submitter(database, platform).process(payload_id)
    assert await submitter(database, platform).process(payload_id) is PayloadState.DONE
    assert sorted(j.pipeline_id for j in platform.jobs.values()) == ["p1", "p2", "p3"]
