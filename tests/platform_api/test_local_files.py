"""Zero-copy hand-off against a real platform server: linked when allowed, uploaded/downloaded otherwise."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from openclara.auth.credentials import OPERATORS, SERVICES, client_token
from platform_api.client import PlatformClient
from platform_api.errors import PermissionDenied, PlatformUnavailable
from platform_server.app import PlatformServer
from platform_server.settings import PlatformSettings
from tests.support.network import free_port

Running = Callable[..., AbstractAsyncContextManager[tuple[PlatformServer, PlatformClient]]]


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.dcm").write_bytes(bytes([n]) * 1000)
    return folder


@pytest.fixture
def running(tmp_path: Path, spool: Path) -> Running:
    @asynccontextmanager
    async def run(token: str = SERVICES, **local_files: Any) -> AsyncIterator[tuple[PlatformServer, PlatformClient]]:
        settings = PlatformSettings.model_validate({
            "server": {"port": 0}, "metrics": {"port": 0}, "storage": {"data_dir": str(tmp_path / "platform")},
            "scheduler": {"gpus": 0}, "local_files": {"directories": [str(spool)], **local_files}})
        server = PlatformServer(settings, request_stop=lambda: None)
        await server.start()
        try:
            async with PlatformClient(f"127.0.0.1:{server.port}", timeout=10, token=client_token(token)) as client:
                yield server, client
        finally:
            await server.stop()

    return run


def pairs(spool: Path) -> list[tuple[str, Path]]:
    return [(f"dcm/{path.name}", path) for path in sorted(spool.glob("*.dcm"))]


async def test_services_link_files_in_and_out_without_copying(running: Running, spool: Path, tmp_path: Path) -> None:
    async with running() as (server, client):
        payload = str(await client.create_payload())
        handed = await client.add_files(payload, pairs(spool))
        assert (handed.how, handed.files, handed.refusal) == ("linked", 3, "")
        stored = server.settings.payloads_dir / payload / "dcm" / "0.dcm"
        assert os.stat(stored).st_ino == os.stat(spool / "0.dcm").st_ino
        assert [d.name for d in await client.payload_details(payload)] == [f"dcm/{n}.dcm" for n in range(3)]

        out = tmp_path / "out.dcm"
        fetched = await client.fetch(payload, "dcm/1.dcm", out, link_from=[server.settings.payloads_dir])
        assert fetched.how == "linked" and os.stat(out).st_ino == os.stat(spool / "1.dcm").st_ino

        copied = tmp_path / "copied.dcm"
        fetched = await client.fetch(payload, "dcm/2.dcm", copied, link_from=[tmp_path / "not-the-payloads"])
        assert fetched.how == "downloaded" and "not under a folder" in fetched.refusal
        assert copied.read_bytes() == bytes([2]) * 1000 and os.stat(copied).st_ino != os.stat(spool / "2.dcm").st_ino
    assert server.metrics.payload_bytes.labels("linked")._value.get() == 3000


async def test_other_callers_are_refused_and_upload_instead(running: Running, spool: Path) -> None:
    async with running(token=OPERATORS) as (server, client):
        payload = str(await client.create_payload())
        with pytest.raises(PermissionDenied, match="local_files.callers"):
            await client.adopt_files(payload, pairs(spool))
        handed = await client.add_files(payload, pairs(spool))
        assert handed.how == "uploaded" and "local_files.callers" in handed.refusal
        stored = server.settings.payloads_dir / payload / "dcm" / "0.dcm"
        assert stored.read_bytes() == bytes([0]) * 1000 and os.stat(stored).st_nlink == 1
        fetched = await client.fetch(payload, "dcm/0.dcm", spool / "back.dcm", link_from=[server.settings.payloads_dir])
        assert fetched.how == "downloaded" and "local_files.callers" in fetched.refusal


async def test_a_platform_without_the_extension_gets_uploads(running: Running, spool: Path) -> None:
    async with running(enabled=False) as (server, client):
        payload = str(await client.create_payload())
        handed = await client.add_files(payload, pairs(spool))
        assert handed.how == "uploaded" and "does not implement" in handed.refusal
        assert len(await client.payload_details(payload)) == 3


async def test_files_outside_the_directories_are_uploaded(running: Running, spool: Path, tmp_path: Path) -> None:
    async with running(directories=[str(tmp_path / "other")]) as (server, client):
        payload = str(await client.create_payload())
        handed = await client.add_files(payload, pairs(spool))
        assert handed.how == "uploaded" and "local_files.directories" in handed.refusal
        assert len(await client.payload_details(payload)) == 3


async def test_another_file_system_falls_back_to_upload(running: Running, tmp_path: Path) -> None:
    shm = Path("/dev/shm") / f"openclara-test-{os.getpid()}"
    shm.mkdir()
    try:
        (shm / "1.dcm").write_bytes(b"shm" * 10)
        assert os.stat(shm).st_dev != os.stat(tmp_path).st_dev, "needs /dev/shm on another file system"
        async with running(directories=[str(shm)]) as (server, client):
            payload = str(await client.create_payload())
            handed = await client.add_files(payload, [("1.dcm", shm / "1.dcm")])
            assert handed.how == "uploaded" and "another file system" in handed.refusal
            assert (server.settings.payloads_dir / payload / "1.dcm").read_bytes() == b"shm" * 10
    finally:
        (shm / "1.dcm").unlink()
        shm.rmdir()


async def test_an_unreachable_platform_is_raised_not_uploaded_around(spool: Path) -> None:
    async with PlatformClient(f"127.0.0.1:{free_port()}", timeout=2, token="x") as client:
        with pytest.raises(PlatformUnavailable):
            await client.add_files("0" * 32, pairs(spool))
