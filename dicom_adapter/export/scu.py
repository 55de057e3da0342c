"""An asyncio C-STORE SCU association: connect, negotiate, send data sets raw, release.

Native asyncio rather than pynetdicom behind threads: pynetdicom spends 4.7-7.7 ms of CPU per
instance as a sender and writes command and data in separate small segments (performance-notes.md);
here each PDU goes out whole with TCP_NODELAY on, fragments are memoryviews of the file bytes, and
the per-instance work is a few struct packs. Over DICOM TLS when the peer's `tls` says so (transport.py).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass

import structlog

from dicom_adapter.export import pdu
from dicom_adapter.export.dimse import command_us, decode_command, encode_c_store_rq
from dicom_adapter.export.errors import DestinationTlsError, DestinationUnavailableError
from dicom_adapter.export.pdu import AssociateAccept, ProposedContext
from dicom_adapter.export.transport import TlsTarget, tls_reason
from dicom_adapter.upper_layer import PDU_HEADER, PduType

log = structlog.get_logger()

_COMMAND_LAST = 0x03  # PDV control header: command fragment, last (PS3.8 §E.2)
_DATA = 0x00
_DATA_LAST = 0x02
_STATUS = 0x0900
_MESSAGE_ID_RESPONDED = 0x0120
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
        self._fragment = accept.max_pdu_length - 6 if accept.max_pdu_length > 6 else _DEFAULT_FRAGMENT

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
        writer.write(pdu.encode_associate_rq(peer.calling_ae_title, peer.called_ae_title, contexts, max_pdu_length))
        try:
            pdu_type, body = await asyncio.wait_for(_read_pdu(reader), timeout=timeouts.acse)
        except ssl.SSLError as exc:
            # TLS 1.3: a refused client certificate shows as an alert after the handshake, here.
            writer.close()
            raise _tls_failed(peer, tls_reason(exc)) from exc
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            writer.close()
            raise DestinationUnavailableError(f"{peer.called_ae_title}: no association response: {exc!r}") from exc
        if pdu_type == PduType.A_ASSOCIATE_AC:
            return cls(reader, writer, pdu.decode_associate_ac(body), timeouts)
        writer.close()
        if pdu_type == PduType.A_ASSOCIATE_RJ:
            raise DestinationUnavailableError(f"{peer.called_ae_title}: {pdu.describe_associate_rj(body)}")
        raise DestinationUnavailableError(f"{peer.called_ae_title}: unexpected PDU 0x{pdu_type:02X} during association")

    async def store(self, context_id: int, sop_class_uid: str, sop_instance_uid: str, dataset: bytes) -> int:
        """Send one C-STORE-RQ with `dataset` (already in the context's syntax); return the response status."""
        await self.send(context_id, sop_class_uid, sop_instance_uid, dataset)
        return await self.response()

    async def send(self, context_id: int, sop_class_uid: str, sop_instance_uid: str, dataset: bytes) -> None:
        """Write a C-STORE-RQ and its data set; the caller may prepare the next file before `response()`."""
        self._message_id = (self._message_id % 0xFFFF) + 1
        command = encode_c_store_rq(self._message_id, sop_class_uid, sop_instance_uid)
        parts: list[bytes | memoryview] = [pdu.pdv_header(len(command), context_id, _COMMAND_LAST), command]
        view = memoryview(dataset)
        step = self._fragment
        for start in range(0, len(view), step):
            chunk = view[start : start + step]
            last = start + step >= len(view)
            parts += (pdu.pdv_header(len(chunk), context_id, _DATA_LAST if last else _DATA), chunk)
        # One write per message: one copy and a few send() calls instead of one per PDU (the data set is
        # already in memory, so joining costs a memcpy).
        self._writer.write(b"".join(parts))
        try:
            await self._writer.drain()
        except OSError as exc:
            self.abort()
            raise DestinationUnavailableError(f"association lost while storing: {exc!r}") from exc

    async def response(self) -> int:
        """The status of the C-STORE-RSP to the last `send()`."""
        try:
            return await asyncio.wait_for(self._read_response(), timeout=self._timeouts.dimse)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self.abort()
            raise DestinationUnavailableError(f"association lost while storing: {exc!r}") from exc

    async def _read_response(self) -> int:
        command = b""
        while True:
            pdu_type, body = await _read_pdu(self._reader)
            if pdu_type == PduType.A_ABORT:
                raise DestinationUnavailableError("the destination aborted the association")
            if pdu_type != PduType.P_DATA_TF:
                raise DestinationUnavailableError(f"unexpected PDU 0x{pdu_type:02X} while waiting for C-STORE-RSP")
            for _ctx, control, fragment in pdu.iter_pdvs(body):
                command += fragment
                if control & 0x01 and control & 0x02:  # command, last fragment
                    return self._status_of(decode_command(command))

    def _status_of(self, command: dict[int, bytes]) -> int:
        status = command_us(command, _STATUS)
        if status is None:
            raise DestinationUnavailableError("C-STORE-RSP without a status")
        responded = command_us(command, _MESSAGE_ID_RESPONDED)
        if responded not in (None, self._message_id):
            raise DestinationUnavailableError(f"C-STORE-RSP for message {responded}, expected {self._message_id}")
        return status

    async def release(self) -> None:
        """A-RELEASE-RQ and wait for the RP; a peer that just closes is fine too (everything was answered)."""
        try:
            self._writer.write(pdu.encode_release_rq())
            await self._writer.drain()
            pdu_type, _ = await asyncio.wait_for(_read_pdu(self._reader), timeout=self._timeouts.acse)
            if pdu_type != PduType.A_RELEASE_RP:
                log.warning("export.scu.release.unexpected_pdu", pdu_type=pdu_type)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.info("export.scu.release.closed_early", error=repr(exc))
        finally:
            await self._close()

    def abort(self) -> None:
        if not self._writer.is_closing():
            try:
                self._writer.write(pdu.encode_abort())
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


def _tls_failed(peer: Peer, reason: str) -> DestinationTlsError:
    log.warning("export.scu.tls.failed", host=peer.host, port=peer.port, called_ae_title=peer.called_ae_title,
                server_name=peer.tls.server_hostname if peer.tls else None, reason=reason)
    return DestinationTlsError(f"DICOM TLS to {peer.host}:{peer.port} failed: {reason}")


async def _read_pdu(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(6)
    pdu_type, length = PDU_HEADER.unpack(header)
    return pdu_type, await reader.readexactly(length)
