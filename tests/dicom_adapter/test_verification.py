"""C-ECHO of a destination over our own SCU association, against our own SCP."""

from __future__ import annotations

import socket

from dicom_adapter.export.verification import echo
from dicom_adapter.models import DestinationAeTitle
from tests.dicom_adapter.scp.fakes import CALLED, CALLING, running_scp


def _destination(port: int, ae_title: str = CALLED) -> DestinationAeTitle:
    return DestinationAeTitle("Pacs", ae_title, "127.0.0.1", port)


async def test_echo_succeeds_and_the_scp_counts_it(tmp_path):
    async with running_scp(tmp_path) as scp:
        result = await echo(_destination(scp.port), CALLING, timeout=5)
    assert result.success and result.message == "C-ECHO succeeded" and result.status == 0
    assert result.elapsed_ms > 0


async def test_a_rejected_association_says_so(tmp_path):
    async with running_scp(tmp_path) as scp:
        port = scp.port
        result = await echo(_destination(port, "NOBODY"), CALLING, timeout=5)
    assert not result.success and result.message.startswith(f"NOBODY@127.0.0.1:{port}: association rejected")
    assert "called AE title" in result.message  # the peer's reason, not only "rejected"


async def test_verification_refused_is_a_failure(tmp_path):
    async with running_scp(tmp_path, scp={"verification_enabled": False}) as scp:
        result = await echo(_destination(scp.port), CALLING, timeout=5)
    assert not result.success and result.message == "Verification refused by the destination"


async def test_an_unreachable_peer_says_so():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused
        result = await echo(_destination(port), CALLING, timeout=5)
    assert not result.success
    assert result.message.startswith(f"{CALLED}@127.0.0.1:{port}: no association (cannot connect to 127.0.0.1:{port}")
