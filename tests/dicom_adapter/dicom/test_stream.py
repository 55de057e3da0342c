"""PduStream: the same fragments and PDUs whatever the chunk boundaries; malformed PDUs refused."""

from __future__ import annotations

import struct

import pytest

from dicom_adapter.dicom.errors import PduTooLargeError, ProtocolError
from dicom_adapter.dicom.stream import Fragment, OtherPdu, PduStream


def pdv(context_id: int, control: int, value: bytes) -> bytes:
    return struct.pack(">IBB", len(value) + 2, context_id, control) + value


def pdu(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BxI", pdu_type, len(body)) + body


COMMAND, DATA, LAST = 0x01, 0x00, 0x02
WIRE = b"".join(
    [
        pdu(0x04, pdv(1, COMMAND | LAST, b"C" * 90)),
        pdu(0x04, pdv(1, DATA, b"a" * 1000)),
        pdu(0x04, b""),  # an empty P-DATA-TF
        pdu(0x04, pdv(1, DATA, b"b" * 10) + pdv(1, DATA, b"c" * 20)),  # two PDVs in one PDU
        pdu(0x04, pdv(1, DATA | LAST, b"")),  # an empty last fragment
        pdu(0x04, pdv(3, COMMAND, b"x" * 4) + pdv(3, COMMAND | LAST, b"y" * 6)),
        pdu(0x05, bytes(4)),  # A-RELEASE-RQ
    ]
)


def split(wire: bytes, size: int) -> list[tuple[object, ...]]:
    """Feed `wire` in chunks of `size`; merge the pieces of each PDV back together."""
    stream, out, piece = PduStream(1 << 20), [], b""
    for start in range(0, len(wire), size):
        for item in stream.feed(wire[start : start + size]):
            if isinstance(item, OtherPdu):
                out.append(("pdu", item.pdu_type, item.body))
                continue
            assert isinstance(item, Fragment)
            piece += bytes(item.data)
            if item.end:
                out.append(("pdv", item.context_id, item.command, piece, item.last))
                piece = b""
    assert stream.at_boundary
    return out


@pytest.mark.parametrize("size", [1, 5, 6, 7, 11, 1000, len(WIRE)])
def test_any_chunking_gives_the_same_fragments(size):
    assert split(WIRE, size) == [
        ("pdv", 1, True, b"C" * 90, True),
        ("pdv", 1, False, b"a" * 1000, False),
        ("pdv", 1, False, b"b" * 10, False),
        ("pdv", 1, False, b"c" * 20, False),
        ("pdv", 1, False, b"", True),
        ("pdv", 3, True, b"x" * 4, False),
        ("pdv", 3, True, b"y" * 6, True),
        ("pdu", 0x05, bytes(4)),
    ]


def test_a_data_value_comes_out_as_views_of_the_chunk_without_a_copy():
    chunk = pdu(0x04, pdv(1, DATA | LAST, b"z" * 5000))
    (fragment,) = PduStream(1 << 20).feed(chunk)
    assert isinstance(fragment, Fragment) and fragment.data.obj is chunk and fragment.last


@pytest.mark.parametrize(
    ("wire", "error", "message"),
    [
        (pdu(0x04, struct.pack(">IBB", 100, 1, 0)), ProtocolError, "PDV length 100 invalid"),  # beyond its PDU
        (pdu(0x04, struct.pack(">IBB", 1, 1, 0)), ProtocolError, "PDV length 1 invalid"),
        (pdu(0x04, b"\x00\x00\x00"), ProtocolError, "P-DATA-TF ends inside a PDV header"),
        (struct.pack(">BxI", 0x04, 2_000_000), PduTooLargeError, "P-DATA-TF of 2000000 bytes"),
        (pdu(0x01, b"rq"), ProtocolError, "unexpected A_ASSOCIATE_RQ on an established association"),
        (pdu(0x09, b""), ProtocolError, "unrecognized PDU type 0x09 on an established association"),
    ],
)
def test_malformed_pdus_are_refused_with_a_reason(wire, error, message):
    with pytest.raises(error, match=message):
        list(PduStream(1 << 20).feed(wire))


def test_a_bodiless_abort_is_reported_at_once():
    assert list(PduStream(1 << 20).feed(struct.pack(">BxI", 0x07, 0))) == [OtherPdu(0x07, b"")]
