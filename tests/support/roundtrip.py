"""The whole loop's pieces (Orthanc -> adapter -> platform -> results -> export): the round-trip test and bench."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import ROOT

CLARA_AE = "CLARA-AE"
GROUPING_TIMEOUT = 2.0  # seconds of quiet before the adapter closes a study's payload
PIPELINE = ROOT / "config" / "pipelines" / "lung-seg.yaml"


@dataclass
class Loop:
    results: str
    platform: str
    pipeline_id: str
    orthanc: str
    orthanc_dicom_port: int
    adapter_port: int
    root: Path


def register_pipeline(endpoint: str) -> str:
    from platform_api.client import PlatformClient

    async def run() -> str:
        async with PlatformClient(endpoint) as client:
            return str(await client.create_pipeline(PIPELINE))

    return asyncio.run(run())


def seed(loop: Loop, destination_ae: str, destination_port: int) -> dict[str, object]:
    return {
        "ae_titles": [
            {
                "name": CLARA_AE,
                "aeTitle": CLARA_AE,
                "processorSettings": {"timeout": GROUPING_TIMEOUT, "pipeline-lungseg": loop.pipeline_id},
            }
        ],
        "sources": [{"aeTitle": "ORTHANC", "hostIp": "127.0.0.1"}],
        # The reference pipeline registers its result for the destination named ORTHANC.
        "destinations": [
            {"name": "ORTHANC", "aeTitle": destination_ae, "hostIp": "127.0.0.1", "port": destination_port}
        ],
    }


def upload_to_orthanc(pacs: str, files: list[Path]) -> str:
    study = ""
    with httpx.Client(base_url=pacs, timeout=60) as client:
        for path in files:
            response = client.post("/instances", content=path.read_bytes())
            assert response.status_code == 200, response.text
            study = response.json()["ParentStudy"]
    return study


def seg_series(pacs: str, study: str) -> list[dict]:
    series = httpx.get(f"{pacs}/studies/{study}/series", timeout=30).json()
    return [s for s in series if s["MainDicomTags"].get("Modality") == "SEG"]
