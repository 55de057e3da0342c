"""Spool files handed to a real platform by hard link: a crash mid-way loses nothing and doubles nothing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import structlog.testing

from dicom_adapter.db import AdapterDatabase, PayloadRepository
from dicom_adapter.models import PayloadState
from dicom_adapter.payloads.platform_gateway import PlatformGateway
from dicom_adapter.payloads.submitter import PayloadSubmitter
from dicom_adapter.settings import PlatformClientSettings
from openclara.auth.credentials import SERVICES, client_token
from platform_api.client import PlatformClient
from platform_server.app import PlatformServer
from platform_server.settings import PlatformSettings
from tests.dicom_adapter.payloads.test_submitter import closed_payload
from tests.support.harness import TRIVIAL_PIPELINE


class Crash(BaseException):
    """The adapter dying right after the platform linked the files, before anything was recorded."""


class DiesAfterLinking:
    """The real gateway, except that the process 'dies' once the first hand-off has happened."""

    def __init__(self, gateway: PlatformGateway) -> None:
        self._gateway = gateway

    def __getattr__(self, name: str) -> object:
        return getattr(self._gateway, name)

    async def add_files(self, payload_id: str, files: Sequence[tuple[str, Path]], parallel: int) -> str:
        await self._gateway.add_files(payload_id, files, parallel)
        raise Crash


class DeletingSpool:
    def remove(self, path: Path) -> None:
        path.unlink()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[AdapterDatabase]:
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    yield db
    await db.stop()


@pytest.fixture
async def platform(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[PlatformServer, str]]:
    """A real platform taking files from the spool (`make_instance` writes under <tmp>/CLARA), or from
    the folder a test passes as the fixture's parameter."""
    source = getattr(request, "param", None) or str(tmp_path / "CLARA")
    settings = PlatformSettings.model_validate({
        "server": {"port": 0}, "metrics": {"port": 0}, "storage": {"data_dir": str(tmp_path / "platform")},
        "scheduler": {"gpus": 0}, "local_files": {"directories": [source]}})
    server = PlatformServer(settings, request_stop=lambda: None)
    await server.start()
    try:
        async with PlatformClient(f"127.0.0.1:{server.port}", timeout=10) as client:
            pipeline = str(await client.create_pipeline({"handoff.yaml": TRIVIAL_PIPELINE.format(name="handoff")}))
        yield server, pipeline
    finally:
        await server.stop()


def submitter(database: AdapterDatabase, gateway: object) -> PayloadSubmitter:
    return PayloadSubmitter(PayloadRepository(database), gateway, DeletingSpool(),  # type: ignore[arg-type]
                            PlatformClientSettings(), sleep=lambda _: asyncio.sleep(0))


async def test_crash_between_link_and_job_start_loses_and_doubles_nothing(
    database: AdapterDatabase, platform: tuple[PlatformServer, str], tmp_path: Path
) -> None:
    server, pipeline = platform
    payload_id = await closed_payload(database, tmp_path, {"seg": pipeline}, n=4)
    instances = await PayloadRepository(database).active_instances(payload_id)
    originals = {i.sop_instance_uid: (os.stat(i.path).st_ino, i.path.read_bytes()) for i in instances}
    endpoint = f"127.0.0.1:{server.port}"
    with structlog.testing.capture_logs() as logs:
        gateway = PlatformGateway(endpoint, tls=None)
        with pytest.raises(Crash):
            await submitter(database, DiesAfterLinking(gateway)).process(payload_id)
        await gateway.stop()
        # Restarted: the job recorded before the crash gets its files again (replacing the links) and starts.
        gateway = PlatformGateway(endpoint, tls=None)
        assert await submitter(database, gateway).process(payload_id) is PayloadState.DONE
        await gateway.stop()
    assert not [e for e in logs if e["event"] == "submitter.handoff.uploading"]

    async with PlatformClient(endpoint, timeout=10, token=client_token(SERVICES)) as client:
        jobs = await client.list_jobs(pipeline_ids=[pipeline])
        assert len(jobs) == 1
        files = await client.payload_details(str(jobs[0].payload_id))
    assert len(files) == 4
    stored = server.settings.payloads_dir / str(jobs[0].payload_id)
    for sop, (inode, data) in originals.items():
        [path] = stored.rglob(f"{sop}.dcm")
        # The platform holds the very inode the adapter wrote, and the only name left is the platform's.
        assert (os.stat(path).st_ino, path.read_bytes(), os.stat(path).st_nlink) == (inode, data, 1)
    assert all(not i.path.exists() for i in instances)


@pytest.mark.parametrize("platform", ["/dev/shm"], indirect=True)
async def test_spool_the_platform_does_not_take_from_is_uploaded(
    database: AdapterDatabase, platform: tuple[PlatformServer, str], tmp_path: Path
) -> None:
    server, pipeline = platform
    payload_id = await closed_payload(database, tmp_path, {"seg": pipeline}, n=2)
    gateway = PlatformGateway(f"127.0.0.1:{server.port}", tls=None)
    with structlog.testing.capture_logs() as logs:
        assert await submitter(database, gateway).process(payload_id) is PayloadState.DONE
    await gateway.stop()
    [warning] = [e for e in logs if e["event"] == "submitter.handoff.uploading"]
    assert "local_files.directories" in warning["reason"]
    async with PlatformClient(f"127.0.0.1:{server.port}", timeout=10) as client:
        [job] = await client.list_jobs(pipeline_ids=[pipeline])
        assert len(await client.payload_details(str(job.payload_id))) == 2
