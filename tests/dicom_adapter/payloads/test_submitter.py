from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
import structlog.testing

from dicom_adapter.db import AdapterDatabase, PayloadRepository
from dicom_adapter.errors import PayloadNotFound, PayloadNotRetryable, PlatformRejected, PlatformUnavailable
from dicom_adapter.models import PayloadState
from dicom_adapter.payloads import submitter as submitter_module
from dicom_adapter.payloads.assembler import PayloadAssembler
from dicom_adapter.payloads.jobs import IDEMPOTENCY_KEY, job_name
from dicom_adapter.payloads.submitter import PayloadSubmitter
from dicom_adapter.settings import PlatformClientSettings
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
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    yield db
    await db.stop()


async def closed_payload(database: AdapterDatabase, tmp_path: Path, pipelines: dict[str, str], n: int = 3) -> str:
    clock, closed = FakeClock(), []
    registry = FakeRegistry({"CLARA": clara_ae(pipelines=pipelines, timeout=1)})
    assembler = PayloadAssembler(PayloadRepository(database), registry, FakeSpool(), closed.append, clock=clock)
    await assembler.ingest([make_instance(tmp_path, str(i), series=f"S{i % 2}") for i in range(n)])
    clock.advance(2)
    (payload_id,) = await assembler.close_due()
    return payload_id


def submitter(database: AdapterDatabase, platform: FakePlatform, spool: FakeSpool | None = None) -> PayloadSubmitter:
    return PayloadSubmitter(
        PayloadRepository(database), platform, spool or FakeSpool(), PlatformClientSettings(), sleep=_no_sleep
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
    await drain(s)
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

    settings = PlatformClientSettings(retry_backoff_base_seconds=1, retry_backoff_max_seconds=5)
    s = PayloadSubmitter(PayloadRepository(database), platform, spool, settings, sleep=record_sleep)
    s.submit(payload_id)
    await drain(s)
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
    platform.fail["add_files"] = [unavailable()]
    with pytest.raises(PlatformUnavailable):
        await submitter(database, platform).process(payload_id)
    assert await submitter(database, platform).process(payload_id) is PayloadState.DONE
    assert sorted(j.pipeline_id for j in platform.jobs.values()) == ["p1", "p2", "p3"]


# jobRetryDelay: the base of the per-AE backoff ----------------------------------------------------------


async def drain(s: PayloadSubmitter) -> None:
    await s.start()
    try:
        await asyncio.wait_for(s.idle(), 10)
    finally:
        await s.stop()


async def delays_while_down(
    database: AdapterDatabase, tmp_path: Path, registry: FakeRegistry, failures: int = 3, **settings: float
) -> list[float]:
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1"})
    platform = FakePlatform()
    platform.fail["create_job"] = [unavailable() for _ in range(failures)]
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)

    s = PayloadSubmitter(
        PayloadRepository(database),
        platform,
        FakeSpool(),
        PlatformClientSettings(**settings),
        registry=registry,
        sleep=record_sleep,
    )
    s.submit(payload_id)
    await drain(s)
    assert len(platform.jobs) == 1
    return delays


async def test_backoff_starts_at_the_default_job_retry_delay_of_5_s(database, tmp_path):
    registry = FakeRegistry({"CLARA": clara_ae()})
    assert await delays_while_down(database, tmp_path, registry) == [5, 10, 20]


async def test_backoff_starts_at_the_ae_titles_job_retry_delay(database, tmp_path):
    registry = FakeRegistry({"CLARA": replace(clara_ae(), job_retry_delay_ms=1000)})
    assert await delays_while_down(database, tmp_path, registry) == [1, 2, 4]


async def test_backoff_is_still_capped_by_retry_backoff_max_seconds(database, tmp_path):
    registry = FakeRegistry({"CLARA": replace(clara_ae(), job_retry_delay_ms=1000)})
    delays = await delays_while_down(database, tmp_path, registry, 5, retry_backoff_max_seconds=5)
    assert delays == [1, 2, 4, 5, 5]


async def test_zero_job_retry_delay_still_pauses_between_retries(database, tmp_path):
    registry = FakeRegistry({"CLARA": replace(clara_ae(), job_retry_delay_ms=0)})
    assert await delays_while_down(database, tmp_path, registry) == [0.1, 0.2, 0.4]


async def test_deleted_ae_title_backs_off_from_the_settings_base(database, tmp_path):
    delays = await delays_while_down(database, tmp_path, FakeRegistry(), retry_backoff_base_seconds=2)
    assert delays == [2, 4, 8]


