"""`echo`: C-ECHO a destination (Verification SOP Class) over the export SCU's own association code
(export/scu.py), over DICOM TLS when the destination (or `export.tls`) says so: exactly the way the
export SCU reaches it, so a successful echo means a store can get through too.
"""

from __future__ import annotations

import time

from dicom_adapter.dicom.contexts import ProposedContext
from dicom_adapter.dicom.status import Status
from dicom_adapter.dicom.uids import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION
from dicom_adapter.export.errors import AssociationRejectedError, DestinationTlsError, DestinationUnavailableError
from dicom_adapter.export.scu import Peer, StoreAssociation, Timeouts
from dicom_adapter.export.transport import TlsTarget, TlsTargets
from dicom_adapter.models import DestinationAeTitle, EchoResult

_CONTEXT_ID = 1
# Command sets are implicit VR little endian whatever the context's syntax: any one the peer takes will do.
_VERIFICATION = ProposedContext(_CONTEXT_ID, VERIFICATION, (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN))
_MAX_PDU = 16384  # a C-ECHO-RSP is ~100 bytes


def _address(destination: DestinationAeTitle, tls: TlsTarget | None) -> str:
    over = " (DICOM TLS)" if tls is not None else ""
    return f"{destination.ae_title}@{destination.host_ip}:{destination.port}{over}"


def _elapsed(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _echo(peer: Peer, timeout: float) -> EchoResult:
    """One association, one C-ECHO, released; DestinationUnavailableError when it cannot be opened."""
    started = time.perf_counter()
    association = await StoreAssociation.open(peer, [_VERIFICATION], _MAX_PDU, Timeouts(timeout, timeout, timeout))
    context = association.accept.contexts.get(_CONTEXT_ID)
    if context is None or not context.accepted:
        await association.release()
        return EchoResult(False, "Verification refused by the destination", None, _elapsed(started))
    try:
        code = await association.echo(_CONTEXT_ID)
    except DestinationUnavailableError:
        association.abort()
        return EchoResult(False, "no C-ECHO response", None, _elapsed(started))
    await association.release()
    ok = code == Status.SUCCESS
    return EchoResult(ok, "C-ECHO succeeded" if ok else f"C-ECHO status 0x{code:04X}", code, _elapsed(started))


async def echo(
    destination: DestinationAeTitle, calling_ae_title: str, timeout: float = 10.0, tls: TlsTargets | None = None
) -> EchoResult:
    """C-ECHO `destination`; `tls` (the export SCU's defaults) decides whether and how over TLS."""
    try:
        target = tls.target(destination) if tls is not None else None
    except DestinationTlsError as exc:
        return EchoResult(False, str(exc))
    peer = Peer(destination.host_ip, destination.port, destination.ae_title, calling_ae_title, target)
    try:
        return await _echo(peer, timeout)
    except DestinationTlsError as exc:
        return EchoResult(False, f"{_address(destination, target)}: {exc.reason}")
    except AssociationRejectedError as exc:
        # The peer's reason (e.g. "called AE title not recognized") is what the user needs to fix it.
        return EchoResult(False, f"{_address(destination, target)}: {_reason(exc, destination)}")
    except DestinationUnavailableError as exc:
        return EchoResult(False, f"{_address(destination, target)}: no association ({_reason(exc, destination)})")


def _reason(exc: Exception, destination: DestinationAeTitle) -> str:
    """The SCU's message without the AE title `_address` already names."""
    return str(exc).removeprefix(f"{destination.ae_title}: ")
