"""The reference pipeline (config/pipelines/lung-seg.yaml) end to end on a 40-slice synthetic CT.

1. Its operators as real processes, in DAG order, with the declared paths rewritten to real folders
   (what the local executor does): the SEG must parse with pydicom and DCMTK `dcmdump`.
2. Through a real platform server (gRPC, local executor) and a real results service: upload the study
   into a job, start it, and find the SEG in the job's payload and a ClaraSCU task for ORTHANC.
3. The ONNX example pipeline (config/pipelines/onnx-seg.yaml) through the platform, with a model the
   test builds and uploads to the platform's model repository.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydicom import dcmread

from pipeline_operators.phantom import PhantomSpec
from pipeline_operators.sample_study import write_study
from tests.conftest import free_port, require_peer
from tests.pipeline_operators.onnx_models import threshold_model
from tests.support import http
from tests.support.processes import ROOT, platform_server, results_service

pytestmark = pytest.mark.integration

PIPELINE = ROOT / "config" / "pipelines" / "lung-seg.yaml"
ONNX_PIPELINE = ROOT / "config" / "pipelines" / "onnx-seg.yaml"
STUDY = PhantomSpec(slices=40, matrix=192, slice_spacing=5.0, seed=11)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ct")
    write_study(STUDY, folder)
    return folder


def _rewrite(argv: list[str], mounts: dict[str, Path]) -> list[str]:
    """Declared container paths -> real folders, longest first (as platform_server's local executor does)."""
    out = []
    for arg in argv:
        for container in sorted(mounts, key=len, reverse=True):
            if arg == container or arg.startswith(container + "/"):
                arg = str(mounts[container]) + arg[len(container) :]
                break
        out.append(sys.executable if arg == "python" else arg)
    return out


def test_operators_run_as_processes_and_produce_a_valid_seg(study: Path, tmp_path: Path) -> None:
    operators = {op["name"]: op for op in yaml.safe_load(PIPELINE.read_text())["operators"]}
    outputs: dict[str, Path] = {}
    for name in ("dicom-reader", "lung-segmentation", "dicom-seg-writer"):
        spec = operators[name]
        mounts = {item["path"]: outputs[item["from"]] if "from" in item else study for item in spec["input"]}
        outputs[name] = tmp_path / name
        mounts[spec["output"][0]["path"]] = outputs[name]
        argv = _rewrite(spec["container"]["command"], mounts)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert result.returncode == 0, f"{name} failed:\n{result.stderr}"
    [seg_path] = outputs["dicom-seg-writer"].glob("SEG-*.dcm")
    seg = dcmread(seg_path)
    source = dcmread(next(study.glob("*.dcm")))
    assert seg.Modality == "SEG"
    assert seg.StudyInstanceUID == source.StudyInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Body", "Lung"]
    dump = subprocess.run([require_peer("dcmdump"), "-q", str(seg_path)], capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    assert "SegmentationStorage" in dump.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A results service and a platform server on free loopback ports; yields (grpc, http) endpoints."""
    root = tmp_path_factory.mktemp("stack")
    results_port, platform_port = free_port(), free_port()
    for name in ("rs", "ps"):
        (root / name).mkdir()
    with (
        results_service(root / "rs", results_port, platform_endpoint=f"127.0.0.1:{platform_port}") as results_url,
        platform_server(root / "ps", platform_port, results_url) as platform_endpoint,
    ):
        yield platform_endpoint, results_url


async def _run_job(
    endpoint: str, study: Path, dest: Path, pipeline: Path = PIPELINE, models: dict[str, Path] | None = None
) -> tuple[str, list[str], list[Path]]:
    from platform_api.client import PlatformClient
    from platform_api.types import JobState, JobStatus

    async with PlatformClient(endpoint) as client:
        for name, folder in (models or {}).items():
            await client.upload_model(folder, name)
        pipeline_id = await client.create_pipeline(pipeline)
        job_id, payload_id = await client.create_job(pipeline_id, "reference-pipeline-test")
        await client.upload_many(payload_id, [(path.name, path) for path in sorted(study.glob("*.dcm"))])
        await client.start_job(job_id)
        deadline = time.monotonic() + 240
        status = await client.job_status(job_id)
        while status.state != JobState.STOPPED and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            status = await client.job_status(job_id)
        assert status.state == JobState.STOPPED, f"job still {status.state} after 240 s"
        assert status.status == JobStatus.HEALTHY, f"job ended {status.status}: {status.messages}"
        names = [item.name for item in await client.payload_details(payload_id)]
        segs = []
        for name in (n for n in names if n.startswith("operators/dicom-seg-writer/")):
            await client.download(payload_id, name, dest / Path(name).name)
            segs.append(dest / Path(name).name)
        return str(job_id), names, segs


def test_reference_pipeline_through_the_platform_server(
    study: Path, stack: tuple[str, str], tmp_path: Path
) -> None:
    platform_endpoint, results_url = stack
    job_id, names, segs = asyncio.run(_run_job(platform_endpoint, study, tmp_path))
    assert len([n for n in names if n.startswith("input/")]) == STUDY.slices
    [seg_path] = segs
    seg = dcmread(seg_path)
    assert seg.Modality == "SEG"
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Body", "Lung"]
    tasks = http.get(f"{results_url}/api/tasks", params={"agent": "ClaraSCU"}, timeout=10).json()
    [task] = [t for t in tasks if t["jobId"] == job_id]
    assert task["parameters"] == '"ORTHANC"'
    assert task["uris"] == [f"operators/dicom-seg-writer/seg/{seg_path.name}"]


def test_onnx_pipeline_runs_an_uploaded_model_through_the_platform(
    study: Path, stack: tuple[str, str], tmp_path: Path
) -> None:
    platform_endpoint, _ = stack
    model_folder = tmp_path / "model"
    # A stand-in model: the sidecar feeds it -HU, so "input > 320" is "HU < -320" (air) in two logits.
    threshold_model(model_folder / "1" / "model.onnx", channels=2, hu=320.0)
    (model_folder / "1" / "model.json").write_text('{"scale": -1.0, "version": "7"}')
    _, _, segs = asyncio.run(
        _run_job(platform_endpoint, study, tmp_path, ONNX_PIPELINE, {"segmentation-model": model_folder})
    )
    [seg_path] = segs
    seg = dcmread(seg_path)
    [segment] = seg.SegmentSequence
    assert segment.SegmentLabel == "Lung"
    assert segment.SegmentAlgorithmName == "model"
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue == "39607008"
