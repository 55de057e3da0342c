"""A hand-rolled SCU for tests that need to misbehave: partial data sets, garbage, silence."""

from __future__ import annotations

import asyncio
import struct

from dicom_adapter.upper_layer import APPLICATION_CONTEXT, PDU_HEADER

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"


def _item(item_type: int, value: bytes) -> bytes:
    return struct.pack(">BxH", item_type, len(value)) + value


def _ae(title: str) -> bytes:
    return title.encode("ascii").ljust(16)


def associate_rq(
    called: str,
    calling: str,
    contexts: list[tuple[int, str, list[str]]],
    max_pdu: int = 16384,
    version: int = 1,
    application_context: str = APPLICATION_CONTEXT,
) -> bytes:
    body = struct.pack(">HH", version, 0) + _ae(called) + _ae(calling) + bytes(32)
    body += _item(0x10, application_context.encode())
    for context_id, abstract, transfers in contexts:
        sub = _item(0x30, abstract.encode()) + b"".join(_item(0x40, t.encode()) for t in transfers)
        body += _item(0x20, bytes((context_id, 0, 0, 0)) + sub)
    body += _item(0x50, _item(0x51, struct.pack(">I", max_pdu)) + _item(0x52, b"1.2.3.4"))
    return PDU_HEADER.pack(1, len(body)) + body


def _element(tag: int, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\0"
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def c_store_rq(message_id: int, sop_class: str, sop_instance: str) -> bytes:
    body = b"".join(
        (
            _element(0x00000002, sop_class.encode()),
            _element(0x00000100, struct.pack("<H", 0x0001)),
            _element(0x00000110, struct.pack("<H", message_id)),
            _element(0x00000700, struct.pack("<H", 0)),
            _element(0x00000800, struct.pack("<H", 0x0000)),
            _element(0x00001000, sop_instance.encode()),
        )
    )
    return _element(0x00000000, struct.pack("<I", len(body))) + body


def c_echo_rq(message_id: int) -> bytes:
    body = b"".join(
        (
            _element(0x00000002, b"1.2.840.10008.1.1"),
            _element(0x00000100, struct.pack("<H", 0x0030)),
            _element(0x00000110, struct.pack("<H", message_id)),
            _element(0x00000800, struct.pack("<H", 0x0101)),
        )
    )
    return _element(0x00000000, struct.pack("<I", len(body))) + body


def p_data(context_id: int, data: bytes, command: bool, last: bool) -> bytes:
    control = (0x01 if command else 0) | (0x02 if last else 0)
    pdv = struct.pack(">IBB", len(data) + 2, context_id, control) + data
    return PDU_HEADER.pack(4, len(pdv)) + pdv


def response_status(pdu_body: bytes) -> int:
    """Status (0000,0900) from the body of a P-DATA-TF holding one command PDV."""
    command = pdu_body[6:]
    offset = 0
    while offset + 8 <= len(command):
        group, element, length = struct.unpack_from("<HHI", command, offset)
        if (group, element) == (0, 0x0900):
            return int(struct.unpack_from("<H", command, offset + 8)[0])
        offset += 8 + length
    raise AssertionError("no status in response")


async def read_pdu(reader: asyncio.StreamReader, timeout: float = 10.0) -> tuple[int, bytes]:
    async with asyncio.timeout(timeout):
        pdu_type, length = PDU_HEADER.unpack(await reader.readexactly(6))
        return pdu_type, await reader.readexactly(length)


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def associate(port: int, called: str = "CLARA", calling: str = "STORESCU", transfer: str = EXPLICIT_VR_LE):
    """An established association with context 1 = CT Image Storage in `transfer`."""
    reader, writer = await connect(port)
    writer.write(
        associate_rq(called, calling, [(1, CT_IMAGE_STORAGE, [transfer]), (3, "1.2.840.10008.1.1", [IMPLICIT_VR_LE])])
    )
    pdu_type, body = await read_pdu(reader)
    assert pdu_type == 2, f"expected A-ASSOCIATE-AC, got PDU type {pdu_type}: {body!r}"
    return reader, writer


async def store(reader, writer, message_id: int, data: bytes, sop: str, pdv: int = 16000) -> int:
    """One C-STORE over the raw client, data set split into `pdv`-byte fragments; returns the status."""
    writer.write(p_data(1, c_store_rq(message_id, CT_IMAGE_STORAGE, sop), command=True, last=True))
    for start in range(0, max(len(data), 1), pdv):
        chunk = data[start : start + pdv]
        writer.write(p_data(1, chunk, command=False, last=start + pdv >= len(data)))
    pdu_type, body = await read_pdu(reader)
    assert pdu_type == 4, (pdu_type, body)
    return response_status(body)


async def release(reader, writer) -> None:
    writer.write(bytes((5, 0, 0, 0, 0, 4, 0, 0, 0, 0)))
    pdu_type, _ = await read_pdu(reader)
    assert pdu_type == 6
    writer.close()