async def test_job_retry_delay_change_applies_to_the_next_retry(database, tmp_path):
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1"})
    registry = FakeRegistry({"CLARA": clara_ae()})
    platform = FakePlatform()
    platform.fail["create_job"] = [unavailable() for _ in range(3)]
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)
        # An operator changes jobRetryDelay while the payload waits (the REST API reloads the registry).
        registry.aes["CLARA"] = replace(clara_ae(), job_retry_delay_ms=250)

    s = PayloadSubmitter(
        PayloadRepository(database),
        platform,
        FakeSpool(),
        PlatformClientSettings(),
        registry=registry,
        sleep=record_sleep,
    )
    s.submit(payload_id)
    await drain(s)
    assert delays == [5, 0.5, 1]


# Re-driving faulted payloads ---------------------------------------------------------------------------


async def faulted_payload(
    database: AdapterDatabase, tmp_path: Path, pipelines: dict[str, str], platform: FakePlatform
) -> str:
    payload_id = await closed_payload(database, tmp_path, pipelines)
    assert await submitter(database, platform).process(payload_id) is PayloadState.FAULTED
    return payload_id


def redriver(database: AdapterDatabase, platform: FakePlatform, registry: FakeRegistry) -> PayloadSubmitter:
    return PayloadSubmitter(
        PayloadRepository(database), platform, FakeSpool(), PlatformClientSettings(), registry=registry, sleep=_no_sleep
    )


async def state_of(database: AdapterDatabase, payload_id: str) -> PayloadState:
    closed = await PayloadRepository(database).get(payload_id)
    assert closed is not None
    return closed.payload.state


async def test_redrive_submits_faulted_payloads_to_the_fixed_pipelines(database, tmp_path, monkeypatch):
    platform = FakePlatform()
    platform.unknown_pipelines.add("nope")
    payload_id = await faulted_payload(database, tmp_path, {"seg": "nope"}, platform)
    s = redriver(database, platform, FakeRegistry({"CLARA": clara_ae(pipelines={"seg": "p1"})}))
    # The module's logger itself is replaced: structlog caches loggers on first use, so capsys and
    # capture_logs miss the event when an earlier test used the logger first (the test was order-dependent).
    logs = structlog.testing.CapturingLogger()
    monkeypatch.setattr(submitter_module, "log", logs)
    assert await s.redrive_faulted("OTHER") == 0
    assert await s.redrive_faulted("CLARA") == 1
    await drain(s)
    assert await state_of(database, payload_id) is PayloadState.DONE
    (job,) = platform.jobs.values()
    assert job.pipeline_id == "p1" and job.started and len(job.files) == 3
    assert "submitter.payload.redriven" in [call.args[0] for call in logs.calls if call.args]


async def test_payload_faulting_again_stays_faulted_until_the_next_change(database, tmp_path):
    platform = FakePlatform()
    platform.unknown_pipelines.update({"nope", "still-wrong"})
    payload_id = await faulted_payload(database, tmp_path, {"seg": "nope"}, platform)
    registry = FakeRegistry({"CLARA": clara_ae(pipelines={"seg": "still-wrong"})})
    s = redriver(database, platform, registry)
    assert await s.redrive_faulted("CLARA") == 1
    await drain(s)
    assert await state_of(database, payload_id) is PayloadState.FAULTED
    assert platform.calls.count("create_job") == 2  # the first attempt and the one re-drive: no loop
    registry.aes["CLARA"] = clara_ae(pipelines={"seg": "p1"})
    assert await s.redrive_faulted("CLARA") == 1
    await drain(s)
    assert await state_of(database, payload_id) is PayloadState.DONE


async def test_redrive_keeps_started_jobs_and_submits_the_rest_to_current_pipelines(database, tmp_path):
    """Exactly one job per pipeline key: the started one is not submitted again, even if its id changed."""
    platform = FakePlatform()
    platform.unknown_pipelines.add("nope")
    payload_id = await faulted_payload(database, tmp_path, {"seg": "p1", "cls": "nope"}, platform)
    assert [j.pipeline_id for j in platform.jobs.values() if j.started] == ["p1"]
    fixed = {"seg": "p1-renamed", "cls": "p2", "new": "p3"}
    s = redriver(database, platform, FakeRegistry({"CLARA": clara_ae(pipelines=fixed)}))
    assert await s.redrive_faulted("CLARA") == 1
    await drain(s)
    assert await state_of(database, payload_id) is PayloadState.DONE
    assert sorted(j.pipeline_id for j in platform.jobs.values()) == ["p1", "p2", "p3"]
    assert all(j.started for j in platform.jobs.values())
    closed = await PayloadRepository(database).get(payload_id)
    assert closed is not None and closed.pipelines == {"seg": "p1", "cls": "p2", "new": "p3"}


