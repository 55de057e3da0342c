"""Issue #11, part 3: the probe that froze the Platform API, replayed against a real platform process.

One upload named `"d/" * 2000 + "f"` made `Path.mkdir(parents=True)` recurse 2,000 levels; the
RecursionError's chain of a thousand exceptions, rendered with rich and every frame's locals, held the
event loop for over 5 minutes and wrote 5 MB of log. Now the name is refused by its length before any
file-system work, at once, and the API keeps answering.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from platform_api import InvalidArgument, PlatformClient
from tests.conftest import free_port
from tests.platform_server.server_process import ServerProcess

pytestmark = pytest.mark.integration
PROBE = "d/" * 2000 + "f"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(tmp_path, free_port())
    await process.start()
    yield process
    process.kill()


async def test_the_deep_name_probe_is_refused_at_once_and_the_api_keeps_answering(server: ServerProcess) -> None:
    async with PlatformClient(server.endpoint, timeout=30) as client:
        payload_id = await client.create_payload()
        log_before = server.log.stat().st_size
        started = time.monotonic()
        with pytest.raises(InvalidArgument) as caught:
            await client.upload(payload_id, PROBE, b"x")
        assert time.monotonic() - started < 1.0
        assert caught.value.code == -2  # Clara's header code for an invalid argument, as for any bad name
        assert "file name is 4001 bytes long; at most 1024 bytes are allowed" in str(caught.value)

        started = time.monotonic()
        assert (await client.version()).major >= 0
        assert await client.payload_details(payload_id) == []  # nothing was created on disk
        assert time.monotonic() - started < 1.0

        # The other payload RPCs that take a name give the same answer, not "internal error" (code -1).
        with pytest.raises(InvalidArgument, match="at most 1024 bytes"):
            await client.download(payload_id, PROBE, server.root / "out")
        with pytest.raises(InvalidArgument, match="at most 1024 bytes"):
            await client.remove_payload_file(payload_id, PROBE)
        with pytest.raises(InvalidArgument, match="'/'-separated levels; at most 32"):
            await client.upload(payload_id, "d/" * 40 + "f", b"x")

    log = server.log.read_text()[log_before:]
    assert server.log.stat().st_size - log_before < 5_000
    assert "RecursionError" not in log and "Traceback" not in log
    assert "api.request.refused" in log  # the server itself answered: the client checks no lengths
    assert PROBE not in log


async def test_names_at_the_limits_upload_and_download(server: ServerProcess, tmp_path: Path) -> None:
    deepest = "/".join(["d"] * 31 + ["f.dcm"])
    widest = "s/" + "w" * 255
    async with PlatformClient(server.endpoint, timeout=30) as client:
        payload_id = await client.create_payload()
        for name in (deepest, widest):
            await client.upload(payload_id, name, name.encode())
            await client.download(payload_id, name, tmp_path / "copy")
            assert (tmp_path / "copy").read_bytes() == name.encode()
