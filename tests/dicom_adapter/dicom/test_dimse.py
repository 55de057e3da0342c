from __future__ import annotations

from io import BytesIO

import pytest
from pydicom.dataset import Dataset
from pynetdicom.dsutils import decode

from dicom_adapter.dicom.dimse import CommandField, decode_command, encode_response
from dicom_adapter.dicom.errors import ProtocolError
from tests.dicom_adapter.scp import rawclient as raw


def test_decode_c_store_rq():
    command = decode_command(raw.c_store_rq(7, raw.CT_IMAGE_STORAGE, "1.2.3"))
    assert command.command_field == CommandField.C_STORE_RQ
    assert command.message_id == 7
    assert command.affected_sop_class_uid == raw.CT_IMAGE_STORAGE
    assert command.affected_sop_instance_uid == "1.2.3"
    assert command.has_data_set


def test_decode_c_echo_rq_has_no_data_set():
    command = decode_command(raw.c_echo_rq(3))
    assert command.command_field == CommandField.C_ECHO_RQ
    assert not command.has_data_set


def test_decode_command_without_message_id_is_a_protocol_error():
    command_field = b"\x00\x00\x00\x01\x02\x00\x00\x00\x01\x00"
    with pytest.raises(ProtocolError, match="Message ID"):
        decode_command(command_field)


def test_decode_command_cut_inside_an_element_header_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="inside an element header"):
        decode_command(raw.c_store_rq(7, raw.CT_IMAGE_STORAGE, "1.2.3") + b"\x00\x00")


def test_decode_command_with_an_element_overrunning_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="overruns"):
        decode_command(b"\x00\x00\x00\x01\xff\x00\x00\x00")


def test_c_store_rsp_decodes_with_pydicom():
    request = decode_command(raw.c_store_rq(7, raw.CT_IMAGE_STORAGE, "1.2.3"))
    ds: Dataset = decode(BytesIO(encode_response(request, 0xA700, "disk full")), True, True)
    assert ds.CommandField == 0x8001
    assert ds.MessageIDBeingRespondedTo == 7
    assert ds.Status == 0xA700
    assert ds.ErrorComment == "disk full"
    assert ds.AffectedSOPInstanceUID == "1.2.3"
    assert ds.CommandDataSetType == 0x0101
    assert ds.CommandGroupLength == len(encode_response(request, 0xA700, "disk full")) - 12


def test_c_echo_rsp():
    ds = decode(BytesIO(encode_response(decode_command(raw.c_echo_rq(1)), 0)), True, True)
    assert ds.CommandField == 0x8030 and ds.Status == 0
