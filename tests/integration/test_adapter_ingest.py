"""storescu -> adapter process -> real platform server: payloads, jobs, rejections, live config changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from platform_api.client import PlatformClient
from tests.conftest import require_peer
from tests.support import http
from tests.support.harness import (
    TRIVIAL_PIPELINE,
    Adapter,
    Platform,
    dataset_bytes,
    seed,
    storescu,
    wait_until,
    write_study,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def platform(tmp_path):
    server = Platform(tmp_path)
    server.start()
    yield server
    server.stop()


async def create_pipelines(endpoint: str, *names: str) -> list[str]:
    async with PlatformClient(endpoint) as client:
        return [await client.create_pipeline({f"{n}.yaml": TRIVIAL_PIPELINE.format(name=n)}) for n in names]


async def jobs_of(endpoint: str, pipeline_id: str):
    async with PlatformClient(endpoint) as client:
        return await client.list_jobs(pipeline_ids=[pipeline_id])


async def payload_files(endpoint: str, payload_id: str, dest: Path) -> dict[str, bytes]:
    async with PlatformClient(endpoint) as client:
        files = {}
        for details in await client.payload_details(payload_id):
            target = dest / details.name
            await client.download(payload_id, details.name, target)
            files[details.name] = target.read_bytes()
        return files


def wait_jobs(endpoint: str, pipeline_id: str, count: int, timeout: float = 60.0):
    return wait_until(
        lambda: (jobs := asyncio.run(jobs_of(endpoint, pipeline_id))) and len(jobs) >= count and jobs,
        timeout, interval=0.3, what=f"{count} job(s) on {pipeline_id}",
    )


def test_multi_series_study_becomes_one_job_per_pipeline_byte_identical(platform, tmp_path):
    require_peer("storescu")
    seg, cls = asyncio.run(create_pipelines(platform.endpoint, "seg", "cls"))
    adapter = Adapter(tmp_path, platform.endpoint, seed=seed({"seg": seg, "cls": cls}, priority="higher"))
    adapter.start()
    try:
        study = write_study(tmp_path / "study", series=2, per_series=3)
        code, output = storescu(adapter.dicom_port, study)
        assert code == 0, output
        for pipeline_id in (seg, cls):
            (job,) = wait_jobs(platform.endpoint, pipeline_id, 1)
            assert job.priority.label == "higher"
            assert job.metadata["Instances"] == "6"
            assert job.name.startswith("clara-")
            files = asyncio.run(payload_files(platform.endpoint, job.payload_id, tmp_path / job.job_id))
            dcm = {name: data for name, data in files.items() if name.endswith(".dcm")}
            assert len(dcm) == 6
            sent = sorted(dataset_bytes(p) for p in study)
            received = sorted(dataset_bytes(tmp_path / job.job_id / name) for name in dcm)
            assert received == sent
        wait_until(lambda: [p["state"] for p in adapter.payloads()] == ["done"], 30, what="payload done")
        # Spool emptied once every job started.
        assert not list((tmp_path / "adapter" / "spool").rglob("*.dcm"))
        # The 6 instances went into spare files made at start (6 missing is less than a batch: no top-up).
        api = http.Client(base_url=adapter.api, timeout=10)
        assert api.get("/health/status").json()["spareFiles"] == 2048 - 6
        assert "openclara_dicom_spool_files_made_on_demand 0.0" in api.get("/metrics").text
    finally:
        assert adapter.service is not None and adapter.service.terminate() == 0, adapter.service.output()[-3000:]
    # exactly one job per pipeline, still, after the adapter drained and stopped
    assert len(asyncio.run(jobs_of(platform.endpoint, seg))) == 1
    assert len(asyncio.run(jobs_of(platform.endpoint, cls))) == 1


def test_unknown_calling_and_called_ae_rejected_then_accepted_after_live_config_change(platform, tmp_path):
    require_peer("storescu")
    (seg,) = asyncio.run(create_pipelines(platform.endpoint, "seg"))
    adapter = Adapter(tmp_path, platform.endpoint, seed=seed({"seg": seg}))
    adapter.start()
    try:
        study = write_study(tmp_path / "study", series=1, per_series=2)
        code, output = storescu(adapter.dicom_port, study, calling="STRANGER")
        assert code != 0
        assert "Calling AE Title Not Recognized" in output
        code, output = storescu(adapter.dicom_port, study, called="NEWAE")
        assert code != 0
        assert "Called AE Title Not Recognized" in output
        # Configure both through the REST API: no restart.
        api = http.Client(base_url=adapter.api, timeout=10)
        body = {"aeTitle": "NEWAE", "processorSettings": {"timeout": "0.5", "pipeline-seg": seg}}
        assert api.post("/api/config/claraaetitle", json=body).status_code == 201
        assert api.post("/api/config/sourceaetitle", json={"aeTitle": "STRANGER", "hostIp": "localhost"}).is_success
        code, output = storescu(adapter.dicom_port, study, called="NEWAE", calling="STRANGER")
        assert code == 0, output
        (job,) = wait_jobs(platform.endpoint, seg, 1)
        assert job.name.startswith("newae-seg-")
        history = api.get("/api/associations").json()
        outcomes = [h["outcome"] for h in history]
        assert "rejected: calling AE title not recognized" in outcomes
        assert "rejected: called AE title not recognized" in outcomes
        assert "released" in outcomes
    finally:
        assert adapter.service is not None
        adapter.service.terminate()


def test_eight_concurrent_associations_make_eight_payloads_nothing_mixed(platform, tmp_path):
    require_peer("storescu")
    import concurrent.futures

    (seg,) = asyncio.run(create_pipelines(platform.endpoint, "seg"))
    adapter = Adapter(tmp_path, platform.endpoint, seed=seed({"seg": seg}, timeout=1.0))
    adapter.start()
    try:
        studies = [write_study(tmp_path / f"study{n}", series=1, per_series=3) for n in range(8)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda files: storescu(adapter.dicom_port, files), studies))
        assert all(code == 0 for code, _ in results), results
        jobs = wait_jobs(platform.endpoint, seg, 8)
        assert len(jobs) == 8
        expected = {frozenset(dataset_bytes(p) for p in files) for files in studies}
        received = set()
        for job in jobs:
            files = asyncio.run(payload_files(platform.endpoint, job.payload_id, tmp_path / job.job_id))
            received.add(frozenset(dataset_bytes(tmp_path / job.job_id / n) for n in files if n.endswith(".dcm")))
        assert received == expected
    finally:
        assert adapter.service is not None
        adapter.service.terminate()


def test_unknown_pipeline_is_warned_faults_the_payload_and_retries_after_a_fix(platform, tmp_path):
    require_peer("storescu")
    (seg,) = asyncio.run(create_pipelines(platform.endpoint, "seg"))
    missing = "0" * 32
    adapter = Adapter(tmp_path, platform.endpoint, seed={"sources": [{"aeTitle": "STORESCU", "hostIp": "127.0.0.1"}]})
    adapter.start()
    try:
        api = http.Client(base_url=adapter.api, timeout=10)
        body = {"aeTitle": "CLARA", "processorSettings": {"timeout": "0.5", "pipeline-seg": missing}}
        created = api.post("/api/config/claraaetitle", json=body)
        assert created.status_code == 201
        assert "not known to the platform" in created.json()["warnings"][0]
        code, output = storescu(adapter.dicom_port, write_study(tmp_path / "study", series=1, per_series=2))
        assert code == 0, output
        (payload,) = wait_until(
            lambda: [p for p in adapter.payloads() if p["state"] == "faulted"], 30, what="faulted payload"
        )
        assert missing in payload["error"]
        # A manual retry before the fix faults again, once: no retry loop.
        assert api.post(f"/api/payloads/{payload['payloadId']}/retry").status_code == 202
        wait_until(lambda: [p["state"] for p in adapter.payloads()] == ["faulted"], 30, what="faulted again")
        fixed = {"aeTitle": "CLARA", "processorSettings": {"timeout": "0.5", "pipeline-seg": seg}}
        assert api.put("/api/config/claraaetitle/CLARA", json=fixed).status_code == 200  # re-drives it
        (job,) = wait_jobs(platform.endpoint, seg, 1)
        assert job.metadata["Instances"] == "2"
        wait_until(lambda: [p["state"] for p in adapter.payloads()] == ["done"], 30, what="payload done")
        again = api.post(f"/api/payloads/{payload['payloadId']}/retry")
        assert again.status_code == 409 and "only faulted" in again.json()["detail"]
    finally:
        assert adapter.service is not None
        adapter.service.terminate()


def test_fixing_the_ae_title_alone_redrives_its_faulted_payload_one_job_per_pipeline(platform, tmp_path):
    """No manual retry: `PUT /api/config/claraaetitle` re-drives; the pipeline that already ran is not rerun."""
    require_peer("storescu")
    seg, cls = asyncio.run(create_pipelines(platform.endpoint, "seg", "cls"))
    missing = "0" * 32
    adapter = Adapter(tmp_path, platform.endpoint, seed={"sources": [{"aeTitle": "STORESCU", "hostIp": "127.0.0.1"}]})
    adapter.start()
    try:
        api = http.Client(base_url=adapter.api, timeout=10)
        settings = {"timeout": "0.5", "jobRetryDelay": "1000", "pipeline-seg": seg, "pipeline-cls": missing}
        assert api.post("/api/config/claraaetitle", json={"aeTitle": "CLARA", "processorSettings": settings}).is_success
        code, output = storescu(adapter.dicom_port, write_study(tmp_path / "study", series=1, per_series=2))
        assert code == 0, output
        (payload,) = wait_until(
            lambda: [p for p in adapter.payloads() if p["state"] == "faulted"], 30, what="faulted payload"
        )
        assert missing in payload["error"] and payload["jobs"]["seg"]["started"]
        fixed = {"aeTitle": "CLARA", "processorSettings": {**settings, "pipeline-cls": cls}}
        updated = api.put("/api/config/claraaetitle/CLARA", json=fixed)
        assert updated.status_code == 200 and updated.json()["redrivenPayloads"] == 1
        assert updated.json()["processorSettings"]["jobRetryDelay"] == "1000"
        (job,) = wait_jobs(platform.endpoint, cls, 1)
        assert job.metadata["Instances"] == "2"
        wait_until(lambda: [p["state"] for p in adapter.payloads()] == ["done"], 30, what="payload done")
        # A later change finds nothing faulted: nothing is submitted again.
        assert api.put("/api/config/claraaetitle/CLARA", json=fixed).json()["redrivenPayloads"] == 0
        assert "submitter.payload.redriven" in adapter.service.output()
    finally:
        assert adapter.service is not None and adapter.service.terminate() == 0, adapter.service.output()[-3000:]
    assert len(asyncio.run(jobs_of(platform.endpoint, seg))) == 1
    assert len(asyncio.run(jobs_of(platform.endpoint, cls))) == 1


# pydicom's shipped files, one storescu run each with only the file's own transfer syntax proposed.
_SYNTAX_FILES = {
    "CT_small.dcm": "-xe",
    "MR_small_implicit.dcm": "-xi",
    "MR_small_bigendian.dcm": "-xb",
    "SC_rgb_jpeg_dcmtk.dcm": "-xy",
    "JPEG2000.dcm": "-xw",
}


def _elements(ds) -> dict:
    # storescu drops group lengths and trailing padding as it sends; everything else must be identical.
    return {e.tag: e.value for e in ds if e.tag.element != 0 and e.tag != 0xFFFCFFFC}


def test_transfer_syntaxes_reach_the_job_payload_untouched(platform, tmp_path):
    """No transcoding anywhere: each job file has the sender's transfer syntax and the same data elements."""
    require_peer("storescu")
    import subprocess

    import pydicom
    from pydicom.data import get_testdata_file

    (seg,) = asyncio.run(create_pipelines(platform.endpoint, "seg"))
    adapter = Adapter(tmp_path, platform.endpoint, seed=seed({"seg": seg}, timeout=0.5))
    adapter.start()
    originals = {}
    try:
        for name, option in _SYNTAX_FILES.items():
            path = get_testdata_file(name)
            assert path is not None
            ds = pydicom.dcmread(path)
            originals[(str(ds.SOPInstanceUID), str(ds.file_meta.TransferSyntaxUID))] = ds
            argv = ["storescu", "-nh", "-R", option, "-aec", "CLARA", "-aet", "STORESCU", "127.0.0.1",
                    str(adapter.dicom_port), path]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
            # Some files share SOP Instance UIDs: one payload each (a late arrival opens a new payload).
            wait_jobs(platform.endpoint, seg, len(originals))
        jobs = wait_jobs(platform.endpoint, seg, len(_SYNTAX_FILES))
        seen = set()
        for job in jobs:
            files = asyncio.run(payload_files(platform.endpoint, job.payload_id, tmp_path / job.job_id))
            for name in (n for n in files if n.endswith(".dcm")):
                received = pydicom.dcmread(tmp_path / job.job_id / name)
                key = (str(received.SOPInstanceUID), str(received.file_meta.TransferSyntaxUID))
                assert key in originals, key
                assert _elements(received) == _elements(originals[key])
                assert received.PixelData == originals[key].PixelData
                seen.add(key)
        assert seen == set(originals)
    finally:
        assert adapter.service is not None
        adapter.service.terminate()