async def test_unstarted_job_of_a_replaced_pipeline_is_superseded(database, tmp_path):
    platform = FakePlatform()
    platform.fail["start_job"] = [PlatformRejected("job j1 cannot start")]
    payload_id = await faulted_payload(database, tmp_path, {"seg": "p1"}, platform)
    s = redriver(database, platform, FakeRegistry({"CLARA": clara_ae(pipelines={"seg": "p2"})}))
    assert await s.redrive_faulted("CLARA") == 1
    await drain(s)
    assert await state_of(database, payload_id) is PayloadState.DONE
    assert {j.pipeline_id: j.started for j in platform.jobs.values()} == {"p1": False, "p2": True}
    assert (await PayloadRepository(database).jobs(payload_id))["seg"].pipeline_id == "p2"


async def test_manual_retry_behaves_like_the_redrive(database, tmp_path):
    platform = FakePlatform()
    platform.unknown_pipelines.add("nope")
    payload_id = await faulted_payload(database, tmp_path, {"seg": "p1", "cls": "nope"}, platform)
    s = redriver(database, platform, FakeRegistry({"CLARA": clara_ae(pipelines={"seg": "p9", "cls": "p2"})}))
    await s.retry(payload_id)
    with pytest.raises(PayloadNotRetryable, match="is closed; only faulted payloads retry"):
        await s.retry(payload_id)
    assert await s.redrive_faulted("CLARA") == 0  # already re-opened: queued once
    await drain(s)
    assert sorted(j.pipeline_id for j in platform.jobs.values()) == ["p1", "p2"]
    with pytest.raises(PayloadNotFound, match="'missing' not found"):
        await s.retry("missing")


async def test_payload_whose_spool_files_are_gone_is_not_redriven(database, tmp_path):
    platform = FakePlatform()
    platform.unknown_pipelines.add("nope")
    payload_id = await faulted_payload(database, tmp_path, {"seg": "nope"}, platform)
    (await PayloadRepository(database).active_instances(payload_id))[0].path.unlink()
    s = redriver(database, platform, FakeRegistry({"CLARA": clara_ae(pipelines={"seg": "p1"})}))
    assert await s.redrive_faulted("CLARA") == 0
    with pytest.raises(PayloadNotRetryable, match="1 of 3 spool files are gone; it cannot be submitted again"):
        await s.retry(payload_id)
    assert await state_of(database, payload_id) is PayloadState.FAULTED


async def test_payload_reopened_while_its_worker_lets_go_is_submitted(database, tmp_path):
    """A config change landing between the fault and the worker releasing the payload must not be lost."""
    registry = FakeRegistry({"CLARA": clara_ae(pipelines={"seg": "nope"})})
    platform = FakePlatform()
    platform.unknown_pipelines.add("nope")
    payload_id = await closed_payload(database, tmp_path, {"seg": "nope"})
    s: PayloadSubmitter

    class FixOnFault(PayloadRepository):
        async def set_state(self, pid: str, state: PayloadState, *, error: str | None = None) -> None:
            await super().set_state(pid, state, error=error)
            if state is PayloadState.FAULTED and registry.aes["CLARA"].pipelines["seg"] == "nope":
                registry.aes["CLARA"] = clara_ae(pipelines={"seg": "p1"})
                assert await s.redrive_faulted("CLARA") == 1

    s = PayloadSubmitter(
        FixOnFault(database), platform, FakeSpool(), PlatformClientSettings(), registry=registry, sleep=_no_sleep
    )
    s.submit(payload_id)
    await drain(s)
    assert await state_of(database, payload_id) is PayloadState.DONE
    assert [j.pipeline_id for j in platform.jobs.values()] == ["p1"]


async def test_working_while_an_attempt_runs_not_while_it_backs_off(database, tmp_path):
    # The spare pool waits while `working`: a platform down for hours must not hold it that long.
    payload_id = await closed_payload(database, tmp_path, {"seg": "p1"})
    platform = FakePlatform()
    platform.fail["create_job"] = [unavailable()]
    seen: list[tuple[str, bool]] = []
    s: PayloadSubmitter

    async def record_sleep(seconds: float) -> None:
        seen.append(("backing off", s.working))

    create_job = platform.create_job

    async def record_create(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(("creating", s.working))
        return await create_job(*args, **kwargs)

    platform.create_job = record_create  # type: ignore[method-assign]
    s = PayloadSubmitter(PayloadRepository(database), platform, FakeSpool(), PlatformClientSettings(),
                         sleep=record_sleep)
    assert not s.working
    s.submit(payload_id)
    await drain(s)
    assert seen == [("creating", True), ("backing off", False), ("creating", True)]
    assert not s.working
