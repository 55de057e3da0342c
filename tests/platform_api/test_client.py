"""PlatformClient against an in-process fake platform on a real loopback gRPC socket."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from platform_api import (
    InvalidArgument,
    JobOperatorStatus,
    JobPriority,
    JobState,
    JobStatus,
    ModelType,
    NotFound,
    PlatformClient,
    PlatformRequestError,
    PlatformUnavailable,
)
from tests.conftest import free_port
from tests.platform_api.fake_platform import FakeState, running_fake_platform

PIPELINE = "api-version: 0.4.0\nname: demo\noperators:\n- name: op\n"


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeState]]:
    with running_fake_platform() as running:
        yield running


@pytest.fixture
async def client(fake: tuple[str, FakeState]) -> AsyncIterator[PlatformClient]:
    async with PlatformClient(fake[0], timeout=10) as platform:
        yield platform


async def test_version_sends_request_header(client: PlatformClient, fake: tuple[str, FakeState]) -> None:
    version = await client.version()
    assert str(version) == "0.8.1"
    header = fake[1].headers[-1]
    assert header.user_agent == "openclara"
    assert (header.api_version.major, header.api_version.minor) == (0, 6)


async def test_server_down_raises_unavailable_naming_endpoint() -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    async with PlatformClient(endpoint, timeout=5) as platform:
        with pytest.raises(PlatformUnavailable) as caught:
            await platform.version()
    assert caught.value.endpoint == endpoint
    assert str(caught.value).startswith(f"cannot reach the platform at {endpoint}")


async def test_negative_code_raises_typed_error_with_messages(client: PlatformClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.job_status("0" * 32)
    assert caught.value.code == -3
    assert caught.value.messages == (f"job {'0' * 32} not found",)
    assert str(caught.value) == f"job {'0' * 32} not found"
    assert isinstance(caught.value, PlatformRequestError)


async def test_error_in_first_stream_message_raises(client: PlatformClient) -> None:
    with pytest.raises(NotFound, match="no operator 'nope'"):
        job_id, _ = await _job(client)
        [line async for line in client.read_logs(job_id, "nope")]


async def _job(client: PlatformClient) -> tuple[str, str]:
    pipeline_id = await client.create_pipeline({"demo.yaml": PIPELINE})
    return await client.create_job(pipeline_id, "job-1", JobPriority.HIGHER, metadata={"k": "v"})


async def test_pipeline_create_list_details_remove(client: PlatformClient, tmp_path: Path) -> None:
    first = tmp_path / "demo.yaml"
    first.write_text(PIPELINE)
    extra = tmp_path / "extra.yaml"
    extra.write_text("# imported\n")
    pipeline_id = await client.create_pipeline([first, extra])
    assert len(pipeline_id) == 32
    assert [(p.pipeline_id, p.name) for p in await client.list_pipelines()] == [(pipeline_id, "demo")]
    details = await client.pipeline_details(pipeline_id)
    assert details.name == "demo"
    assert [d.path for d in details.definitions] == ["demo.yaml", "extra.yaml"]
    assert details.dag[0].name == "op"
    await client.remove_pipeline(pipeline_id)
    assert await client.list_pipelines() == []


async def test_pipeline_invalid_definition_message_reaches_caller(client: PlatformClient) -> None:
    with pytest.raises(InvalidArgument, match=r"bad.yaml:1: missing 'name'"):
        await client.create_pipeline({"bad.yaml": "operators: []\n"})


async def test_missing_definition_file_is_a_clear_error(client: PlatformClient, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="cannot read pipeline definition .*missing.yaml"):
        await client.create_pipeline(tmp_path / "missing.yaml")


async def test_job_lifecycle(client: PlatformClient) -> None:
    job_id, payload_id = await _job(client)
    token = await client.start_job(job_id, {"threshold": "0.5"})
    assert (token.state, token.status, token.priority) == (JobState.STOPPED, JobStatus.HEALTHY, JobPriority.HIGHER)
    status = await client.job_status(job_id)
    assert status.payload_id == payload_id
    assert status.created is not None and status.created.tzinfo is UTC
    assert status.started is None
    assert status.operators[0].status is JobOperatorStatus.COMPLETED
    assert status.metadata == {"k": "v"}
    assert status.messages == ("all good",)
    jobs = await client.list_jobs(states=[JobState.STOPPED])
    assert [j.job_id for j in jobs] == [job_id]
    assert await client.list_jobs(states=[JobState.RUNNING]) == []
    assert [line async for line in client.read_logs(job_id, "op")] == ["line one", "line two"]
    cancelled = await client.cancel_job(job_id, "test")
    assert cancelled.status is JobStatus.CANCELED
    assert await client.add_job_metadata(job_id, {"x": "1"}) == {"k": "v", "x": "1"}


async def test_dashed_uuid_ids_are_accepted(client: PlatformClient) -> None:
    job_id, _ = await _job(client)
    dashed = f"{job_id[:8]}-{job_id[8:12]}-{job_id[12:16]}-{job_id[16:20]}-{job_id[20:]}".upper()
    assert (await client.job_status(dashed)).job_id == job_id


async def test_chunked_upload_download_round_trip(
    client: PlatformClient, fake: tuple[str, FakeState], tmp_path: Path
) -> None:
    payload_id = await client.create_payload()
    source = tmp_path / "big.bin"
    content = os.urandom(300 * 1024 + 7)
    source.write_bytes(content)
    sent: list[int] = []
    details = await client.upload(payload_id, "series/big.bin", source, chunk_size=100 * 1024, progress=sent.append)
    assert details.size == len(content)
    assert fake[1].upload_chunks == [100 * 1024] * 3 + [7]
    assert sum(sent) == len(content)
    received: list[int] = []
    dest = tmp_path / "out" / "big.bin"
    got = await client.download(payload_id, "series/big.bin", dest, progress=received.append)
    assert dest.read_bytes() == content
    assert got.size == len(content)
    assert sum(received) == len(content) and len(received) == 5
    assert [(f.name, f.size) for f in await client.payload_details(payload_id)] == [("series/big.bin", len(content))]


async def test_empty_file_upload_is_one_empty_chunk(client: PlatformClient, fake: tuple[str, FakeState]) -> None:
    payload_id = await client.create_payload()
    await client.upload(payload_id, "empty.txt", b"")
    assert fake[1].upload_chunks == [0]


async def test_upload_many_in_parallel(client: PlatformClient, tmp_path: Path) -> None:
    payload_id = await client.create_payload()
    files = []
    for index in range(6):
        path = tmp_path / f"{index}.dcm"
        path.write_bytes(bytes([index]) * 1000)
        files.append((f"s/{index}.dcm", path))
    results = await client.upload_many(payload_id, files, parallel=3)
    assert [r.name for r in results] == [name for name, _ in files]
    assert len(await client.payload_details(payload_id)) == 6


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.txt", "a/../../b", "", "a\\b", "a//b"])
async def test_traversal_names_are_refused_before_sending(
    client: PlatformClient, fake: tuple[str, FakeState], name: str
) -> None:
    payload_id = await client.create_payload()
    with pytest.raises(InvalidArgument, match="payload file name"):
        await client.upload(payload_id, name, b"x")
    assert fake[1].upload_chunks == []


async def test_failed_download_leaves_no_partial_file(client: PlatformClient, tmp_path: Path) -> None:
    payload_id = await client.create_payload()
    dest = tmp_path / "missing.txt"
    with pytest.raises(NotFound, match="no file 'missing.txt'"):
        await client.download(payload_id, "missing.txt", dest)
    assert list(tmp_path.iterdir()) == []


async def test_models_round_trip_file_and_folder(client: PlatformClient, tmp_path: Path) -> None:
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(b"onnx-bytes")
    single = await client.upload_model(model_file, "seg", ModelType.TENSOR_RT)
    folder = tmp_path / "triton"
    (folder / "1").mkdir(parents=True)
    (folder / "config.pbtxt").write_text("name: 'liver'")
    (folder / "1" / "model.onnx").write_bytes(b"weights")
    packed = await client.upload_model(folder, "liver", metadata={"owner": "ct"})
    assert packed.metadata == {"owner": "ct", "openclara.archive": "tar"}
    assert {(m.name, m.type) for m in await client.list_models()} == {
        ("seg", ModelType.TENSOR_RT),
        ("liver", ModelType.UNKNOWN),
    }
    await client.download_model(single.model_id, tmp_path / "back.onnx")
    assert (tmp_path / "back.onnx").read_bytes() == b"onnx-bytes"
    await client.download_model(packed.model_id, tmp_path / "back")
    assert (tmp_path / "back" / "1" / "model.onnx").read_bytes() == b"weights"
    assert await client.delete_model(single.model_id) == single.model_id
    with pytest.raises(NotFound):
        await client.delete_model(single.model_id)


async def test_utilization_snapshot(client: PlatformClient) -> None:
    [gpu] = await client.utilization()
    assert (gpu.node_id, gpu.memory_free_mb, gpu.timestamp) == ("n1", 1024, None)


async def test_list_jobs_sends_filter_timestamps(client: PlatformClient) -> None:
    await _job(client)
    jobs = await client.list_jobs(created_after=datetime(2020, 1, 1, tzinfo=UTC))
    assert len(jobs) == 1
