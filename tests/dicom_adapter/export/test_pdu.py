"""Our PDUs and DIMSE commands decode with pynetdicom; store status classes."""

from __future__ import annotations

from pynetdicom.pdu import A_ASSOCIATE_RQ, P_DATA_TF

from dicom_adapter.export import pdu
from dicom_adapter.export.dimse import StoreStatus, decode_command, encode_c_store_rq, is_accepted, is_warning


def test_associate_rq_decodes_with_pynetdicom():
    contexts = [pdu.ProposedContext(1, "1.2.840.10008.5.1.4.1.1.2", ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"))]
    encoded = pdu.encode_associate_rq("ClaraSCU", "ORTHANC", contexts, 0)
    decoded = A_ASSOCIATE_RQ()
    decoded.decode(encoded)
    assert decoded.calling_ae_title == "ClaraSCU"
    assert decoded.called_ae_title == "ORTHANC"
    [context] = decoded.presentation_context
    assert context.context_id == 1
    assert context.abstract_syntax == "1.2.840.10008.5.1.4.1.1.2"
    assert context.transfer_syntax == ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]


def test_pdv_header_and_command_decode_with_pynetdicom():
    command = encode_c_store_rq(7, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4")
    decoded = P_DATA_TF()
    decoded.decode(pdu.pdv_header(len(command), 3, 0x03) + command)
    [item] = decoded.presentation_data_value_items
    assert item.presentation_context_id == 3
    fields = decode_command(item.data[1:])
    assert fields[0x1000].rstrip(b"\x00") == b"1.2.3.4"
    assert int.from_bytes(fields[0x0110], "little") == 7


def test_store_status_classes():
    assert is_accepted(StoreStatus.SUCCESS) and not is_warning(StoreStatus.SUCCESS)
    assert is_accepted(StoreStatus.COERCION_OF_DATA_ELEMENTS) and is_warning(StoreStatus.ELEMENTS_DISCARDED)
    assert not is_accepted(StoreStatus.REFUSED_OUT_OF_RESOURCES)
    assert not is_accepted(StoreStatus.CANNOT_UNDERSTAND)
