"""The servicers through an in-process grpc.aio server (port 0) and raw stubs, as Clara's own client calls them."""

from __future__ import annotations

import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from openclara.auth.credentials import client_token
from openclara.auth.grpc_client import token_interceptors
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
from platform_server.app import PlatformServer
from platform_server.settings import PlatformSettings
from tests.platform_server.conftest import DIAMOND

HEADER = common_pb2.RequestHeader(api_version=common_pb2.Version(major=0, minor=6), user_agent="Nvidia.Clara.Platform")


@pytest.fixture
async def channel(tmp_path: Path) -> AsyncIterator[grpc.aio.Channel]:
    settings = PlatformSettings.model_validate({"server": {"port": 0}, "storage": {"data_dir": str(tmp_path)},
                                                "scheduler": {"gpus": 0}})
    stops: list[bool] = []
    server = PlatformServer(settings, request_stop=lambda: stops.append(True))
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}",
                                         interceptors=token_interceptors(client_token())) as chan:
        yield chan
    await server.stop()


async def create_pipeline(channel: grpc.aio.Channel, files: list[tuple[str, str]]) -> Any:
    async def requests() -> AsyncIterator[Any]:
        for path, content in files:
            yield pipelines_pb2.PipelinesCreateRequest(
                header=HEADER, definition=pipelines_pb2.PipelineDefinitionFile(path=path, content=content))

    return await pipelines_pb2_grpc.PipelinesStub(channel).Create(requests())


async def test_clara_style_upload_64k_chunks_with_chunk_sizes(channel: grpc.aio.Channel) -> None:
    payloads = payloads_pb2_grpc.PayloadsStub(channel)
    created = await payloads.Create(payloads_pb2.PayloadsCreateRequest(header=HEADER))
    assert created.type == payloads_pb2.PAYLOAD_TYPE_REUSABLE
    blob = bytes(range(256)) * 1000  # 256000 bytes = 3 full chunks of 64 KiB and a partial one

    async def chunks() -> AsyncIterator[Any]:
        for start in range(0, len(blob), 64 * 1024):
            data = blob[start:start + 64 * 1024]
            details = payloads_pb2.PayloadFileDetails(mode=0, name="study/1.dcm", size=len(data))
            yield payloads_pb2.PayloadsUploadRequest(header=HEADER, payload_id=created.payload_id, details=details,
                                                     data=data)

    uploaded = await payloads.Upload(chunks())
    assert uploaded.header.code == 0 and uploaded.details.size == len(blob) and uploaded.details.name == "study/1.dcm"
    request = payloads_pb2.PayloadsDownloadRequest(header=HEADER, payload_id=created.payload_id, name="study/1.dcm")
    parts = [r async for r in payloads.Download(request)]
    assert parts[0].header.code == 0 and parts[0].details.size == len(blob)
    assert b"".join(p.data for p in parts) == blob
    details = [r async for r in payloads.Details(payloads_pb2.PayloadsDetailsRequest(payload_id=created.payload_id))]
    # Details names files rooted at the payload, as Clara did.
    assert [(d.file.name, d.file.size) for d in details] == [("/study/1.dcm", len(blob))]


async def test_empty_payload_details_is_one_header_message(channel: grpc.aio.Channel) -> None:
    payloads = payloads_pb2_grpc.PayloadsStub(channel)
    created = await payloads.Create(payloads_pb2.PayloadsCreateRequest())
    details = [r async for r in payloads.Details(payloads_pb2.PayloadsDetailsRequest(payload_id=created.payload_id))]
    assert len(details) == 1 and details[0].header.code == 0 and not details[0].HasField("file")


async def test_pipeline_details_one_message_per_file_with_dag(channel: grpc.aio.Channel) -> None:
    head, tail = DIAMOND.split("- name: left\n")
    created = await create_pipeline(channel, [("main.yaml", head), ("more.yaml", "operators:\n- name: left\n" + tail)])
    assert created.header.code == 0, created.header.messages
    stub = pipelines_pb2_grpc.PipelinesStub(channel)
    details = [r async for r in stub.Details(pipelines_pb2.PipelinesDetailsRequest(pipeline_id=created.pipeline_id))]
    assert [d.definition.path for d in details] == ["main.yaml", "more.yaml"]
    assert details[0].name == "diamond" and details[0].dag[0].name == "reader"
    assert [n.name for n in details[0].dag[0].next] == ["left", "right"]
    listed = [r async for r in stub.List(pipelines_pb2.PipelinesListRequest())]
    assert [r.details.name for r in listed] == ["diamond"]


