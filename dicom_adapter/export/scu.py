"""An asyncio SCU association: connect, negotiate, send data sets raw (C-STORE) or C-ECHO, release.

Native asyncio rather than pynetdicom behind threads: pynetdicom spends 4.7-7.7 ms of CPU per
instance as a sender and writes command and data in separate small segments (performance-notes.md);
here each PDU goes out whole with TCP_NODELAY on, fragments are memoryviews of the file bytes, and
the per-instance work is a few struct packs. Over DICOM TLS when the peer's `tls` says so (transport.py).
PDUs and command sets are encoded and decoded by the DICOM layer (dicom_adapter.dicom); its
ProtocolError becomes DestinationUnavailableError here: that association is unusable, a later one may work.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass

import structlog

from dicom_adapter.dicom.acse import AssociateAccept, AssociateRequest, decode_associate_ac, encode_associate_rq
from dicom_adapter.dicom.contexts import ProposedContext
from dicom_adapter.dicom.dimse import Command, decode_command, encode_c_echo_rq, encode_c_store_rq
from dicom_adapter.dicom.errors import ProtocolError
from dicom_adapter.dicom.pdu import (
    COMMAND,
    LAST,
    PduType,
    decode_associate_rj,
    encode_abort,
    encode_release_rq,
    iter_pdvs,
    pdv_header,
    read_pdu,
)
from dicom_adapter.dicom.status import AbortSource, describe_rejection
from dicom_adapter.dicom.uids import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dicom_adapter.export.errors import AssociationRejectedError, DestinationTlsError, DestinationUnavailableError
from dicom_adapter.export.transport import TlsTarget, tls_reason

log = structlog.get_logger()

_DEFAULT_FRAGMENT = 1 << 20  # peer said "unlimited": still bound each PDU to 1 MiB


@dataclass(frozen=True)
class Peer:
    """Where and to whom we open the association."""

    host: str
    port: int
    called_ae_title: str
    calling_ae_title: str
    tls: TlsTarget | None = None  # None: plain TCP


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    acse: float = 30.0
    dimse: float = 60.0


class StoreAssociation:
    """One open association; use `open()`, then `store()` per file, then `release()` (or `abort()`)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: AssociateAccept, timeouts: Timeouts
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.accept = accept
        self._timeouts = timeouts
        self._message_id = 0
        self._fragment = accept.maximum_length - 6 if accept.maximum_length > 6 else _DEFAULT_FRAGMENT

    @classmethod
    async def open(
        cls, peer: Peer, contexts: list[ProposedContext], max_pdu_length: int, timeouts: Timeouts
    ) -> StoreAssociation:
        """Connect (over TLS if `peer.tls`) and negotiate; DestinationUnavailableError when the peer cannot be
        reached or rejects us, DestinationTlsError when the TLS session cannot be set up."""
        try:
            reader, writer = await asyncio.wait_for(_connect(peer), timeout=timeouts.connect)
        except ssl.SSLError as exc:
            raise _tls_failed(peer, tls_reason(exc)) from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            if peer.tls is None:
                raise DestinationUnavailableError(f"cannot connect to {peer.host}:{peer.port}: {exc}") from exc
            # Refused before any alert: e.g. a peer that wants a client certificate and drops the handshake.
            raise _tls_failed(peer, f"the destination closed the TLS handshake ({exc})") from exc
        except (OSError, TimeoutError) as exc:
            raise DestinationUnavailableError(f"cannot connect to {peer.host}:{peer.port}: {exc or 'timeout'}") from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(encode_associate_rq(_request(peer, contexts, max_pdu_length)))
        pdu_type, body = await _association_response(reader, writer, peer, timeouts)
        if pdu_type == PduType.A_ASSOCIATE_AC:
            try:
                return cls(reader, writer, decode_associate_ac(body), timeouts)
            except ProtocolError as exc:
                writer.close()
                raise DestinationUnavailableError(str(exc)) from exc
        writer.close()
        if pdu_type == PduType.A_ASSOCIATE_RJ:
            raise AssociationRejectedError(f"{peer.called_ae_title}: {_rejection(body)}")
        raise DestinationUnavailableError(f"{peer.called_ae_title}: unexpected PDU 0x{pdu_type:02X} during association")

    async def store(self, context_id: int, sop_class_uid: str, sop_instance_uid: str, dataset: bytes) -> int:
        """Send one C-STORE-RQ with `dataset` (already in the context's syntax); return the response status."""
        await self.send(context_id, sop_class_uid, sop_instance_uid, dataset)
        return await self.response()

    async def send(self, context_id: int, sop_class_uid: str, sop_instance_uid: str, dataset: bytes) -> None:
        """Write a C-STORE-RQ and its data set; the caller may prepare the next file before `response()`."""
        self._message_id = (self._message_id % 0xFFFF) + 1
        command = encode_c_store_rq(self._message_id, sop_class_uid, sop_instance_uid)
        parts: list[bytes | memoryview] = [pdv_header(len(command), context_id, COMMAND | LAST), command]
        view = memoryview(dataset)
        step = self._fragment
        for start in range(0, len(view), step):
            chunk = view[start : start + step]
            last = start + step >= len(view)
            parts += (pdv_header(len(chunk), context_id, LAST if last else 0), chunk)
        # One write per message: one copy and a few send() calls instead of one per PDU (the data set is
        # already in memory, so joining costs a memcpy).
        self._writer.write(b"".join(parts))
        try:
            await self._writer.drain()
        except OSError as exc:
            self.abort()
            raise DestinationUnavailableError(f"association lost while storing: {exc!r}") from exc

    async def echo(self, context_id: int) -> int:
        """Send a C-ECHO-RQ on `context_id` (Verification accepted there); return the response status."""
        self._message_id = (self._message_id % 0xFFFF) + 1
        command = encode_c_echo_rq(self._message_id)
        self._writer.write(pdv_header(len(command), context_id, COMMAND | LAST) + command)
        return await self.response("C-ECHO-RSP")

    async def response(self, expected: str = "C-STORE-RSP") -> int:
        """The status of the response (`expected`, for messages) to the last request sent."""
        try:
            return await asyncio.wait_for(self._read_response(expected), timeout=self._timeouts.dimse)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self.abort()
            raise DestinationUnavailableError(f"association lost while storing: {exc!r}") from exc

    async def _read_response(self, expected: str) -> int:
        command = b""
        while True:
            pdu_type, body = await read_pdu(self._reader)
            if pdu_type == PduType.A_ABORT:
                raise DestinationUnavailableError("the destination aborted the association")
            if pdu_type != PduType.P_DATA_TF:
                raise DestinationUnavailableError(f"unexpected PDU 0x{pdu_type:02X} while waiting for {expected}")
            try:
                for _ctx, control, fragment in iter_pdvs(body):
                    command += fragment
                    if control & COMMAND and control & LAST:
                        return self._status_of(decode_command(command), expected)
            except ProtocolError as exc:
                raise DestinationUnavailableError(str(exc)) from exc

    def _status_of(self, command: Command, expected: str) -> int:
        if command.status is None:
            raise DestinationUnavailableError(f"{expected} without a status")
        responded = command.message_id_being_responded_to
        if responded not in (None, self._message_id):
            raise DestinationUnavailableError(f"{expected} for message {responded}, expected {self._message_id}")
        return command.status

    async def release(self) -> None:
        """A-RELEASE-RQ and wait for the RP; a peer that just closes is fine too (everything was answered)."""
        try:
            self._writer.write(encode_release_rq())
            await self._writer.drain()
            pdu_type, _ = await asyncio.wait_for(read_pdu(self._reader), timeout=self._timeouts.acse)
            if pdu_type != PduType.A_RELEASE_RP:
                log.warning("export.scu.release.unexpected_pdu", pdu_type=pdu_type)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.info("export.scu.release.closed_early", error=repr(exc))
        finally:
            await self._close()

    def abort(self) -> None:
        if not self._writer.is_closing():
            try:
                self._writer.write(encode_abort(AbortSource.SERVICE_USER))
            except OSError:
                pass
            self._writer.close()

    async def _close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass


async def _connect(peer: Peer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if peer.tls is None:
        return await asyncio.open_connection(peer.host, peer.port)
    return await asyncio.open_connection(
        peer.host, peer.port, ssl=peer.tls.context, server_hostname=peer.tls.server_hostname
    )



async def _association_response(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer,
                                 timeouts: Timeouts) -> tuple[int, bytes]:
    """The PDU that answers our A-ASSOCIATE-RQ; the connection closed and an export error when none comes."""
    try:
        pdu_type, body = await asyncio.wait_for(read_pdu(reader), timeout=timeouts.acse)
    except ssl.SSLError as exc:
        # TLS 1.3: a refused client certificate shows as an alert after the handshake, here.
        writer.close()
        raise _tls_failed(peer, tls_reason(exc)) from exc
    except ConnectionResetError as exc:
        writer.close()
        if peer.tls is None:
            raise DestinationUnavailableError(f"{peer.called_ae_title}: no association response: {exc!r}") from exc
        # TLS 1.3 checks our certificate after our side of the handshake: the refusal's alert races with our
        # A-ASSOCIATE-RQ, and when the RQ reaches a closed socket the reset discards the alert unread.
        raise _tls_failed(peer, "the destination closed the TLS connection before answering: it probably requires "
                                "a client certificate (set certFile and keyFile) or does not trust ours") from exc
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        writer.close()
        raise DestinationUnavailableError(f"{peer.called_ae_title}: no association response: {exc!r}") from exc
    return pdu_type, body

def _tls_failed(peer: Peer, reason: str) -> DestinationTlsError:
    log.warning("export.scu.tls.failed", host=peer.host, port=peer.port, called_ae_title=peer.called_ae_title,
                server_name=peer.tls.server_hostname if peer.tls else None, reason=reason)
    return DestinationTlsError(f"DICOM TLS to {peer.host}:{peer.port} failed: {reason}", reason)


def _request(peer: Peer, contexts: list[ProposedContext], max_pdu_length: int) -> AssociateRequest:
    return AssociateRequest(
        maximum_length=max_pdu_length,
        implementation_class_uid=IMPLEMENTATION_CLASS_UID,
        implementation_version_name=IMPLEMENTATION_VERSION_NAME,
        called_ae_title=peer.called_ae_title,
        calling_ae_title=peer.calling_ae_title,
        contexts=contexts,
    )


def _rejection(body: bytes) -> str:
    fields = decode_associate_rj(body)
    return "association rejected (malformed A-ASSOCIATE-RJ)" if fields is None else describe_rejection(*fields)
