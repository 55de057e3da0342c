"""Fakes shared by the adapter core's unit tests: instances, clock, spool, registry, platform."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dicom_adapter.errors import PlatformRejected, PlatformUnavailable
from dicom_adapter.models import ClaraAeTitle, JobPriority, StoredInstance
from dicom_adapter.payloads.jobs import IDEMPOTENCY_KEY, ExistingJob


def make_instance(
    tmp: Path,
    sop: str,
    study: str = "1.2.3",
    series: str = "1.2.3.4",
    called: str = "CLARA",
    association: str = "a1",
    extra: dict[str, str] | None = None,
) -> StoredInstance:
    path = tmp / called / association / f"{sop}.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"DICM" + sop.encode())
    return StoredInstance(
        path=path,
        called_ae_title=called,
        calling_ae_title="PACS",
        calling_host="127.0.0.1",
        association_id=association,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        sop_instance_uid=sop,
        study_instance_uid=study,
        series_instance_uid=series,
        transfer_syntax="1.2.840.10008.1.2.1",
        size=path.stat().st_size,
        received_at=1_700_000_000.0,
        extra_tags=extra or {},
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSpool:
    def __init__(self) -> None:
        self.removed: list[Path] = []

    def remove(self, path: Path) -> None:
        self.removed.append(path)
        path.unlink(missing_ok=True)


@dataclass
class FakeRegistry:
    aes: dict[str, ClaraAeTitle] = field(default_factory=dict)

    def clara_ae_title(self, ae_title: str) -> ClaraAeTitle | None:
        return self.aes.get(ae_title)


def clara_ae(
    ae: str = "CLARA",
    pipelines: dict[str, str] | None = None,
    group_by: str = "0020,000D",
    timeout: float = 5.0,
    overwrite: bool = False,
) -> ClaraAeTitle:
    return ClaraAeTitle(
        name=ae,
        ae_title=ae,
        pipelines=pipelines if pipelines is not None else {"seg": "p1"},
        group_by=group_by,
        timeout_seconds=timeout,
        overwrite_same_instance=overwrite,
    )


@dataclass
class FakeJob:
    job_id: str
    payload_id: str
    pipeline_id: str
    name: str
    priority: JobPriority
    metadata: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    started: bool = False


class FakePlatform:
    """In-memory platform; `fail` makes the next calls of a method raise (a list of exceptions)."""

    def __init__(self) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.fail: dict[str, list[Exception]] = {}
        self.calls: list[str] = []
        self.unknown_pipelines: set[str] = set()

    def _maybe_fail(self, method: str) -> None:
        self.calls.append(method)
        queue = self.fail.get(method)
        if queue:
            raise queue.pop(0)

    async def create_job(
        self, pipeline_id: str, name: str, priority: JobPriority, metadata: dict[str, str]
    ) -> tuple[str, str]:
        self._maybe_fail("create_job")
        if pipeline_id in self.unknown_pipelines:
            raise PlatformRejected(f"pipeline {pipeline_id} not found")
        n = len(self.jobs) + 1
        job = FakeJob(f"job{n}", f"payload{n}", pipeline_id, name, priority, dict(metadata))
        self.jobs[job.job_id] = job
        self._maybe_fail("after_create")
        return job.job_id, job.payload_id

    async def add_files(self, payload_id: str, files: Sequence[tuple[str, Path]], parallel: int) -> str:
        self._maybe_fail("add_files")
        job = next(j for j in self.jobs.values() if j.payload_id == payload_id)
        for name, path in files:
            job.files[name] = path.read_bytes()
        return "uploaded"

    async def start_job(self, job_id: str) -> None:
        self._maybe_fail("start_job")
        self.jobs[job_id].started = True
        self._maybe_fail("after_start")

    async def find_job(self, pipeline_id: str, idempotency_key: str, created_after: float) -> ExistingJob | None:
        self._maybe_fail("find_job")
        for job in self.jobs.values():
            if job.pipeline_id == pipeline_id and job.metadata.get(IDEMPOTENCY_KEY) == idempotency_key:
                return ExistingJob(job.job_id, job.payload_id, job.started)
        return None

    async def job_started(self, job_id: str) -> bool:
        self._maybe_fail("job_started")
        return self.jobs[job_id].started


def unavailable() -> PlatformUnavailable:
    return PlatformUnavailable("cannot reach the platform")
