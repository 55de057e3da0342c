"""`clara load --pipeline ID`: jobs created straight on the Platform API, no DICOM on the way.

Per study: Jobs.Create, one upload per instance (Part-10 bytes, named like the adapter names them),
Jobs.Start. The time of those three is the `job submitted` stage; the job stages follow from the start.
"""

from __future__ import annotations

import time
from io import BytesIO

from pydicom.filewriter import dcmwrite

from clara_cli.load.records import StudyRecord
from clara_cli.load.studies import Study
from clara_cli.load.tracker import canonical_job_id
from platform_api import PlatformClient


def part10(dataset: object) -> bytes:
    buffer = BytesIO()
    dcmwrite(buffer, dataset, enforce_file_format=True)  # type: ignore[arg-type]
    return buffer.getvalue()


class JobSubmitter:
    """Creates, fills and starts one job of `pipeline_id` per study."""

    def __init__(self, platform: PlatformClient, pipeline_id: str) -> None:
        self._platform = platform
        self.pipeline_id = pipeline_id
        self._count = 0

    async def send(self, study: Study, record: StudyRecord) -> None:
        self._count += 1
        begun = time.perf_counter()
        # The name says what made the job and nothing about the patient (job names are not PHI-safe places).
        job_id, payload_id = await self._platform.create_job(self.pipeline_id, f"load-{study.kind}-{self._count:06d}")
        for dataset in study.instances:
            uid = str(dataset.SOPInstanceUID)
            name = f"dcm/{study.study_uid}/{dataset.SeriesInstanceUID}/{uid}.dcm"
            await self._platform.upload(payload_id, name, part10(dataset))
        await self._platform.start_job(job_id)
        record.store_seconds.append(time.perf_counter() - begun)
        record.acknowledged = [str(ds.SOPInstanceUID) for ds in study.instances]
        record.sent_at = time.time()
        record.jobs[canonical_job_id(job_id)] = self.pipeline_id
        record.payloads.add(payload_id)
        record.submitted = True
