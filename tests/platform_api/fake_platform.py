"""An in-memory Clara platform on a real grpc.aio server (127.0.0.1, port 0), for client and CLI tests.

It runs on its own event loop in a background thread, so both async tests and synchronous CLI tests
(`CliRunner`, which calls `asyncio.run`) can talk to it. It speaks the raw generated protobuf API,
not our client, so tests exercise the wire contract.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc

from platform_api._generated.nvidia.clara.platform import (
    clara_pb2,
    clara_pb2_grpc,
    common_pb2,
    jobs_pb2,
    jobs_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    payloads_pb2,
    payloads_pb2_grpc,
    pipelines_pb2,
    pipelines_pb2_grpc,
)

NOT_FOUND = -3
INVALID = -2
CREATED = 63_900_000_000  # 2025-ish in Clara seconds


def ok() -> Any:
    return common_pb2.ResponseHeader(code=0)


def fail(code: int, message: str) -> Any:
    return common_pb2.ResponseHeader(code=code, messages=[message])


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class FakeJob:
    job_id: str
    pipeline_id: str
    payload_id: str
    name: str
    priority: int
    state: int = jobs_pb2.JOB_STATE_PENDING
    status: int = jobs_pb2.JOB_STATUS_HEALTHY
    variables: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeState:
    pipelines: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    payloads: dict[str, dict[str, bytes]] = field(default_factory=dict)
    models: dict[str, tuple[Any, bytes]] = field(default_factory=dict)
    logs: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    upload_chunks: list[int] = field(default_factory=list)
    headers: list[Any] = field(default_factory=list)


class Clara(clara_pb2_grpc.ClaraServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def Version(self, request: Any, context: Any) -> Any:
        self.state.headers.append(request.header)
        return clara_pb2.ClaraVersionResponse(header=ok(), version=common_pb2.Version(major=0, minor=8, patch=1))

    async def Stop(self, request: Any, context: Any) -> Any:
        return clara_pb2.ClaraStopResponse(header=ok())

    async def Utilization(self, request: Any, context: Any) -> AsyncIterator[Any]:
        gpu = clara_pb2.ClaraUtilizationResponse.GpuUtilization(node_id="n1", pcie_id=1, memory_free=1024)
        yield clara_pb2.ClaraUtilizationResponse(header=ok(), gpu_metrics=[gpu])


class Pipelines(pipelines_pb2_grpc.PipelinesServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def Create(self, request_iterator: Any, context: Any) -> Any:
        files: list[tuple[str, str]] = []
        async for message in request_iterator:
            files.append((message.definition.path, message.definition.content))
        name = next(
            (line.split(":", 1)[1].strip() for _, c in files for line in c.splitlines() if line.startswith("name:")), ""
        )
        if not name:
            return pipelines_pb2.PipelinesCreateResponse(header=fail(INVALID, f"{files[0][0]}:1: missing 'name'"))
        pipeline_id = new_id()
        self.state.pipelines[pipeline_id] = (name, files)
        return pipelines_pb2.PipelinesCreateResponse(header=ok(), pipeline_id=common_pb2.Identifier(value=pipeline_id))

    async def List(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield pipelines_pb2.PipelinesListResponse(header=ok())
        for pipeline_id, (name, _files) in self.state.pipelines.items():
            details = pipelines_pb2.PipelinesListResponse.PipelineDetails(
                pipeline_id=common_pb2.Identifier(value=pipeline_id), name=name
            )
            yield pipelines_pb2.PipelinesListResponse(header=ok(), details=details)

    async def Details(self, request: Any, context: Any) -> AsyncIterator[Any]:
        found = self.state.pipelines.get(request.pipeline_id.value)
        if found is None:
            yield pipelines_pb2.PipelinesDetailsResponse(header=fail(NOT_FOUND, "pipeline not found"))
            return
        name, files = found
        for path, content in files:
            definition = pipelines_pb2.PipelineDefinitionFile(path=path, content=content)
            node = pipelines_pb2.PipelinesDetailsResponse.PipelineDagNode(name="op")
            yield pipelines_pb2.PipelinesDetailsResponse(
                header=ok(), pipeline_id=request.pipeline_id, name=name, definition=definition, dag=[node]
            )

    async def Remove(self, request: Any, context: Any) -> Any:
        if self.state.pipelines.pop(request.pipeline_id.value, None) is None:
            return pipelines_pb2.PipelinesRemoveResponse(header=fail(NOT_FOUND, "pipeline not found"))
        return pipelines_pb2.PipelinesRemoveResponse(header=ok())


class Jobs(jobs_pb2_grpc.JobsServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def _job(self, identifier: Any) -> FakeJob | None:
        return self.state.jobs.get(identifier.value)

    async def Create(self, request: Any, context: Any) -> Any:
        if request.pipeline_id.value not in self.state.pipelines:
            return jobs_pb2.JobsCreateResponse(
                header=fail(NOT_FOUND, f"pipeline {request.pipeline_id.value} not found")
            )
        job = FakeJob(new_id(), request.pipeline_id.value, new_id(), request.name, request.priority or 2)
        job.metadata.update(request.metadata)
        self.state.jobs[job.job_id] = job
        self.state.payloads[job.payload_id] = {}
        self.state.logs[(job.job_id, "op")] = ["line one", "line two"]
        return jobs_pb2.JobsCreateResponse(
            header=ok(),
            job_id=common_pb2.Identifier(value=job.job_id),
            payload_id=common_pb2.Identifier(value=job.payload_id),
        )

    async def Start(self, request: Any, context: Any) -> Any:
        job = self._job(request.job_id)
        if job is None:
            return jobs_pb2.JobsStartResponse(header=fail(NOT_FOUND, "job not found"))
        job.variables = {v.name: v.value for v in request.Variables}
        job.state, job.status = jobs_pb2.JOB_STATE_STOPPED, jobs_pb2.JOB_STATUS_HEALTHY
        # The job "ran": its operator wrote an output.
        self.state.payloads[job.payload_id]["operators/op/out/result.txt"] = b"result"
        return jobs_pb2.JobsStartResponse(header=ok(), state=job.state, status=job.status, priority=job.priority)

    async def Status(self, request: Any, context: Any) -> Any:
        job = self._job(request.job_id)
        if job is None:
            return jobs_pb2.JobsStatusResponse(header=fail(NOT_FOUND, f"job {request.job_id.value} not found"))
        operator = jobs_pb2.JobsStatusResponse.JobOperatorDetails(
            name="op", status=jobs_pb2.JOB_OPERATOR_STATUS_COMPLETED, created=common_pb2.Timestamp(value=CREATED)
        )
        return jobs_pb2.JobsStatusResponse(
            header=ok(),
            job_id=request.job_id,
            pipeline_id=common_pb2.Identifier(value=job.pipeline_id),
            payload_id=common_pb2.Identifier(value=job.payload_id),
            state=job.state,
            status=job.status,
            name=job.name,
            priority=job.priority,
            created=common_pb2.Timestamp(value=CREATED),
            operator_details=[operator],
            metadata=job.metadata,
            messages=["all good"],
        )

    async def List(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield jobs_pb2.JobsListResponse(header=ok())
        wanted = set(request.filter.has_state)
        for job in self.state.jobs.values():
            if wanted and job.state not in wanted:
                continue
            details = jobs_pb2.JobsListResponse.JobDetails(
                job_id=common_pb2.Identifier(value=job.job_id),
                payload_id=common_pb2.Identifier(value=job.payload_id),
                pipeline_id=common_pb2.Identifier(value=job.pipeline_id),
                job_name=job.name,
                state=job.state,
                status=job.status,
                priority=job.priority,
                created=common_pb2.Timestamp(value=CREATED),
            )
            yield jobs_pb2.JobsListResponse(header=ok(), job_details=details)

    async def Cancel(self, request: Any, context: Any) -> Any:
        job = self._job(request.job_id)
        if job is None:
            return jobs_pb2.JobsCancelResponse(header=fail(NOT_FOUND, "job not found"))
        job.state, job.status = jobs_pb2.JOB_STATE_STOPPED, jobs_pb2.JOB_STATUS_CANCELED
        return jobs_pb2.JobsCancelResponse(
            header=ok(), job_id=request.job_id, job_state=job.state, job_status=job.status
        )

    async def ReadLogs(self, request: Any, context: Any) -> AsyncIterator[Any]:
        lines = self.state.logs.get((request.job_id.value, request.operator_name))
        if lines is None:
            yield jobs_pb2.JobsReadLogsResponse(header=fail(NOT_FOUND, f"no operator {request.operator_name!r}"))
            return
        for line in lines:
            yield jobs_pb2.JobsReadLogsResponse(header=ok(), job_id=request.job_id, logs=[line])

    async def AddMetadata(self, request: Any, context: Any) -> Any:
        job = self._job(request.job_id)
        if job is None:
            return jobs_pb2.JobsAddMetadataResponse(header=fail(NOT_FOUND, "job not found"))
        job.metadata.update(request.metadata)
        return jobs_pb2.JobsAddMetadataResponse(header=ok(), job_id=request.job_id, metadata=job.metadata)


class Payloads(payloads_pb2_grpc.PayloadsServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def Create(self, request: Any, context: Any) -> Any:
        payload_id = new_id()
        self.state.payloads[payload_id] = {}
        return payloads_pb2.PayloadsCreateResponse(
            header=ok(), payload_id=common_pb2.Identifier(value=payload_id), type=payloads_pb2.PAYLOAD_TYPE_REUSABLE
        )

    async def Upload(self, request_iterator: Any, context: Any) -> Any:
        chunks: list[bytes] = []
        name = payload_id = ""
        async for message in request_iterator:
            name = name or message.details.name
            payload_id = payload_id or message.payload_id.value
            chunks.append(message.data)
            self.state.upload_chunks.append(len(message.data))
        if name.endswith(".reject"):
            return payloads_pb2.PayloadsUploadResponse(header=fail(INVALID, f"{name}: refused by the fake"))
        if payload_id not in self.state.payloads:
            return payloads_pb2.PayloadsUploadResponse(header=fail(NOT_FOUND, f"payload {payload_id} not found"))
        data = b"".join(chunks)
        self.state.payloads[payload_id][name] = data
        details = payloads_pb2.PayloadFileDetails(name=name, size=len(data))
        return payloads_pb2.PayloadsUploadResponse(header=ok(), details=details)

    async def Download(self, request: Any, context: Any) -> AsyncIterator[Any]:
        data = self.state.payloads.get(request.payload_id.value, {}).get(request.name)
        if data is None:
            yield payloads_pb2.PayloadsDownloadResponse(header=fail(NOT_FOUND, f"no file {request.name!r}"))
            return
        details = payloads_pb2.PayloadFileDetails(name=request.name, size=len(data))
        step = 64 * 1024
        for offset in range(0, max(len(data), 1), step):
            yield payloads_pb2.PayloadsDownloadResponse(header=ok(), details=details, data=data[offset : offset + step])

    async def Details(self, request: Any, context: Any) -> AsyncIterator[Any]:
        files = self.state.payloads.get(request.payload_id.value)
        if files is None:
            yield payloads_pb2.PayloadsDetailsResponse(header=fail(NOT_FOUND, "payload not found"))
            return
        yield payloads_pb2.PayloadsDetailsResponse(header=ok(), payload_id=request.payload_id)
        for name, data in sorted(files.items()):
            file = payloads_pb2.PayloadFileDetails(name=name, size=len(data))
            yield payloads_pb2.PayloadsDetailsResponse(header=ok(), payload_id=request.payload_id, file=file)


class Models(models_pb2_grpc.ModelsServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def UploadModel(self, request_iterator: Any, context: Any) -> Any:
        details: Any = None
        chunks: list[bytes] = []
        async for message in request_iterator:
            if details is None:
                details = models_pb2.ModelDetails()
                details.CopyFrom(message.details)
            chunks.append(message.data)
        details.model_id.value = new_id()
        self.state.models[details.model_id.value] = (details, b"".join(chunks))
        return models_pb2.ModelsUploadModelResponse(header=ok(), details=details)

    async def ListModels(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield models_pb2.ModelsListModelsResponse(header=ok(), models=[d for d, _ in self.state.models.values()])

    async def DownloadModel(self, request: Any, context: Any) -> AsyncIterator[Any]:
        details, data = self.state.models[request.model_id.value]
        yield models_pb2.ModelsDownloadModelResponse(header=ok(), details=details, data=data)

    async def DeleteModel(self, request: Any, context: Any) -> Any:
        if self.state.models.pop(request.model_id.value, None) is None:
            return models_pb2.ModelsDeleteModelResponse(header=fail(NOT_FOUND, "model not found"))
        return models_pb2.ModelsDeleteModelResponse(header=ok(), model_id=request.model_id)


@contextmanager
def running_fake_platform() -> Iterator[tuple[str, FakeState]]:
    """Serve a fresh fake platform on its own loop in a thread; yields (endpoint, state)."""
    state = FakeState()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        server = grpc.aio.server()
        clara_pb2_grpc.add_ClaraServicer_to_server(Clara(state), server)
        pipelines_pb2_grpc.add_PipelinesServicer_to_server(Pipelines(state), server)
        jobs_pb2_grpc.add_JobsServicer_to_server(Jobs(state), server)
        payloads_pb2_grpc.add_PayloadsServicer_to_server(Payloads(state), server)
        models_pb2_grpc.add_ModelsServicer_to_server(Models(state), server)
        holder["port"] = server.add_insecure_port("127.0.0.1:0")
        holder["stop"] = asyncio.Event()
        await server.start()
        ready.set()
        await holder["stop"].wait()
        await server.stop(grace=None)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "fake platform did not start"
    try:
        yield f"127.0.0.1:{holder['port']}", state
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        loop.close()
