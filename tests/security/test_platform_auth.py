"""The Platform API refuses callers without a valid token, and callers whose role is too low, through a real
platform process; changes to what runs are written to the audit log with who, what and from where."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from openclara.auth.credentials import client_token
from openclara.auth.tokens import digest
from platform_api import PermissionDenied, PlatformClient, Unauthenticated
from platform_api._generated.nvidia.clara.platform import clara_pb2, clara_pb2_grpc
from tests.conftest import free_port
from tests.platform_server.server_process import ServerProcess

pytestmark = pytest.mark.integration
READER = "reader-token-for-tests"
PIPELINE = "api-version: 0.4.0\nname: p\noperators:\n- name: a\n  container: {image: x, command: [true]}\n"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(tmp_path, free_port(), auth__api_keys=[{"name": "viewer", "role": "read-only",
                                                                    "sha256": digest(READER)}],
                            auth__audit_log=str(tmp_path / "audit.log"))
    await process.start()
    yield process
    process.kill()


async def test_no_token_and_a_wrong_token_are_refused(server: ServerProcess) -> None:
    for token in ("-", "not-a-token"):
        async with PlatformClient(server.endpoint, token=token) as client:
            with pytest.raises(Unauthenticated, match="a valid API token is required"):
                await client.list_jobs()
    async with grpc.aio.insecure_channel(server.endpoint) as channel:  # no metadata at all: what Clara's client sends
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await clara_pb2_grpc.ClaraStub(channel).Version(clara_pb2.ClaraVersionRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_read_only_reads_but_cannot_create_a_pipeline_or_stop(server: ServerProcess) -> None:
    async with PlatformClient(server.endpoint, token=READER) as client:
        assert await client.list_jobs() == []
        with pytest.raises(PermissionDenied, match="Pipelines/Create needs role admin; viewer has read-only"):
            await client.create_pipeline({"p.yaml": PIPELINE})
        with pytest.raises(PermissionDenied, match="needs role operator"):
            await client.create_payload()


async def test_admin_changes_are_audited_with_who_and_from_where(server: ServerProcess, tmp_path: Path) -> None:
    async with PlatformClient(server.endpoint) as client:  # the stack's admin token, found by the client
        await client.create_pipeline({"p.yaml": PIPELINE})
    async with PlatformClient(server.endpoint, token=READER) as client:
        with pytest.raises(PermissionDenied):
            await client.create_pipeline({"p.yaml": PIPELINE})
    records = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    created = [r for r in records if r["what"] == "grpc /nvidia.clara.platform.Pipelines/Create"]
    assert [(r["who"], r["outcome"]) for r in created] == [("admin", "allowed"),
                                                           ("viewer", "refused: needs role admin")]
    assert all(r["from"].startswith("ipv4:127.0.0.1:") and r["service"] == "platform" for r in created)
    assert oct((tmp_path / "audit.log").stat().st_mode & 0o777) == "0o600"
    assert client_token() not in (tmp_path / "audit.log").read_text()  # never a token in the log
