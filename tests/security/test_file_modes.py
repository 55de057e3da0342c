"""Files holding PHI are readable by the service's user only: the probe found payloads and databases 0644/0755."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from platform_api import PlatformClient
from tests.conftest import free_port
from tests.platform_server.server_process import ServerProcess

pytestmark = pytest.mark.integration


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_uploaded_payload_files_folders_and_the_database_are_private(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, free_port())
    try:
        await server.start()
        async with PlatformClient(server.endpoint) as client:
            payload_id = await client.create_payload()
            await client.upload(payload_id, "study/series/1.dcm", b"DICM" * 64)
    finally:
        server.kill()
    data = tmp_path / "data"
    [uploaded] = (data / "payloads").rglob("1.dcm")
    assert mode(uploaded) == 0o600
    assert {mode(folder) for folder in (data / "payloads").rglob("*") if folder.is_dir()} == {0o700}
    assert mode(data / "platform.db") == 0o600
