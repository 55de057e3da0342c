"""Jobs servicer: create, start, status, list, cancel, logs and metadata over `JobService`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from platform_api._generated.nvidia.clara.platform import jobs_pb2, jobs_pb2_grpc
from platform_server.api.edge import identifier, metadata_of, ok, streaming, timestamp, unary
from platform_server.domain import (
    CLARA_EPOCH_OFFSET,
    Job,
    JobPriority,
    JobState,
    JobStatus,
    OperatorStatus,
    enum_value,
    to_iso,
)
from platform_server.jobs.service import JobService
from platform_server.jobs.store import JobFilter
from platform_server.pipelines.dag import JobNode

LOG_LINES_PER_MESSAGE = 200
Status = jobs_pb2.JobsStatusResponse


def _state(value: JobState) -> jobs_pb2.JobState.ValueType:
    return jobs_pb2.JobState.ValueType(int(value))


def _status(value: JobStatus) -> jobs_pb2.JobStatus.ValueType:
    return jobs_pb2.JobStatus.ValueType(int(value))


def _priority(value: JobPriority) -> jobs_pb2.JobPriority.ValueType:
    return jobs_pb2.JobPriority.ValueType(int(value))


def _op_status(value: OperatorStatus) -> jobs_pb2.JobOperatorStatus.ValueType:
    return jobs_pb2.JobOperatorStatus.ValueType(int(value))


def _dag(node: JobNode) -> Any:
    return Status.JobDagNode(name=node.name, input_dependencies=[_dag(n) for n in node.input_dependencies],
                             order_dependencies=[_dag(n) for n in node.order_dependencies])


def _unix(value: int) -> float | None:
    return None if value <= 0 else float(value - CLARA_EPOCH_OFFSET)


def _filter(request: Any) -> JobFilter:
    if not request.HasField("filter"):
        return JobFilter()
    f = request.filter
    return JobFilter(
        states=[enum_value(JobState, s, "job state") for s in f.has_state],
        statuses=[enum_value(JobStatus, s, "job status") for s in f.has_status],
        pipeline_ids=[p.value.replace("-", "").lower() for p in f.pipeline_id],
        created_after=_unix(f.created_after.value),
        completed_before=_unix(f.completed_before.value),
    )


def _job_details(job: Job) -> Any:
    return jobs_pb2.JobsListResponse.JobDetails(
        job_id=identifier(job.job_id), payload_id=identifier(job.payload_id), pipeline_id=identifier(job.pipeline_id),
        job_name=job.name, state=_state(job.state), status=_status(job.status), priority=_priority(job.priority),
        timestamp_created=to_iso(job.created), timestamp_started=to_iso(job.started),
        timestamp_stopped=to_iso(job.stopped), created=timestamp(job.created), started=timestamp(job.started),
        stopped=timestamp(job.stopped), metadata=job.metadata,
    )


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


class JobsServicer(jobs_pb2_grpc.JobsServicer):
    def __init__(self, service: JobService) -> None:
        self._service = service

    @unary(jobs_pb2.JobsCreateResponse)
    async def Create(self, request: Any, context: Any) -> Any:
        job = await self._service.create(
            request.pipeline_id.value, request.name, enum_value(JobPriority, request.priority, "priority"),
            [p.value for p in request.input_payloads], metadata_of(request),
        )
        return jobs_pb2.JobsCreateResponse(header=ok(), job_id=identifier(job.job_id),
                                           payload_id=identifier(job.payload_id))

    @unary(jobs_pb2.JobsStartResponse)
    async def Start(self, request: Any, context: Any) -> Any:
        variables = {v.name: v.value for v in request.Variables}
        job = await self._service.start(request.job_id.value, variables)
        return jobs_pb2.JobsStartResponse(header=ok(), state=_state(job.state), status=_status(job.status),
                                          priority=_priority(job.priority))

    @unary(jobs_pb2.JobsStatusResponse)
    async def Status(self, request: Any, context: Any) -> Any:
        job, dag = await self._service.status(request.job_id.value)
        operators = [
            Status.JobOperatorDetails(name=op.name, status=_op_status(op.status), created=timestamp(op.created),
                                      started=timestamp(op.started), stopped=timestamp(op.stopped))
            for op in job.operators
        ]
        return Status(
            header=ok(), job_id=identifier(job.job_id), pipeline_id=identifier(job.pipeline_id),
            payload_id=identifier(job.payload_id), state=_state(job.state), status=_status(job.status), name=job.name,
            messages=job.messages, priority=_priority(job.priority), timestamp_created=to_iso(job.created),
            timestamp_started=to_iso(job.started), timestamp_stopped=to_iso(job.stopped),
            created=timestamp(job.created), started=timestamp(job.started), stopped=timestamp(job.stopped),
            operator_details=operators, metadata=job.metadata, dag=[_dag(n) for n in dag],
        )

    @streaming(jobs_pb2.JobsListResponse)
    async def List(self, request: Any, context: Any) -> AsyncIterator[Any]:
        jobs = await self._service.find(_filter(request))
        if not jobs:
            yield jobs_pb2.JobsListResponse(header=ok())
        for job in jobs:
            yield jobs_pb2.JobsListResponse(header=ok(), job_details=_job_details(job))

    @unary(jobs_pb2.JobsCancelResponse)
    async def Cancel(self, request: Any, context: Any) -> Any:
        job = await self._service.cancel(request.job_id.value, request.reason)
        return jobs_pb2.JobsCancelResponse(header=ok(), job_id=identifier(job.job_id), job_state=_state(job.state),
                                           job_status=_status(job.status))

    @streaming(jobs_pb2.JobsReadLogsResponse)
    async def ReadLogs(self, request: Any, context: Any) -> AsyncIterator[Any]:
        job_id = identifier(request.job_id.value)
        sent = False
        for operator, path in await self._service.logs(request.job_id.value, request.operator_name):
            lines = await asyncio.to_thread(_read_lines, path)
            for start in range(0, len(lines), LOG_LINES_PER_MESSAGE):
                sent = True
                yield jobs_pb2.JobsReadLogsResponse(header=ok(), job_id=job_id, operator_name=operator,
                                                    logs=lines[start:start + LOG_LINES_PER_MESSAGE])
        if not sent:
            yield jobs_pb2.JobsReadLogsResponse(header=ok(), job_id=job_id, operator_name=request.operator_name)

    @unary(jobs_pb2.JobsAddMetadataResponse)
    async def AddMetadata(self, request: Any, context: Any) -> Any:
        merged = await self._service.add_metadata(request.job_id.value, metadata_of(request))
        return jobs_pb2.JobsAddMetadataResponse(header=ok(), job_id=request.job_id, metadata=merged)

    @unary(jobs_pb2.JobsRemoveMetadataResponse)
    async def RemoveMetadata(self, request: Any, context: Any) -> Any:
        remaining = await self._service.remove_metadata(request.job_id.value, list(request.keys))
        return jobs_pb2.JobsRemoveMetadataResponse(header=ok(), job_id=request.job_id, metadata=remaining)
