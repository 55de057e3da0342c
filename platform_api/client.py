"""`PlatformClient`: typed async access to a Clara-compatible platform over gRPC (grpc.aio).

Every call sends a `RequestHeader`, converts protobuf to `platform_api.types` at the edge, raises
`PlatformRequestError` (or a subclass) when `ResponseHeader.code < 0` and maps gRPC failures once,
in `map_grpc_errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import grpc

from openclara.auth.credentials import client_token
from openclara.auth.grpc_client import token_interceptors
from openclara.grpc_tls import channel_credentials, channel_options, client_tls_from_env
from openclara.tls import ClientTlsSettings
from platform_api import _convert, local_files, transfer
from platform_api._generated.nvidia.clara.platform import (
    clara_pb2,
    clara_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    payloads_pb2,
    payloads_pb2_grpc,
    pipelines_pb2,
    pipelines_pb2_grpc,
)
from platform_api._generated.openclara.platform import local_files_pb2, local_files_pb2_grpc
from platform_api.errors import NotFound, check_header, map_grpc_errors
from platform_api.local_files import HandOff, LocalFileDetails
from platform_api.types import (
    GpuUtilization,
    JobDetails,
    JobId,
    JobPriority,
    JobState,
    JobStatus,
    JobStatusDetails,
    JobToken,
    ModelDetails,
    ModelId,
    ModelType,
    PayloadFileDetails,
    PayloadId,
    PipelineDetails,
    PipelineId,
    Version,
)

# Chunks are <= 4 MiB; allow a little more than gRPC's 4 MiB default for the rest of the message.
_CHANNEL_OPTIONS: list[tuple[str, Any]] = [("grpc.max_send_message_length", 8 << 20),
                                           ("grpc.max_receive_message_length", 8 << 20)]
_STUBS: dict[str, Any] = {
    "clara": clara_pb2_grpc.ClaraStub,
    "jobs": jobs_pb2_grpc.JobsStub,
    "payloads": payloads_pb2_grpc.PayloadsStub,
    "pipelines": pipelines_pb2_grpc.PipelinesStub,
    "models": models_pb2_grpc.ModelsStub,
    "local_files": local_files_pb2_grpc.LocalFilesStub,
}


def _check(response: Any, rpc: str) -> None:
    check_header(response.header.code, list(response.header.messages), rpc)


class PlatformClient:
    """Async client of the Platform API; use as `async with PlatformClient("127.0.0.1:30031") as c:`."""

    def __init__(self, endpoint: str, *, timeout: float = 30.0, user_agent: str = _convert.USER_AGENT,
                 token: str | None = None, tls: ClientTlsSettings | None = None) -> None:
        """`token`: the API token sent with every call; None = `CLARA_API_TOKEN`, else the stack's admin token
        from its credentials file ($CLARA_CREDENTIALS or $CLARA_HOME/credentials.yaml), else none.
        `tls`: how to reach a TLS platform (`enabled: false` = plain); None = the `CLARA_PLATFORM_TLS*`
        variables, else plain."""
        self.endpoint = endpoint
        self.timeout = timeout
        self._token = token if token is not None else client_token()
        self._tls = tls if tls is not None else client_tls_from_env()
        self._header = _convert.request_header(user_agent)
        self._channel: grpc.aio.Channel | None = None
        self._stubs: dict[str, Any] = {}

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            interceptors = token_interceptors(self._token)
            if self._tls is not None and self._tls.enabled:
                self._channel = grpc.aio.secure_channel(
                    self.endpoint, channel_credentials(self._tls),
                    options=_CHANNEL_OPTIONS + channel_options(self._tls), interceptors=interceptors)
            else:
                self._channel = grpc.aio.insecure_channel(self.endpoint, options=_CHANNEL_OPTIONS,
                                                          interceptors=interceptors)
            self._stubs = {name: stub(self._channel) for name, stub in _STUBS.items()}
        return self._channel

    def connect_soon(self) -> None:
        """Start connecting now, in the background, so the first call does not pay for it (never fails:
        an unreachable platform is reported by the calls, as always)."""
        self._open().get_state(try_to_connect=True)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = None

    def _stub(self, name: str) -> Any:
        self._open()
        return self._stubs[name]

    async def _unary(self, service: str, method: str, request: Any) -> Any:
        rpc = f"{service.title().replace('_', '')}.{method}"
        with map_grpc_errors(self.endpoint, rpc):
            response = await getattr(self._stub(service), method)(request, timeout=self.timeout)
        _check(response, rpc)
        return response

    async def _stream(self, service: str, method: str, request: Any) -> AsyncIterator[Any]:
        """Server-streamed responses, header-checked one by one."""
        rpc = f"{service.title().replace('_', '')}.{method}"
        with map_grpc_errors(self.endpoint, rpc):
            async for response in getattr(self._stub(service), method)(request, timeout=self.timeout):
                _check(response, rpc)
                yield response

    async def version(self) -> Version:
        response = await self._unary("clara", "Version", clara_pb2.ClaraVersionRequest(header=self._header))
        return _convert.version(response.version)

    async def stop(self) -> None:
        await self._unary("clara", "Stop", clara_pb2.ClaraStopRequest(header=self._header))

    async def utilization(self) -> list[GpuUtilization]:
        """One snapshot of GPU use; empty when the platform has no GPU."""
        request = clara_pb2.ClaraUtilizationRequest(header=self._header, watch=False)
        responses = self._stream("clara", "Utilization", request)
        return [_convert.gpu_utilization(g) async for r in responses for g in r.gpu_metrics]

    async def create_pipeline(
        self,
        source: _convert.PipelineSource,
        *,
        pipeline_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> PipelineId:
        files = _convert.definition_files(source)

        async def requests() -> AsyncIterator[Any]:
            for index, (path, content) in enumerate(files):
                message = pipelines_pb2.PipelinesCreateRequest(
                    header=self._header, definition=pipelines_pb2.PipelineDefinitionFile(path=path, content=content)
                )
                if index == 0:
                    if pipeline_id:
                        message.pipeline_id.CopyFrom(_convert.identifier(pipeline_id))
                    message.metadata.update(dict(metadata or {}))
                yield message

        with map_grpc_errors(self.endpoint, "Pipelines.Create"):
            response = await self._stub("pipelines").Create(requests(), timeout=self.timeout)
        _check(response, "Pipelines.Create")
        return PipelineId(str(response.pipeline_id.value))

    async def update_pipeline(self, pipeline_id: str, source: _convert.PipelineSource) -> None:
        files = _convert.definition_files(source)
        pid = _convert.identifier(pipeline_id)

        async def requests() -> AsyncIterator[Any]:
            for path, content in files:
                definition = pipelines_pb2.PipelineDefinitionFile(path=path, content=content)
                yield pipelines_pb2.PipelinesUpdateRequest(header=self._header, pipeline_id=pid, definition=definition)

        with map_grpc_errors(self.endpoint, "Pipelines.Update"):
            response = await self._stub("pipelines").Update(requests(), timeout=self.timeout)
        _check(response, "Pipelines.Update")

    async def list_pipelines(self) -> list[PipelineDetails]:
        request = pipelines_pb2.PipelinesListRequest(header=self._header)
        return [
            _convert.pipeline_summary(r.details)
            async for r in self._stream("pipelines", "List", request)
            if r.details.pipeline_id.value
        ]

    async def pipeline_details(self, pipeline_id: str) -> PipelineDetails:
        pid = _convert.identifier(pipeline_id)
        request = pipelines_pb2.PipelinesDetailsRequest(header=self._header, pipeline_id=pid)
        responses = [r async for r in self._stream("pipelines", "Details", request)]
        if not responses:
            raise NotFound(0, [f"pipeline {pipeline_id} not found"], "Pipelines.Details")
        return _convert.pipeline_details(responses)

    async def remove_pipeline(self, pipeline_id: str) -> None:
        pid = _convert.identifier(pipeline_id)
        request = pipelines_pb2.PipelinesRemoveRequest(header=self._header, pipeline_id=pid)
        await self._unary("pipelines", "Remove", request)

    async def add_pipeline_metadata(self, pipeline_id: str, metadata: Mapping[str, str]) -> dict[str, str]:
        request = pipelines_pb2.PipelinesAddMetadataRequest(
            header=self._header, pipeline_id=_convert.identifier(pipeline_id), metadata=dict(metadata)
        )
        return _convert.metadata((await self._unary("pipelines", "AddMetadata", request)).metadata)

    async def remove_pipeline_metadata(self, pipeline_id: str, keys: Iterable[str]) -> dict[str, str]:
        request = pipelines_pb2.PipelinesRemoveMetadataRequest(
            header=self._header, pipeline_id=_convert.identifier(pipeline_id), keys=list(keys)
        )
        return _convert.metadata((await self._unary("pipelines", "RemoveMetadata", request)).metadata)

    async def create_job(
        self,
        pipeline_id: str,
        name: str,
        priority: JobPriority = JobPriority.NORMAL,
        input_payloads: Iterable[str] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[JobId, PayloadId]:
        request = jobs_pb2.JobsCreateRequest(
            header=self._header,
            pipeline_id=_convert.identifier(pipeline_id),
            name=name,
            priority=jobs_pb2.JobPriority.ValueType(int(priority)),
            input_payloads=[_convert.identifier(p) for p in input_payloads],
            metadata=dict(metadata or {}),
        )
        response = await self._unary("jobs", "Create", request)
        return JobId(str(response.job_id.value)), PayloadId(str(response.payload_id.value))

    async def start_job(self, job_id: str, variables: Mapping[str, str] | None = None) -> JobToken:
        named = [jobs_pb2.JobsStartRequest.NamedValue(name=k, value=v) for k, v in (variables or {}).items()]
        request = jobs_pb2.JobsStartRequest(header=self._header, job_id=_convert.identifier(job_id), Variables=named)
        response = await self._unary("jobs", "Start", request)
        return JobToken(
            job_id=JobId(_convert.canonical_id(job_id)),
            state=JobState.from_wire(response.state),
            status=JobStatus.from_wire(response.status),
            priority=JobPriority.from_wire(response.priority),
        )

    async def job_status(self, job_id: str) -> JobStatusDetails:
        request = jobs_pb2.JobsStatusRequest(header=self._header, job_id=_convert.identifier(job_id))
        return _convert.job_status(await self._unary("jobs", "Status", request))

    async def list_jobs(
        self,
        *,
        states: Iterable[JobState] = (),
        statuses: Iterable[JobStatus] = (),
        pipeline_ids: Iterable[str] = (),
        created_after: datetime | None = None,
        completed_before: datetime | None = None,
    ) -> list[JobDetails]:
        """Jobs matching every given criterion (an empty filter lists all jobs)."""
        request = jobs_pb2.JobsListRequest(header=self._header)
        job_filter = request.filter
        job_filter.has_state.extend(jobs_pb2.JobState.ValueType(int(s)) for s in states)
        job_filter.has_status.extend(jobs_pb2.JobStatus.ValueType(int(s)) for s in statuses)
        job_filter.pipeline_id.extend(_convert.identifier(p) for p in pipeline_ids)
        if created_after is not None:
            job_filter.created_after.CopyFrom(_convert.timestamp(created_after))
        if completed_before is not None:
            job_filter.completed_before.CopyFrom(_convert.timestamp(completed_before))
        return [
            _convert.job_details(r.job_details)
            async for r in self._stream("jobs", "List", request)
            if r.job_details.job_id.value
        ]

    async def cancel_job(self, job_id: str, reason: str = "") -> JobToken:
        request = jobs_pb2.JobsCancelRequest(header=self._header, job_id=_convert.identifier(job_id), reason=reason)
        response = await self._unary("jobs", "Cancel", request)
        return JobToken(
            job_id=JobId(str(response.job_id.value) or _convert.canonical_id(job_id)),
            state=JobState.from_wire(response.job_state),
            status=JobStatus.from_wire(response.job_status),
        )

    async def read_logs(self, job_id: str, operator: str) -> AsyncIterator[str]:
        """The operator's log lines, as the platform streams them."""
        request = jobs_pb2.JobsReadLogsRequest(
            header=self._header, job_id=_convert.identifier(job_id), operator_name=operator
        )
        async for response in self._stream("jobs", "ReadLogs", request):
            for line in response.logs:
                yield str(line)

    async def add_job_metadata(self, job_id: str, metadata: Mapping[str, str]) -> dict[str, str]:
        request = jobs_pb2.JobsAddMetadataRequest(
            header=self._header, job_id=_convert.identifier(job_id), metadata=dict(metadata)
        )
        return _convert.metadata((await self._unary("jobs", "AddMetadata", request)).metadata)

    async def remove_job_metadata(self, job_id: str, keys: Iterable[str]) -> dict[str, str]:
        request = jobs_pb2.JobsRemoveMetadataRequest(
            header=self._header, job_id=_convert.identifier(job_id), keys=list(keys)
        )
        return _convert.metadata((await self._unary("jobs", "RemoveMetadata", request)).metadata)

    async def create_payload(self, metadata: Mapping[str, str] | None = None) -> PayloadId:
        """A new REUSABLE payload (inputs several jobs can share)."""
        request = payloads_pb2.PayloadsCreateRequest(header=self._header, metadata=dict(metadata or {}))
        return PayloadId(str((await self._unary("payloads", "Create", request)).payload_id.value))

    async def upload(
        self,
        payload_id: str,
        name: str,
        source: Path | bytes,
        *,
        chunk_size: int = transfer.DEFAULT_CHUNK_SIZE,
        progress: transfer.Progress | None = None,
    ) -> PayloadFileDetails:
        """Upload one file as `name` (relative; for a job payload, relative to its input folder)."""
        with map_grpc_errors(self.endpoint, "Payloads.Upload"):
            return await transfer.upload_payload_file(
                self._stub("payloads"), self._header, payload_id, name, source, chunk_size=chunk_size, progress=progress
            )

    async def upload_many(
        self,
        payload_id: str,
        files: Sequence[tuple[str, Path]],
        *,
        parallel: int = 4,
        progress: transfer.Progress | None = None,
    ) -> list[PayloadFileDetails]:
        """Upload (name, path) pairs over up to `parallel` concurrent streams; results in input order."""
        for name, _path in files:
            transfer.check_payload_name(name)
        slots = asyncio.Semaphore(max(1, parallel))

        async def one(name: str, path: Path) -> PayloadFileDetails:
            async with slots:
                return await self.upload(payload_id, name, path, progress=progress)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(name, path)) for name, path in files]
        except ExceptionGroup as failures:
            # The first failure cancels the other uploads; report it, not a group.
            raise failures.exceptions[0] from None
        return [task.result() for task in tasks]

    async def adopt_files(self, payload_id: str, files: Sequence[tuple[str, Path]]) -> list[LocalFileDetails]:
        """openclara only: have the platform hard-link (name, local path) pairs into the payload (no upload).

        Works when the platform shares this file system and takes files from their folder; else it
        refuses (a `PlatformRequestError`), and a Clara platform answers `PlatformProtocolError`.
        """
        adopted: list[LocalFileDetails] = []
        for batch in local_files.batches(files):
            wire = [local_files_pb2.LocalFile(name=transfer.check_payload_name(name), path=str(path.absolute()))
                    for name, path in batch]
            request = local_files_pb2.LocalFilesAdoptRequest(
                header=self._header, payload_id=_convert.identifier(payload_id), files=wire)
            response = await self._unary("local_files", "Adopt", request)
            adopted += [LocalFileDetails(f.name, Path(f.path), f.size) for f in response.files]
        return adopted

    async def locate_files(self, payload_id: str, names: Sequence[str]) -> list[LocalFileDetails]:
        """openclara only: where the payload's files are on the platform's file system."""
        request = local_files_pb2.LocalFilesLocateRequest(
            header=self._header, payload_id=_convert.identifier(payload_id), names=list(names))
        response = await self._unary("local_files", "Locate", request)
        return [LocalFileDetails(f.name, Path(f.path), f.size) for f in response.files]

    async def add_files(
        self, payload_id: str, files: Sequence[tuple[str, Path]], *, parallel: int = 4,
        progress: transfer.Progress | None = None,
    ) -> HandOff:
        """Put (name, local path) pairs into the payload: linked when the platform can, else uploaded."""
        try:
            await self.adopt_files(payload_id, files)
        except local_files.REFUSALS as refused:
            await self.upload_many(payload_id, files, parallel=parallel, progress=progress)
            return HandOff("uploaded", len(files), str(refused))
        return HandOff("linked", len(files))

    async def fetch(self, payload_id: str, name: str, dest: Path, *, link_from: Sequence[Path] = ()) -> HandOff:
        """Like `download`, but hard-links the platform's file when it lies under `link_from` (this side's
        view of the platform's payload folders)."""
        refusal = "no folder to link from is configured"
        if link_from:
            try:
                found = await self.locate_files(payload_id, [name])
                if [f.name for f in found] == [name]:
                    refusal = await asyncio.to_thread(local_files.link_out, found[0], dest, link_from)
                else:  # the contract is one answer for one name: anything else is not trusted
                    refusal = f"the platform located {len(found)} files for {name!r}"
            except local_files.REFUSALS as refused:
                refusal = str(refused)
            if not refusal:
                return HandOff("linked", 1)
        await self.download(payload_id, name, dest)
        return HandOff("downloaded", 1, refusal)

    async def download(
        self, payload_id: str, name: str, dest: Path, *, progress: transfer.Progress | None = None
    ) -> PayloadFileDetails:
        """Stream one payload file to `dest` (never held in memory; `dest` appears only when complete)."""
        with map_grpc_errors(self.endpoint, "Payloads.Download"):
            return await transfer.download_payload_file(
                self._stub("payloads"), self._header, payload_id, name, dest, progress=progress
            )

    async def payload_details(self, payload_id: str) -> list[PayloadFileDetails]:
        request = payloads_pb2.PayloadsDetailsRequest(header=self._header, payload_id=_convert.identifier(payload_id))
        return [
            _convert.file_details(r.file)
            async for r in self._stream("payloads", "Details", request)
            if r.HasField("file") and r.file.name
        ]

    async def delete_payload(self, payload_id: str) -> None:
        request = payloads_pb2.PayloadsDeleteRequest(header=self._header, payload_id=_convert.identifier(payload_id))
        await self._unary("payloads", "Delete", request)

    async def remove_payload_file(self, payload_id: str, name: str) -> None:
        request = payloads_pb2.PayloadsRemoveRequest(
            header=self._header, payload_id=_convert.identifier(payload_id), name=name
        )
        await self._unary("payloads", "Remove", request)

    async def add_payload_metadata(self, payload_id: str, metadata: Mapping[str, str]) -> dict[str, str]:
        request = payloads_pb2.PayloadsAddMetadataRequest(
            header=self._header, payload_id=_convert.identifier(payload_id), metadata=dict(metadata)
        )
        return _convert.metadata((await self._unary("payloads", "AddMetadata", request)).metadata)

    async def remove_payload_metadata(self, payload_id: str, keys: Iterable[str]) -> dict[str, str]:
        request = payloads_pb2.PayloadsRemoveMetadataRequest(
            header=self._header, payload_id=_convert.identifier(payload_id), keys=list(keys)
        )
        return _convert.metadata((await self._unary("payloads", "RemoveMetadata", request)).metadata)

    async def upload_model(
        self,
        source: Path,
        name: str,
        model_type: ModelType = ModelType.UNKNOWN,
        metadata: Mapping[str, str] | None = None,
        *,
        progress: transfer.Progress | None = None,
    ) -> ModelDetails:
        """Upload a model file, or a model folder (sent as a tar stream)."""
        with map_grpc_errors(self.endpoint, "Models.UploadModel"):
            return await transfer.upload_model(
                self._stub("models"), self._header, source, name, model_type, metadata or {}, progress=progress
            )

    async def list_models(self) -> list[ModelDetails]:
        request = models_pb2.ModelsListModelsRequest(header=self._header)
        responses = self._stream("models", "ListModels", request)
        return [_convert.model_details(m) async for r in responses for m in r.models]

    async def download_model(self, model_id: str, dest: Path) -> ModelDetails:
        with map_grpc_errors(self.endpoint, "Models.DownloadModel"):
            return await transfer.download_model(self._stub("models"), self._header, model_id, dest)

    async def delete_model(self, model_id: str) -> ModelId:
        request = models_pb2.ModelsDeleteModelRequest(header=self._header, model_id=_convert.identifier(model_id))
        response = await self._unary("models", "DeleteModel", request)
        return ModelId(str(response.model_id.value) or _convert.canonical_id(model_id))
