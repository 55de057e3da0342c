"""`echo`: C-ECHO a destination (Verification SOP Class) with pynetdicom, off the event loop."""

from __future__ import annotations

import asyncio
import time

from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicom_adapter.api.deps import EchoResult
from dicom_adapter.models import DestinationAeTitle

SUCCESS = 0x0000  # PS3.7 C.2: Success


def _echo_blocking(destination: DestinationAeTitle, calling_ae_title: str, timeout: float) -> EchoResult:
    started = time.perf_counter()
    ae = AE(ae_title=calling_ae_title)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    assoc = ae.associate(destination.host_ip, destination.port, ae_title=destination.ae_title)
    if not assoc.is_established:
        reason = "association rejected" if assoc.is_rejected else "no association (peer unreachable or aborted)"
        return EchoResult(False, f"{destination.ae_title}@{destination.host_ip}:{destination.port}: {reason}")
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    elapsed = (time.perf_counter() - started) * 1000
    if status is None or "Status" not in status:
        return EchoResult(False, "no C-ECHO response", None, elapsed)
    code = int(status.Status)
    ok = code == SUCCESS
    return EchoResult(ok, "C-ECHO succeeded" if ok else f"C-ECHO status 0x{code:04X}", code, elapsed)


async def echo(destination: DestinationAeTitle, calling_ae_title: str, timeout: float = 10.0) -> EchoResult:
    return await asyncio.to_thread(_echo_blocking, destination, calling_ae_title, timeout)
