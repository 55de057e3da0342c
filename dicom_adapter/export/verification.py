"""`echo`: C-ECHO a destination (Verification SOP Class) with pynetdicom, off the event loop, over DICOM TLS
when the destination (or `export.tls`) says so, exactly as the export SCU would reach it."""

from __future__ import annotations

import asyncio
import time

from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicom_adapter.export.errors import DestinationTlsError
from dicom_adapter.export.transport import TlsTarget, TlsTargets, handshake_problem
from dicom_adapter.models import DestinationAeTitle, EchoResult

SUCCESS = 0x0000  # PS3.7 C.2: Success


def _echo_blocking(
    destination: DestinationAeTitle, calling_ae_title: str, timeout: float, tls: TlsTarget | None
) -> EchoResult:
    started = time.perf_counter()
    ae = AE(ae_title=calling_ae_title)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    tls_args = (tls.context, tls.server_hostname) if tls is not None else None
    assoc = ae.associate(destination.host_ip, destination.port, ae_title=destination.ae_title, tls_args=tls_args)
    if not assoc.is_established:
        reason = "association rejected" if assoc.is_rejected else "no association (peer unreachable or aborted)"
        return EchoResult(False, f"{_address(destination, tls)}: {reason}")
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


def _address(destination: DestinationAeTitle, tls: TlsTarget | None) -> str:
    over = " (DICOM TLS)" if tls is not None else ""
    return f"{destination.ae_title}@{destination.host_ip}:{destination.port}{over}"


async def echo(
    destination: DestinationAeTitle, calling_ae_title: str, timeout: float = 10.0, tls: TlsTargets | None = None
) -> EchoResult:
    """C-ECHO `destination`; `tls` (the export SCU's defaults) decides whether and how over TLS."""
    try:
        target = tls.target(destination) if tls is not None else None
    except DestinationTlsError as exc:
        return EchoResult(False, str(exc))
    result = await asyncio.to_thread(_echo_blocking, destination, calling_ae_title, timeout, target)
    if result.success or target is None or result.status is not None:
        return result
    # pynetdicom only logs why a TLS connection failed: find out again, for the operator reading the answer.
    problem = await handshake_problem(destination.host_ip, destination.port, target, timeout)
    if problem is None:
        return result
    return EchoResult(False, f"{_address(destination, target)}: {problem}", None, result.elapsed_ms)
