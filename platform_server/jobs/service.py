"""JobService: the job life cycle behind the Jobs servicer, and recovery after a restart.

Create makes a PENDING job with its own PIPELINE payload and a snapshot of the pipeline definition
(later pipeline updates do not change it). Start resolves the parameters, seals the payload input
and queues the job. Cancel takes a queued job out of the queue, or stops a running one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from platform_server import metadata as md
from platform_server.domain import Job, JobPriority, JobState, JobStatus, PayloadType, new_id, now, parse_id
from platform_server.errors import Conflict, NotFound
from platform_server.jobs.runner import JobRunner
from platform_server.jobs.scheduler import Scheduler
from platform_server.jobs.store import JobFilter, JobRepository
from platform_server.payloads.store import PayloadStore
from platform_server.pipelines.dag import JobNode
from platform_server.pipelines.definition import parse, resolve
from platform_server.pipelines.store import PipelineRepository

log = structlog.get_logger()
RESTART_MESSAGE = "platform restarted while the job was running"


class JobService:
    def __init__(self, jobs: JobRepository, pipelines: PipelineRepository, payloads: PayloadStore,
                 scheduler: Scheduler, runner: JobRunner, requeue_running: bool = False) -> None:
        self._jobs = jobs
        self._pipelines = pipelines
        self._payloads = payloads
        self._scheduler = scheduler
        self._runner = runner
        self._requeue_running = requeue_running

    async def create(self, pipeline_id: str, name: str, priority: JobPriority, input_payloads: Sequence[str],
                     metadata: dict[str, str]) -> Job:
        pipeline = await self._pipelines.get(parse_id(pipeline_id, "pipeline"))
        sources = [parse_id(p, "input payload") for p in input_payloads]
        md.validate(metadata)
        job_id = new_id()
        payload = await self._payloads.create(PayloadType.PIPELINE, job_id=job_id)
        await self._payloads.copy_inputs(sources, payload.payload_id)
        job = Job(
            job_id=job_id, pipeline_id=pipeline.pipeline_id, payload_id=payload.payload_id,
            name=name.strip() or f"{pipeline.name}-{job_id[:8]}",
            priority=JobPriority.NORMAL if priority == JobPriority.UNKNOWN else priority,
            metadata=dict(metadata), definition=pipeline.files,
        )
        await self._jobs.add(job)
        log.info("job.created", job_id=job_id, pipeline_id=pipeline.pipeline_id, priority=job.priority.name)
        return job

    async def get(self, job_id: str) -> Job:
        return await self._jobs.get(parse_id(job_id, "job"))

    async def start(self, job_id: str, variables: dict[str, str]) -> Job:
        job = await self.get(job_id)
        if job.state != JobState.PENDING or job.queued is not None:
            raise Conflict(f"job {job.job_id} was already started (state {job.state.name}, status {job.status.name})")
        resolve(parse(job.definition), variables)  # unknown or missing parameters fail here, not later
        job.variables, job.queued = dict(variables), now()
        await self._payloads.seal(job.payload_id)
        await self._jobs.save(job)
        self._scheduler.submit(job.job_id, job.priority)
        return job

    async def status(self, job_id: str) -> tuple[Job, list[JobNode]]:
        job = await self.get(job_id)
        return job, parse(job.definition).dag.job_nodes()

    async def find(self, where: JobFilter) -> list[Job]:
        return await self._jobs.list(where)

    async def cancel(self, job_id: str, reason: str) -> Job:
        job = await self.get(job_id)
        if job.state == JobState.STOPPED:
            return job
        text = reason.strip() or "no reason given"
        if job.state == JobState.RUNNING or job.job_id in self._scheduler.running:
            self._runner.note_cancel(job.job_id, text)
            await self._scheduler.cancel_running(job.job_id)
        else:
            self._scheduler.withdraw(job.job_id)
        job = await self.get(job.job_id)
        if job.state != JobState.STOPPED:  # never reached the runner, or cancelled before it marked RUNNING
            job.state, job.status, job.stopped = JobState.STOPPED, JobStatus.CANCELED, now()
            job.messages.append(f"job canceled before it ran: {text}")
            await self._jobs.save(job)
        log.info("job.canceled", job_id=job.job_id, reason=text)
        return job

    async def logs(self, job_id: str, operator: str) -> list[tuple[str, Path]]:
        """(operator, log file) pairs: the named operator, or every operator when the name is empty."""
        job = await self.get(job_id)
        names = [op.name for op in parse(job.definition).operators]
        if operator and operator not in names:
            raise NotFound(f"job {job.job_id} has no operator {operator!r} (operators: {', '.join(names)})")
        return [(name, self._runner.log_path(job.job_id, name)) for name in names if not operator or name == operator]

    async def add_metadata(self, job_id: str, added: dict[str, str]) -> dict[str, str]:
        job = await self.get(job_id)
        merged = md.merge(job.metadata, added)
        await self._jobs.set_metadata(job.job_id, merged)
        return merged

    async def remove_metadata(self, job_id: str, keys: list[str]) -> dict[str, str]:
        job = await self.get(job_id)
        remaining = md.remove(job.metadata, keys)
        await self._jobs.set_metadata(job.job_id, remaining)
        return remaining

    async def recover(self) -> None:
        """After a restart: fault (or re-queue) jobs that were running, re-queue jobs that were started."""
        for job in await self._jobs.in_state(JobState.RUNNING):
            await self._runner.reap(job.job_id)
            if self._requeue_running:
                job.state, job.started = JobState.PENDING, None
                job.messages.append(f"{RESTART_MESSAGE}; it was queued again")
                job.operators = []
                await self._jobs.save(job)
            else:
                job.state, job.status, job.stopped = JobState.STOPPED, JobStatus.FAULTED, now()
                job.messages.append(RESTART_MESSAGE)
                await self._jobs.save(job)
                log.warning("job.faulted_by_restart", job_id=job.job_id)
        for job in await self._jobs.in_state(JobState.PENDING):
            if job.queued is not None:
                self._scheduler.submit(job.job_id, job.priority)