async def test_errors_are_negative_header_codes(channel: grpc.aio.Channel) -> None:
    bad = await create_pipeline(channel, [("bad.yaml", "name: x\napi-version: 0.4.0\noperators: []\n")])
    assert bad.header.code == -2 and bad.header.messages == ["bad.yaml:1: the pipeline has no operators"]
    jobs = jobs_pb2_grpc.JobsStub(channel)
    missing = await jobs.Status(jobs_pb2.JobsStatusRequest(job_id=common_pb2.Identifier(value="nope")))
    assert missing.header.code == -2 and missing.header.messages == [
        "job id 'nope' is not a valid identifier (32 hexadecimal characters)"]
    created = await create_pipeline(channel, [("d.yaml", DIAMOND)])
    job = await jobs.Create(jobs_pb2.JobsCreateRequest(pipeline_id=created.pipeline_id, name="j"))
    odd = await jobs.Create(jobs_pb2.JobsCreateRequest(pipeline_id=created.pipeline_id, name="j", priority=9))
    assert odd.header.code == -2 and odd.header.messages[0].startswith("priority 9 is not valid (known: UNKNOWN=0")
    logs = [r async for r in jobs.ReadLogs(jobs_pb2.JobsReadLogsRequest(job_id=job.job_id, operator_name="x"))]
    assert len(logs) == 1 and logs[0].header.code == -3
    assert logs[0].header.messages[0].endswith("has no operator 'x' (operators: reader, left, right, join)")


async def test_job_status_and_list_without_header(channel: grpc.aio.Channel) -> None:
    created = await create_pipeline(channel, [("d.yaml", DIAMOND)])
    jobs = jobs_pb2_grpc.JobsStub(channel)
    job = await jobs.Create(jobs_pb2.JobsCreateRequest(pipeline_id=created.pipeline_id, name="j",
                                                       metadata={"a": "1"}))
    status = await jobs.Status(jobs_pb2.JobsStatusRequest(job_id=job.job_id))
    assert status.state == jobs_pb2.JOB_STATE_PENDING and status.status == jobs_pb2.JOB_STATUS_HEALTHY
    assert status.priority == jobs_pb2.JOB_PRIORITY_NORMAL
    assert status.created.value > 62135596800 and status.started.value == 0
    added = await jobs.AddMetadata(jobs_pb2.JobsAddMetadataRequest(job_id=job.job_id, metadata={"b": "2"}))
    assert dict(added.metadata) == {"a": "1", "b": "2"}
    listed = [r async for r in jobs.List(jobs_pb2.JobsListRequest())]
    assert [r.job_details.job_name for r in listed] == ["j"]
    only_running = jobs_pb2.JobsListRequest.JobFilter(has_state=[jobs_pb2.JOB_STATE_RUNNING])
    running = jobs_pb2.JobsListRequest(filter=only_running)
    assert [r.job_details.job_id.value async for r in jobs.List(running)] == [""]


async def test_models_upload_tar_list_download_delete(channel: grpc.aio.Channel, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"onnx-bytes"
        info = tarfile.TarInfo("lung/1/model.onnx")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    archive = buffer.getvalue()
    models = models_pb2_grpc.ModelsStub(channel)

    async def upload() -> AsyncIterator[Any]:
        details = models_pb2.ModelDetails(name="lung", type=models_pb2.MODEL_TYPE_PY_TORCH,
                                          metadata={"openclara.archive": "tar"})
        yield models_pb2.ModelsUploadModelRequest(details=details, data=archive[:1000])
        yield models_pb2.ModelsUploadModelRequest(data=archive[1000:])

    uploaded = await models.UploadModel(upload())
    assert uploaded.header.code == 0, uploaded.header.messages
    assert (tmp_path / "models" / "lung" / "lung" / "1" / "model.onnx").read_bytes() == b"onnx-bytes"
    listed = [m.name async for r in models.ListModels(models_pb2.ModelsListModelsRequest()) for m in r.models]
    assert listed == ["lung"]
    request = models_pb2.ModelsDownloadModelRequest(model_id=uploaded.details.model_id)
    assert b"".join([r.data async for r in models.DownloadModel(request)]) == archive
    again = await models.UploadModel(upload())
    assert again.header.code == -4 and "already exists" in again.header.messages[0]
    await models.DeleteModel(models_pb2.ModelsDeleteModelRequest(model_id=uploaded.details.model_id))
    assert not (tmp_path / "models" / "lung").exists()


async def test_version_and_utilization_without_gpus(channel: grpc.aio.Channel) -> None:
    clara = clara_pb2_grpc.ClaraStub(channel)
    version = await clara.Version(clara_pb2.ClaraVersionRequest(header=HEADER))
    assert version.version.label.startswith("openclara")
    samples = [r async for r in clara.Utilization(clara_pb2.ClaraUtilizationRequest(watch=False))]
    assert len(samples) == 1 and samples[0].header.code == 0


async def test_second_server_on_the_same_port_refuses_to_start(tmp_path: Path) -> None:
    first = PlatformServer(PlatformSettings.model_validate(
        {"server": {"port": 0}, "storage": {"data_dir": str(tmp_path / "a")}, "scheduler": {"gpus": 0}}))
    await first.start()
    try:
        second = PlatformServer(PlatformSettings.model_validate(
            {"server": {"port": first.port}, "storage": {"data_dir": str(tmp_path / "b")}, "scheduler": {"gpus": 0}}))
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{first.port}: the port is in use"):
            await second.start()
    finally:
        await first.stop()
