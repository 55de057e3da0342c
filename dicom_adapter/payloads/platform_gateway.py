"""`PlatformGateway`: the submitter's `JobPlatform` port over `platform_api.PlatformClient`.

The one place where Platform API errors become the adapter's: unreachable / internal errors are
`PlatformUnavailable` (retried), refusals (unknown pipeline, invalid request) are `PlatformRejected`.
Spool files reach a job by hard link when the platform shares the file system (`local_files`), else by
upload; the log says which, at the first payload and whenever it changes, not once per payload.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import structlog

from dicom_adapter.errors import PlatformRejected, PlatformUnavailable
from dicom_adapter.models import JobPriority
from dicom_adapter.payloads.jobs import IDEMPOTENCY_KEY, ExistingJob
from openclara.auth.credentials import SERVICES, client_token
from openclara.tls import ClientTlsSettings
from platform_api import errors as platform_errors
from platform_api.client import PlatformClient
from platform_api.types import JobPriority as WirePriority
from platform_api.types import JobState

log = structlog.get_logger()

def _first(exc: BaseException) -> BaseException:
    # upload_many runs a TaskGroup: failures arrive wrapped in an ExceptionGroup.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


@asynccontextmanager
async def _mapped(what: str) -> AsyncIterator[None]:
    try:
        yield
    except (platform_errors.PlatformError, BaseExceptionGroup) as raw:
        exc = _first(raw)
        if isinstance(exc, platform_errors.NotFound | platform_errors.InvalidArgument):
            raise PlatformRejected(f"{what}: {exc}") from exc
        if isinstance(exc, platform_errors.PlatformError | OSError):
            raise PlatformUnavailable(f"{what}: {exc}") from exc
        raise


def platform_client(endpoint: str, tls: ClientTlsSettings | None, timeout: float = 30.0) -> PlatformClient:
    """A Platform API client as the adapter (the stack's `services` token); `tls` None = plain."""
    return PlatformClient(endpoint, timeout=timeout, token=client_token(SERVICES), tls=tls or ClientTlsSettings())


class PlatformGateway:
    """Implements `jobs.JobPlatform` and the API's `PipelineChecker`."""

    def __init__(self, endpoint: str, timeout: float = 30.0, tls: ClientTlsSettings | None = None,
                 *, link: bool = True) -> None:
        """`link` False: always upload (the platform is on another machine, or linking is not wanted)."""
        self.endpoint = endpoint
        self._client = platform_client(endpoint, tls, timeout)
        self._link = link
        self._refusal: str | None = None  # the last reason the platform gave for not linking ("" = it linked)

    async def start(self) -> None:
        """Connect in the background: the first payload's job need not wait for the TCP and HTTP/2
        handshakes (the channel reconnects by itself whenever the platform comes back). A channel that
        cannot even be built (unreadable TLS files) fails the first call instead, mapped as every failure is."""
        with contextlib.suppress(Exception):
            self._client.connect_soon()

    async def stop(self) -> None:
        await self._client.close()

    async def create_job(
        self, pipeline_id: str, name: str, priority: JobPriority, metadata: dict[str, str]
    ) -> tuple[str, str]:
        async with _mapped(f"Jobs.Create on pipeline {pipeline_id}"):
            job_id, payload_id = await self._client.create_job(
                pipeline_id, name, WirePriority.parse(priority.value), metadata=metadata
            )
        return str(job_id), str(payload_id)

    async def add_files(self, payload_id: str, files: Sequence[tuple[str, Path]], parallel: int) -> str:
        async with _mapped(f"Payloads.Upload to {payload_id}"):
            if not self._link:
                await self._client.upload_many(payload_id, files, parallel=parallel)
                return "uploaded"
            handed = await self._client.add_files(payload_id, files, parallel=parallel)
        if handed.refusal != self._refusal:  # the first outcome, then each change: which way files go
            if handed.refusal:
                log.warning("submitter.handoff.uploading", reason=handed.refusal,
                            hint="files are uploaded; see local_files in the platform's configuration")
            else:
                log.info("submitter.handoff.linking")
            self._refusal = handed.refusal
        return handed.how

    async def start_job(self, job_id: str) -> None:
        try:
            async with _mapped(f"Jobs.Start {job_id}"):
                await self._client.start_job(job_id)
        except PlatformUnavailable as exc:
            # Conflict = started already: we crashed after Jobs.Start, before recording it. That is success.
            if not isinstance(exc.__cause__, platform_errors.Conflict):
                raise

    async def find_job(self, pipeline_id: str, idempotency_key: str, created_after: float) -> ExistingJob | None:
        # A minute of slack for clock differences; the platform's timestamps have one-second resolution.
        since = datetime.fromtimestamp(created_after - 60, UTC)
        async with _mapped(f"Jobs.List for pipeline {pipeline_id}"):
            jobs = await self._client.list_jobs(pipeline_ids=[pipeline_id], created_after=since)
        for job in jobs:
            if job.metadata.get(IDEMPOTENCY_KEY) == idempotency_key:
                return ExistingJob(str(job.job_id), str(job.payload_id), job.state is not JobState.PENDING)
        return None

    async def job_started(self, job_id: str) -> bool:
        async with _mapped(f"Jobs.Status {job_id}"):
            status = await self._client.job_status(job_id)
        return status.state is not JobState.PENDING

    async def pipeline_exists(self, pipeline_id: str) -> bool | None:
        try:
            await self._client.pipeline_details(pipeline_id)
        except (platform_errors.NotFound, platform_errors.InvalidArgument):
            return False
        except platform_errors.PlatformError:
            return None
        return True
