"""One DICOM association over one TCP connection: negotiation, then P-DATA until release or abort.

Reading is a plain coroutine over an `asyncio.StreamReader`: negotiation reads its PDU, then each read
takes whatever has arrived (up to 1 MB) and `stream.PduStream` splits it into PDV fragments, which
go straight to an `InstanceReceiver` as views of that chunk (nothing larger than a chunk is held). Timeouts:
association_request_timeout (ARTIM, at most acse_timeout) until the A-ASSOCIATE-RQ, dimse_timeout while a
message is half received, network_timeout while idle. Any protocol violation ends the association with an
A-ABORT. Until its A-ASSOCIATE-RQ arrives, and once rejected, a connection is pending (`connections.py`):
`evict()` closes it when newer connections need its place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from dicom_adapter.dicom.acse import AssociateRequest, UserInformation, decode_associate_rq, encode_associate_ac
from dicom_adapter.dicom.contexts import AcceptedContext
from dicom_adapter.dicom.dimse import Command, CommandField, decode_command, encode_response
from dicom_adapter.dicom.errors import PduTooLargeError, ProtocolError
from dicom_adapter.dicom.pdu import (
    PDU_HEADER,
    PduType,
    encode_abort,
    encode_associate_rj,
    encode_p_data,
    encode_release_rp,
    unexpected_pdu,
)
from dicom_adapter.dicom.status import AbortReason, Status
from dicom_adapter.dicom.stream import Fragment, PduStream
from dicom_adapter.scp.connections import EVICTED
from dicom_adapter.scp.negotiation import Acceptance, Rejection, negotiate
from dicom_adapter.scp.ports import AssociationRecord
from dicom_adapter.scp.status import StoreFailure, store_status
from dicom_adapter.scp.storing import Origin, Storing, refuse_operation

if TYPE_CHECKING:
    from dicom_adapter.scp.runtime import ScpRuntime

log = structlog.get_logger()

_MAX_RQ = 1 << 20  # an A-ASSOCIATE-RQ with thousands of contexts is still far below this
_MAX_COMMAND = 1 << 16  # a command set is a few hundred bytes
_CHUNK = 1 << 19  # largest single read of data set bytes (see _READ_LIMIT in server.py)
_LINGER = 2.0  # after RJ / RELEASE-RP, wait this long for the peer to close first (PS3.8 7.1.3)


def new_association_id() -> str:
    """Sortable by start time (the spool replays oldest first), unique across restarts."""
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}-{uuid.uuid4().hex[:8]}"


@dataclass
class _Counters:
    instances: int = 0
    bytes: int = 0
    failures: int = 0
    ignored: int = 0
    echoes: int = 0


class Association:
    """Serves one connection; `run()` returns (and reports to the sink) its `AssociationRecord`."""

    def __init__(self, runtime: ScpRuntime, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.association_id = new_association_id()
        self._runtime = runtime
        self._reader = reader
        self._writer = writer
        peer = writer.get_extra_info("peername") or ("", 0)
        self.host, self.port = str(peer[0]), int(peer[1])
        self._started_at = time.time()
        self._request: AssociateRequest | None = None
        self._contexts: dict[int, AcceptedContext] = {}
        self._command = bytearray()
        self._storing: Storing | None = None
        self._origin: Origin | None = None
        self._counters = _Counters()
        self._evicted: str | None = None  # the outcome evict() was given
        self._evictable: asyncio.Timeout | None = None  # the wait that evict() cuts short, while pending
        self._log = log.bind(association_id=self.association_id, host=self.host)
        # Per-instance DEBUG events cost ~0.04 ms each through structlog even when filtered out later.
        self._debug = logging.getLogger(__name__).isEnabledFor(logging.DEBUG)

    @property
    def receiving(self) -> tuple[str, float] | None:
        """(called AE title, monotonic start) of the instance being received now, if one is."""
        storing = self._storing
        called = storing.called_ae_title if storing is not None else None
        return (called, storing.started) if storing is not None and called is not None else None

    async def run(self) -> AssociationRecord:
        outcome = "error: internal"
        try:
            outcome = await self._run_mapped()
        except asyncio.CancelledError:
            self._abort(AbortReason.NOT_SPECIFIED)
            outcome = "aborted: server stopping"
            raise
        finally:
            if self._storing is not None:
                self._storing.discard()
            record = self._record(outcome)
            self._runtime.report_association(record)
            self._writer.close()
        return record

    async def _run_mapped(self) -> str:
        """Run, mapping every way an association can fail to an outcome (the one boundary here)."""
        try:
            return await self._run()
        except ProtocolError as exc:
            self._log.warning("scp.association.aborted", reason=str(exc), by="scp")
            self._abort(exc.reason)
            return f"error: {exc}"
        except TimeoutError:
            self._abort(AbortReason.NOT_SPECIFIED)
            if self._evicted is not None:
                return self._evicted
            self._log.warning("scp.association.aborted", reason="timeout", by="scp")
            return "error: timeout"
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self._log.info("scp.association.aborted", reason="connection lost", by="peer", error=str(exc))
            return "aborted: connection lost"
        except Exception as exc:
            self._log.exception("scp.association.failed")
            self._abort(AbortReason.NOT_SPECIFIED)
            return f"error: {type(exc).__name__}"

    async def _run(self) -> str:
        self._request = request = await self._receive_request()
        decision = negotiate(
            request,
            self.host,
            self._runtime.registry,
            self._runtime.settings,
            self._runtime.disk,
            self._runtime.active_associations() - 1,
        )
        if isinstance(decision, Rejection):
            return await self._reject(decision)
        self._accept(decision)
        return await self._serve()

    def evict(self, outcome: str) -> None:
        """Close this pending connection: newer ones need its place (`Connections.opened`), or the SCP
        stops. Cuts short the wait for its A-ASSOCIATE-RQ, or its linger after a rejection."""
        self._evicted = outcome
        if outcome == EVICTED:
            self._log.info("scp.connection.evicted", max_pending_connections=self._runtime.connections.max_pending)
        if self._evictable is not None and not self._evictable.expired():  # expired: it is ending anyway
            self._evictable.reschedule(asyncio.get_running_loop().time())

    async def _receive_request(self) -> AssociateRequest:
        settings = self._runtime.settings
        timeout = 0 if self._evicted is not None else min(settings.association_request_timeout, settings.acse_timeout)
        try:
            async with asyncio.timeout(timeout) as self._evictable:
                pdu_type, length = PDU_HEADER.unpack(await self._reader.readexactly(6))
                if pdu_type != PduType.A_ASSOCIATE_RQ:
                    raise unexpected_pdu(pdu_type, "before A-ASSOCIATE-RQ")
                if length > _MAX_RQ:
                    raise PduTooLargeError(f"A-ASSOCIATE-RQ of {length} bytes", AbortReason.INVALID_PDU_PARAMETER_VALUE)
                request = decode_associate_rq(await self._reader.readexactly(length))
        finally:
            self._evictable = None
        # No await since the last read: evict() cannot come between it and this.
        self._runtime.connections.associating(self)
        return request

    async def _reject(self, rejection: Rejection) -> str:
        self._write(encode_associate_rj(rejection.result, rejection.source, rejection.reason))
        # Rejected: no association slot while it lingers, but a pending one (evictable like the others).
        evicted = self._runtime.connections.rejected(self)
        if evicted is not None:
            evicted.evict(EVICTED)
        self._log.warning(
            "scp.association.rejected",
            reason=rejection.text,
            result=rejection.result.name.lower(),
            calling_ae_title=self._calling,
            called_ae_title=self._called,
        )
        await self._linger()
        return f"rejected: {rejection.text}"

    def _accept(self, acceptance: Acceptance) -> None:
        settings = self._runtime.settings
        assert self._request is not None
        self._contexts = acceptance.accepted()
        self._origin = Origin.create(
            self._runtime, acceptance.clara_ae_title, self.association_id, self._calling, self.host, self.port
        )
        self._write(
            encode_associate_ac(
                self._request,
                acceptance.contexts,
                UserInformation(
                    settings.max_pdu_length, settings.implementation_class_uid, settings.implementation_version_name
                ),
            )
        )
        self._log = self._log.bind(calling_ae_title=self._calling, called_ae_title=acceptance.clara_ae_title.ae_title)
        self._log.info("scp.association.accepted", contexts=len(self._contexts), proposed=len(acceptance.contexts))

    async def _serve(self) -> str:
        loop = asyncio.get_running_loop()
        settings = self._runtime.settings
        stream = PduStream(settings.max_pdu_length)
        read = self._reader.read
        async with asyncio.timeout(None) as deadline:
            while True:
                idle = self._storing is None and not self._command and stream.at_boundary
                deadline.reschedule(loop.time() + (settings.network_timeout if idle else settings.dimse_timeout))
                chunk = await read(_CHUNK)  # whatever has arrived, up to 1 MB: one await for many PDUs
                if not chunk:
                    raise ConnectionResetError("connection closed by the peer")
                for item in stream.feed(chunk):
                    if isinstance(item, Fragment):
                        storing = self._storing
                        # Most fragments are the middle of a data set: written at once, without a coroutine
                        # (~1 us each, 32 per CT instance); commands, last fragments and errors go the long way.
                        if (
                            storing is not None
                            and not (item.command or item.last)
                            and item.context_id == storing.context_id
                        ):
                            storing.write(item.data)
                            if storing.backlogged:
                                deadline.reschedule(None)  # our disk's time, not the peer's (the loop resets it)
                                await storing.drain()
                        else:
                            await self._fragment(item, deadline)
                    elif item.pdu_type == PduType.A_RELEASE_RQ:
                        return await self._release()
                    else:  # A-ABORT (the stream lets no other PDU through)
                        self._log.info("scp.association.aborted", reason="A-ABORT", by="peer")
                        return "aborted"

    async def _release(self) -> str:
        self._write(encode_release_rp())
        counters = self._counters
        self._log.info(
            "scp.association.released",
            instances=counters.instances,
            bytes=counters.bytes,
            failures=counters.failures,
            seconds=round(time.time() - self._started_at, 3),
        )
        await self._linger()
        return "released"

    async def _fragment(self, fragment: Fragment, deadline: asyncio.Timeout) -> None:
        if fragment.context_id not in self._contexts:
            raise ProtocolError(
                f"PDV on presentation context {fragment.context_id}, which was not accepted",
                AbortReason.INVALID_PDU_PARAMETER_VALUE,
            )
        if fragment.command:
            self._command_fragment(fragment)
            return
        storing = self._storing
        if storing is None or storing.context_id != fragment.context_id:
            raise ProtocolError("data set fragment without its C-STORE command", AbortReason.UNEXPECTED_PDU_PARAMETER)
        if fragment.data:
            storing.write(fragment.data)
            if storing.backlogged and not fragment.last:
                deadline.reschedule(None)  # our disk's time, not the peer's (the read loop resets it)
                await storing.drain()
        if fragment.last:
            deadline.reschedule(None)  # committing (fsync) is our time, not the peer's
            await self._finish(storing)  # still self._storing meanwhile: an abort discards its file
            self._storing = None

    def _command_fragment(self, fragment: Fragment) -> None:
        if self._storing is not None:
            raise ProtocolError("command fragment while a data set is incomplete", AbortReason.UNEXPECTED_PDU_PARAMETER)
        self._command += fragment.data
        if len(self._command) > _MAX_COMMAND:
            raise ProtocolError("command set too long", AbortReason.INVALID_PDU_PARAMETER_VALUE)
        if fragment.last:
            command = decode_command(bytes(self._command))
            self._command.clear()
            self._on_command(fragment.context_id, command)

    def _on_command(self, context_id: int, command: Command) -> None:
        if command.command_field == CommandField.C_ECHO_RQ and not command.has_data_set:
            self._counters.echoes += 1
            self._respond(context_id, command, Status.SUCCESS)
        elif command.command_field == CommandField.C_STORE_RQ and command.has_data_set:
            assert self._origin is not None
            self._storing = Storing.start(self._runtime, self._origin, self._contexts[context_id], command)
        elif command.has_data_set:
            self._storing = refuse_operation(context_id, command)
        else:
            self._respond(context_id, command, Status.UNRECOGNIZED_OPERATION, "operation not supported")

    async def _finish(self, storing: Storing) -> None:
        counters = self._counters
        try:
            instance = await storing.commit(inline=self._runtime.active_associations() <= 1)
        except StoreFailure as exc:
            self._fail(storing, store_status(exc), str(exc))
            return
        except Exception:
            # The one place an unforeseen error becomes a status: the association goes on.
            self._log.exception("scp.c_store.error")
            storing.discard()
            self._fail(storing, Status.PROCESSING_FAILURE, "internal error while storing")
            return
        # Durable now: answer first, so the sender reads its next file while we rename (no await
        # between the two, so nothing can abort in between).
        self._respond(storing.context_id, storing.command, Status.SUCCESS)
        if instance is None:
            counters.ignored += 1
            return
        counters.instances += 1
        counters.bytes += storing.size
        try:
            placed = storing.place()
        except OSError as exc:
            # Acknowledged and complete in .incoming/: the next start recovers it (spool.recover).
            self._log.error("scp.c_store.place_failed", error=exc.strerror, sop_class_uid=instance.sop_class_uid)
            return
        if placed is not None and placed != instance.path:  # a re-sent instance: a file of its own
            instance = dataclasses.replace(instance, path=placed)
        if self._debug:
            self._log.debug("scp.c_store.received", sop_class_uid=instance.sop_class_uid, size=instance.size)
        self._runtime.report_instance(instance)

    def _fail(self, storing: Storing, status: Status, comment: str) -> None:
        self._counters.failures += 1
        self._log.warning("scp.c_store.failed", status=f"0x{status:04X}", error=comment)
        self._respond(storing.context_id, storing.command, status, comment)

    def _respond(self, context_id: int, command: Command, status: int, comment: str = "") -> None:
        self._write(encode_p_data(context_id, encode_response(command, status, comment)))
        if command.command_field == CommandField.C_STORE_RQ:
            # A batch of spare files in a thread when due (below 64 left, or once quiet): spares.py.
            self._runtime.spool.spares.refill_soon()

    def _write(self, pdu: bytes) -> None:
        self._writer.write(pdu)

    def _abort(self, reason: int) -> None:
        if not self._writer.is_closing():
            self._writer.write(encode_abort(reason=reason))

    async def _linger(self) -> None:
        try:
            async with asyncio.timeout(0 if self._evicted is not None else _LINGER) as self._evictable:
                await self._reader.read(1)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            self._evictable = None

    @property
    def _calling(self) -> str:
        return self._request.calling_ae_title if self._request else ""

    @property
    def _called(self) -> str:
        return self._request.called_ae_title if self._request else ""

    def _record(self, outcome: str) -> AssociationRecord:
        counters = self._counters
        return AssociationRecord(
            association_id=self.association_id,
            calling_ae_title=self._calling,
            called_ae_title=self._called,
            host=self.host,
            port=self.port,
            started_at=self._started_at,
            ended_at=time.time(),
            instances=counters.instances,
            bytes=counters.bytes,
            outcome=outcome,
            failures=counters.failures,
            ignored=counters.ignored,
            echoes=counters.echoes,
        )
