"""What a payload's job looks like on the platform: name, metadata, file layout, and the `JobPlatform` port.

Layout inside the job payload (the pipeline's input folder): `dcm/<StudyUID>/<SeriesUID>/<SOPUID>.dcm`.
No PatientID anywhere (Clara 0.7/0.8 put it in the path; it is PHI).
Job name: `<ae>-<pipeline key>-<UTC yyyymmddHHMMSS>` cleaned to Clara's FixJobName alphabet (lower-case
`[a-z0-9-]`, no leading/doubled `-`) but truncated at 63 characters instead of 25, so the time stamp
survives (Clara cut it off for AE titles longer than ~8 characters).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from dicom_adapter.models import JobPriority, StoredInstance
from dicom_adapter.storage.spool import safe_name

IDEMPOTENCY_KEY = "openclara.idempotency-key"
PAYLOAD_ID_KEY = "openclara.payload-id"
PIPELINE_KEY_KEY = "openclara.pipeline-key"
MAX_JOB_NAME = 63


@dataclass(frozen=True)
class ExistingJob:
    """A job found on the platform by its idempotency key."""

    job_id: str
    payload_id: str
    started: bool


class JobPlatform(Protocol):
    """The Platform API calls the submitter needs; errors are `PlatformUnavailable`/`PlatformRejected`."""

    async def create_job(
        self, pipeline_id: str, name: str, priority: JobPriority, metadata: dict[str, str]
    ) -> tuple[str, str]: ...

    async def add_files(self, payload_id: str, files: Sequence[tuple[str, Path]], parallel: int) -> str:
        """Put the spool files into the job's input: hard-linked when the platform shares this file system,
        else uploaded; returns how ("linked" or "uploaded")."""
        ...

    async def start_job(self, job_id: str) -> None: ...

    async def find_job(self, pipeline_id: str, idempotency_key: str, created_after: float) -> ExistingJob | None:
        """The job carrying `idempotency_key` in its metadata, created after `created_after` (Unix time)."""
        ...

    async def job_started(self, job_id: str) -> bool: ...


def job_name(ae_title: str, pipeline_key: str, when: float) -> str:
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y%m%d%H%M%S")
    name = re.sub(r"[^a-z0-9-]", "-", f"{ae_title}-{pipeline_key}-{stamp}".lower())
    name = re.sub(r"-{2,}", "-", name).strip("-")
    return name[:MAX_JOB_NAME].rstrip("-") or stamp


def payload_file_name(instance: StoredInstance) -> str:
    # UIDs are digits and dots; anything else (a broken sender) must not escape the folder.
    return (
        f"dcm/{safe_name(instance.study_instance_uid)}/{safe_name(instance.series_instance_uid)}/"
        f"{safe_name(instance.sop_instance_uid)}.dcm"
    )


def job_metadata(
    payload_id: str, pipeline_key: str, called_ae_title: str, instances: Sequence[StoredInstance]
) -> dict[str, str]:
    """Metadata without PHI: where it came from, how many instances, which studies and series."""
    callers = sorted({f"{i.calling_ae_title}@{i.calling_host}" for i in instances})
    return {
        IDEMPOTENCY_KEY: f"{payload_id}/{pipeline_key}",
        PAYLOAD_ID_KEY: payload_id,
        PIPELINE_KEY_KEY: pipeline_key,
        "Source": f"{called_ae_title} ({', '.join(callers)})",
        "openclara.called-ae-title": called_ae_title,
        "openclara.calling-ae-titles": ",".join(sorted({i.calling_ae_title for i in instances})),
        "openclara.calling-hosts": ",".join(sorted({i.calling_host for i in instances})),
        "Instances": str(len(instances)),
        "openclara.study-instance-uids": ",".join(sorted({i.study_instance_uid for i in instances})),
        "openclara.series-instance-uids": ",".join(sorted({i.series_instance_uid for i in instances})),
    }


def dicom_tag_metadata(instances: Sequence[StoredInstance], tags: Sequence[str]) -> dict[str, str]:
    """Clara 0.8 `uploadMetadata`: one key per tag (`GGGGEEEE`, or `GGGGEEEE-<n>` per distinct value).

    Blocking (reads headers): call in a thread.
    """
    values: dict[str, list[str]] = {t: [] for t in tags}
    import pydicom  # here: only AE titles with upload_metadata read tags back
    from pydicom.tag import Tag

    wanted = [Tag(t.replace(",", "")) for t in tags]
    for instance in instances:
        dataset = pydicom.dcmread(instance.path, stop_before_pixels=True, specific_tags=wanted)
        for text, tag in zip(tags, wanted, strict=True):
            element = dataset.get(tag)
            value = "" if element is None else str(element.value)
            if value and value not in values[text]:
                values[text].append(value)
    result: dict[str, str] = {}
    for text, found in values.items():
        key = text.replace(",", "").upper()
        if len(found) == 1:
            result[key] = found[0]
        for n, value in enumerate(found if len(found) > 1 else [], start=1):
            result[f"{key}-{n}"] = value
    return result
