"""`PduStream`: the bytes of an established association, split into PDV fragments and other PDUs.

Why a splitter over whole reads: storescu sends 16 KB P-DATA-TF PDUs, so a CT instance is ~32 PDUs.
Reading each PDU header, PDV header and PDV body with its own `await` cost three coroutine round
trips per 16 KB, most of the Python time of the receive path. Here the association reads whatever
the socket has (up to 1 MB, one `await`) and `feed()` walks it synchronously; PDV bodies come out as
`memoryview`s of the chunk read (no copy). Headers cut by a chunk boundary are kept (at most 6 bytes)
and completed from the next chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dicom_adapter.dicom.errors import PduTooLargeError, ProtocolError
from dicom_adapter.dicom.pdu import COMMAND, LAST, PDU_HEADER, PDV_HEADER, PduType, unexpected_pdu
from dicom_adapter.dicom.status import AbortReason

_MAX_OTHER_PDU = 1 << 16  # A-RELEASE-RQ and A-ABORT bodies are 4 bytes; anything else here is refused


@dataclass(slots=True)
class Fragment:
    """A piece of one PDV's value: all of it, or what one chunk held. `end` marks the PDV's last
    piece; `last` is the PDV's "last fragment of the message" bit, set only on its last piece.

    Not frozen: one is made per PDV (32 per CT instance from storescu), and a frozen dataclass's
    `__init__` sets each field through `object.__setattr__` (about 2x the cost of a plain one)."""

    context_id: int
    command: bool
    data: memoryview
    end: bool
    last: bool


@dataclass(frozen=True, slots=True)
class OtherPdu:
    """A PDU other than P-DATA-TF, whole (type checked by the association)."""

    pdu_type: int
    body: bytes


class PduStream:
    """Stateful splitter; `at_boundary` is True between PDUs (nothing half received)."""

    def __init__(self, max_pdu_length: int) -> None:
        self._max_pdu_length = max_pdu_length
        self._pending = bytearray()  # a header (or a small PDU body) cut by the end of a chunk
        self._pdu_type = -1  # the PDU being read; -1 = expecting a PDU header
        self._pdu_left = 0  # bytes of the current PDU not yet consumed
        self._pdv_left = 0  # bytes of the current PDV value not yet consumed (0 = expecting a PDV header)
        self._pdv_context = 0
        self._pdv_command = False
        self._pdv_last = False

    @property
    def at_boundary(self) -> bool:
        return self._pdu_type == -1 and not self._pending

    def feed(self, chunk: bytes) -> Iterator[Fragment | OtherPdu]:
        """The fragments and PDUs that `chunk` completes, in order. Raises ProtocolError."""
        view = memoryview(chunk)
        pos, end = 0, len(chunk)
        while pos < end:
            if self._pdu_type == -1:
                pos, header = self._take(view, pos, PDU_HEADER.size)
                if header is not None:
                    other = self._start_pdu(*PDU_HEADER.unpack(header))
                    if other is not None:
                        yield other
            elif self._pdu_type != PduType.P_DATA_TF:
                pos, body = self._take(view, pos, self._pdu_left)
                if body is not None:
                    pdu_type, self._pdu_type = self._pdu_type, -1
                    yield OtherPdu(pdu_type, body)
            elif self._pdv_left == 0:
                if self._pdu_left < PDV_HEADER.size:
                    raise ProtocolError("P-DATA-TF ends inside a PDV header", AbortReason.INVALID_PDU_PARAMETER_VALUE)
                pos, header = self._take(view, pos, PDV_HEADER.size)
                if header is not None and self._start_pdv(*PDV_HEADER.unpack(header)):
                    yield self._piece(view[pos:pos])  # an empty PDV value: nothing to wait for
            else:
                size = min(self._pdv_left, end - pos)
                piece = view[pos : pos + size]
                pos += size
                self._pdv_left -= size
                self._pdu_left -= size
                yield self._piece(piece)

    def _piece(self, piece: memoryview) -> Fragment:
        done = self._pdv_left == 0
        if done and self._pdu_left == 0:
            self._pdu_type = -1
        return Fragment(self._pdv_context, self._pdv_command, piece, done, done and self._pdv_last)

    def _take(self, view: memoryview, pos: int, size: int) -> tuple[int, bytes | None]:
        """`size` bytes starting with what is pending; None (and kept pending) when the chunk ends first."""
        need = size - len(self._pending)
        if not self._pending and len(view) - pos >= size:
            return pos + size, bytes(view[pos : pos + size])
        self._pending += view[pos : pos + need]
        pos = min(len(view), pos + need)
        if len(self._pending) < size:
            return pos, None
        data, self._pending = bytes(self._pending), bytearray()
        return pos, data

    def _start_pdu(self, pdu_type: int, length: int) -> OtherPdu | None:
        """Begin a PDU; a bodiless one other than P-DATA-TF is returned at once."""
        if pdu_type == PduType.P_DATA_TF:
            if length > self._max_pdu_length:
                raise PduTooLargeError(f"P-DATA-TF of {length} bytes", AbortReason.INVALID_PDU_PARAMETER_VALUE)
        elif pdu_type in (PduType.A_RELEASE_RQ, PduType.A_ABORT):
            if length > _MAX_OTHER_PDU:
                raise ProtocolError(f"PDU of {length} bytes", AbortReason.INVALID_PDU_PARAMETER_VALUE)
            if length == 0:
                return OtherPdu(pdu_type, b"")
        else:
            raise unexpected_pdu(pdu_type, "on an established association")
        if length:  # an empty P-DATA-TF carries nothing: stay at the boundary
            self._pdu_type, self._pdu_left = pdu_type, length
        return None

    def _start_pdv(self, item_length: int, context_id: int, control: int) -> bool:
        """Begin a PDV; True when its value is empty."""
        if item_length < 2 or item_length + 4 > self._pdu_left:
            raise ProtocolError(f"PDV length {item_length} invalid", AbortReason.INVALID_PDU_PARAMETER_VALUE)
        self._pdu_left -= PDV_HEADER.size
        self._pdv_left = item_length - 2
        self._pdv_context, self._pdv_command, self._pdv_last = context_id, bool(control & COMMAND), bool(control & LAST)
        return self._pdv_left == 0
