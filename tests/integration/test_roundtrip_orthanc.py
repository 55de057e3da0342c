"""The whole loop through real processes: Orthanc (PACS) -> DICOM adapter -> platform (reference pipeline
lung-seg) -> register_results -> results service -> export agent -> the SEG back in Orthanc (or storescp).

Every service runs as `python -m <package> serve` with a generated config on free loopback ports.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydicom import dcmread

from tests.conftest import free_port, require_peer
from tests.support import http
from tests.support.processes import (
    dicom_adapter,
    orthanc,
    platform_server,
    received_files,
    results_service,
    storescp,
    wait_for,
)
from tests.support.roundtrip import CLARA_AE, Loop, register_pipeline, seed, seg_series, upload_to_orthanc

pytestmark = pytest.mark.integration

EXPECTED_SEGMENTS = {"body", "lung"}


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> Iterator[Loop]:
    orthanc_exe = require_peer("Orthanc")
    root = tmp_path_factory.mktemp("roundtrip")
    for name in ("rs", "ps"):
        (root / name).mkdir()
    adapter_port, orthanc_dicom = free_port(), free_port()
    modalities = {"clara": [CLARA_AE, "127.0.0.1", adapter_port]}
    with (
        results_service(root / "rs", free_port(), lease={"seconds": 60, "sweep_interval_seconds": 0.5}) as results,
        platform_server(root / "ps", free_port(), results) as platform,
        orthanc(orthanc_exe, root / "orthanc", free_port(), orthanc_dicom, modalities) as pacs,
    ):
        yield Loop(results, platform, register_pipeline(platform), pacs, orthanc_dicom, adapter_port, root)


def write_study(folder: Path, seed_value: int) -> list[Path]:
    from pipeline_operators.phantom import PhantomSpec
    from pipeline_operators.sample_study import write_study as generate

    return generate(PhantomSpec(slices=40, matrix=128, slice_spacing=3.0, seed=seed_value), folder)


def send_study_to_adapter(pacs: str, study: str) -> None:
    response = httpx.post(
        f"{pacs}/modalities/clara/store", json={"Resources": [study], "Synchronous": True}, timeout=120
    )
    assert response.status_code == 200, response.text


def segment_labels(dataset_tags: dict) -> set[str]:
    return {str(item["SegmentLabel"]).lower() for item in dataset_tags.get("SegmentSequence", [])}


def diagnostics(loop: Loop, adapter_log: str) -> str:
    tasks = http.get(f"{loop.results}/api/tasks", timeout=10).json()
    return f"tasks: {tasks}\n--- adapter log tail ---\n{adapter_log[-4000:]}"


def test_roundtrip_seg_arrives_back_in_orthanc(loop, tmp_path):
    files = write_study(tmp_path / "ct", seed_value=11)
    study = upload_to_orthanc(loop.orthanc, files)
    with dicom_adapter(
        tmp_path / "adapter",
        dicom_port=loop.adapter_port,
        api_port=free_port(),
        platform=loop.platform,
        results=loop.results,
        seed=seed(loop, "ORTHANC", loop.orthanc_dicom_port),
    ) as adapter:
        started = time.monotonic()
        send_study_to_adapter(loop.orthanc, study)
        try:
            wait_for(lambda: bool(seg_series(loop.orthanc, study)), 240, "a SEG series in the Orthanc study")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{diagnostics(loop, adapter.log())}") from None
        elapsed = time.monotonic() - started
    [series] = seg_series(loop.orthanc, study)
    [instance] = httpx.get(f"{loop.orthanc}/series/{series['ID']}/instances", timeout=30).json()
    tags = httpx.get(f"{loop.orthanc}/instances/{instance['ID']}/simplified-tags", timeout=30).json()
    assert tags["StudyInstanceUID"] == dcmread(files[0], stop_before_pixels=True).StudyInstanceUID
    assert segment_labels(tags) == EXPECTED_SEGMENTS
    print(f"round trip (40 x 128x128 CT): {elapsed:.1f} s from C-STORE request to SEG in Orthanc")


def test_roundtrip_seg_arrives_at_dcmtk_storescp(loop, tmp_path):
    storescp_exe = require_peer("storescp")
    files = write_study(tmp_path / "ct", seed_value=12)
    study = upload_to_orthanc(loop.orthanc, files)
    port = free_port()
    out = tmp_path / "storescp"
    with (
        storescp(storescp_exe, out, port, "STORESCP"),
        dicom_adapter(
            tmp_path / "adapter",
            dicom_port=loop.adapter_port,
            api_port=free_port(),
            platform=loop.platform,
            results=loop.results,
            seed=seed(loop, "STORESCP", port),
        ) as adapter,
    ):
        send_study_to_adapter(loop.orthanc, study)
        try:
            wait_for(lambda: bool(received_files(out)), 240, "the SEG at storescp")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{diagnostics(loop, adapter.log())}") from None
    [path] = received_files(out)
    seg = dcmread(path)
    assert seg.Modality == "SEG"
    assert seg.StudyInstanceUID == dcmread(files[0], stop_before_pixels=True).StudyInstanceUID
    assert {str(s.SegmentLabel).lower() for s in seg.SegmentSequence} == EXPECTED_SEGMENTS
