"""A hand-rolled SCU for tests that need to misbehave: partial data sets, garbage, silence. Its PDUs and
command sets come from the adapter's own DICOM layer (dicom_adapter.dicom), the one both roles use."""

from __future__ import annotations

import asyncio

from dicom_adapter.dicom import pdu
from dicom_adapter.dicom.acse import AssociateRequest, encode_associate_rq
from dicom_adapter.dicom.contexts import ProposedContext
from dicom_adapter.dicom.dimse import STATUS, command_elements, encode_c_echo_rq, encode_c_store_rq
from dicom_adapter.dicom.pdu import encode_p_data, encode_release_rq, iter_pdvs
from dicom_adapter.dicom.uids import APPLICATION_CONTEXT

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"


def associate_rq(
    called: str,
    calling: str,
    contexts: list[tuple[int, str, list[str]]],
    max_pdu: int = 16384,
    version: int = 1,
    application_context: str = APPLICATION_CONTEXT,
) -> bytes:
    request = AssociateRequest(
        maximum_length=max_pdu,
        implementation_class_uid="1.2.3.4",
        protocol_version=version,
        called_ae_title=called,
        calling_ae_title=calling,
        application_context=application_context,
        contexts=[ProposedContext(number, abstract, tuple(syntaxes)) for number, abstract, syntaxes in contexts],
    )
    return encode_associate_rq(request)


def c_store_rq(message_id: int, sop_class: str, sop_instance: str) -> bytes:
    return encode_c_store_rq(message_id, sop_class, sop_instance)


def c_echo_rq(message_id: int) -> bytes:
    return encode_c_echo_rq(message_id)


def p_data(context_id: int, data: bytes, command: bool, last: bool) -> bytes:
    return encode_p_data(context_id, data, command=command, last=last)


def response_status(pdu_body: bytes) -> int:
    """Status (0000,0900) from the body of a P-DATA-TF holding one command PDV."""
    [(_context, _control, command)] = iter_pdvs(pdu_body)
    status = command_elements(command).get(STATUS)
    assert status is not None, "no status in response"
    return int.from_bytes(status, "little")


async def read_pdu(reader: asyncio.StreamReader, timeout: float = 10.0) -> tuple[int, bytes]:
    async with asyncio.timeout(timeout):
        return await pdu.read_pdu(reader)


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
    writer.write(encode_release_rq())
    pdu_type, _ = await read_pdu(reader)
    assert pdu_type == 6
    writer.close()
