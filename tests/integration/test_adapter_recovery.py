"""Crash and outage recovery with real processes: kill -9 mid-study / mid-submission, platform down then up.

Invariant checked every time: every instance storescu got Success for is in exactly one job per pipeline.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from platform_api.client import PlatformClient
from tests.conftest import require_peer
from tests.support.harness import TRIVIAL_PIPELINE, Adapter, Platform, seed, storescu, wait_until, write_study

pytestmark = pytest.mark.integration


async def _create_pipeline(endpoint: str) -> str:
    async with PlatformClient(endpoint) as client:
        return str(await client.create_pipeline({"seg.yaml": TRIVIAL_PIPELINE.format(name="seg")}))


async def _jobs(endpoint: str, pipeline_id: str):
    async with PlatformClient(endpoint, timeout=5) as client:
        return await client.list_jobs(pipeline_ids=[pipeline_id])


async def _files(endpoint: str, payload_id: str) -> list[str]:
    async with PlatformClient(endpoint) as client:
        return sorted(f.name for f in await client.payload_details(payload_id) if f.name.endswith(".dcm"))


def assert_exactly_one_job_with(platform: Platform, pipeline_id: str, sop_count: int) -> None:
    jobs = wait_until(lambda: asyncio.run(_jobs(platform.endpoint, pipeline_id)), 60, 0.3, "a job")
    time.sleep(1.0)  # a duplicate would show up right after the first one
    jobs = asyncio.run(_jobs(platform.endpoint, pipeline_id))
    assert len(jobs) == 1, jobs
    wait_until(
        lambda: asyncio.run(_jobs(platform.endpoint, pipeline_id))[0].state.label != "pending", 60, 0.3, "job started"
    )
    assert len(asyncio.run(_files(platform.endpoint, jobs[0].payload_id))) == sop_count


def test_kill9_mid_study_then_restart_keeps_every_instance_in_one_job(tmp_path):
    require_peer("storescu")
    platform = Platform(tmp_path)
    platform.start()
    adapter = None
    try:
        pipeline_id = asyncio.run(_create_pipeline(platform.endpoint))
        adapter = Adapter(tmp_path, platform.endpoint, seed=seed({"seg": pipeline_id}, timeout=3.0))
        adapter.start()
        study = write_study(tmp_path / "study", series=2, per_series=3)
        code, output = storescu(adapter.dicom_port, study[:3])
        assert code == 0, output
        assert adapter.service is not None
        adapter.service.kill9()  # before the 3 s quiet period: the payload is still receiving
        adapter.start()
        code, output = storescu(adapter.dicom_port, study[3:])
        assert code == 0, output
        assert_exactly_one_job_with(platform, pipeline_id, 6)
        wait_until(lambda: [p["state"] for p in adapter.payloads()] == ["done"], 30, what="payload done")
    finally:
        if adapter is not None and adapter.service is not None:
            adapter.service.terminate()
        platform.stop()


def test_platform_down_and_kill9_while_retrying_then_platform_up_submits_once(tmp_path):
    require_peer("storescu")
    platform = Platform(tmp_path)
    platform.start()
    pipeline_id = asyncio.run(_create_pipeline(platform.endpoint))
    platform.stop()  # the outage starts before the study arrives
    adapter = Adapter(tmp_path, platform.endpoint, seed=seed({"seg": pipeline_id}, timeout=0.5))
    adapter.start()
    try:
        study = write_study(tmp_path / "study", series=1, per_series=4)
        code, output = storescu(adapter.dicom_port, study)
        assert code == 0, output
        wait_until(lambda: any(p["error"] for p in adapter.payloads()), 30, what="a failed submission attempt")
        assert adapter.service is not None
        adapter.service.kill9()
        assert len(list((tmp_path / "adapter" / "spool").rglob("*.dcm"))) == 4  # the spool kept everything
        adapter.start()
        time.sleep(3)  # still down: the adapter keeps retrying with capped backoff
        assert [p["state"] for p in adapter.payloads()] in (["closed"], ["submitting"])
        platform.start()
        assert_exactly_one_job_with(platform, pipeline_id, 4)
        wait_until(lambda: [p["state"] for p in adapter.payloads()] == ["done"], 30, what="payload done")
    finally:
        if adapter.service is not None:
            adapter.service.terminate()
        platform.stop()


def test_kill9_mid_submission_never_creates_a_second_job(tmp_path):
    require_peer("storescu")
    platform = Platform(tmp_path)
    platform.start()
    adapter = None
    try:
        pipeline_id = asyncio.run(_create_pipeline(platform.endpoint))
        adapter = Adapter(
            tmp_path, platform.endpoint, seed=seed({"seg": pipeline_id}, timeout=0.5),
            extra={"platform": {"parallel_uploads": 1}},
        )
        adapter.start()
        study = write_study(tmp_path / "study", series=2, per_series=20)
        code, output = storescu(adapter.dicom_port, study)
        assert code == 0, output
        # Kill as soon as the job exists on the platform: usually while its files are still uploading.
        jobs = wait_until(lambda: asyncio.run(_jobs(platform.endpoint, pipeline_id)), 60, 0.02, "job created")
        assert adapter.service is not None
        adapter.service.kill9()
        killed_while = jobs[0].state.label
        adapter.start()
        assert_exactly_one_job_with(platform, pipeline_id, 40)
        wait_until(lambda: [p["state"] for p in adapter.payloads()] == ["done"], 30, what="payload done")
        print(f"killed while the job was {killed_while}")
    finally:
        if adapter is not None and adapter.service is not None:
            adapter.service.terminate()
        platform.stop()


def test_platform_down_30_seconds_then_up_submits_the_study_once(tmp_path):
    """The issue's outage as written: 30 s without a platform; the spool keeps the study, one job follows."""
    require_peer("storescu")
    platform = Platform(tmp_path)
    platform.start()
    pipeline_id = asyncio.run(_create_pipeline(platform.endpoint))
    platform.stop()
    adapter = Adapter(tmp_path, platform.endpoint, seed=seed({"seg": pipeline_id}, timeout=0.5))
    adapter.start()
    try:
        study = write_study(tmp_path / "study", series=2, per_series=3)
        code, output = storescu(adapter.dicom_port, study)
        assert code == 0, output
        down_since = time.monotonic()
        wait_until(lambda: any(p["error"] for p in adapter.payloads()), 30, what="a failed submission attempt")
        time.sleep(max(0.0, 30.0 - (time.monotonic() - down_since)))
        assert [p["state"] for p in adapter.payloads()] in (["closed"], ["submitting"])
        assert len(list((tmp_path / "adapter" / "spool").rglob("*.dcm"))) == 6  # nothing deleted while down
        platform.start()
        assert_exactly_one_job_with(platform, pipeline_id, 6)
        wait_until(lambda: [p["state"] for p in adapter.payloads()] == ["done"], 30, what="payload done")
    finally:
        if adapter.service is not None:
            adapter.service.terminate()
        platform.stop()
