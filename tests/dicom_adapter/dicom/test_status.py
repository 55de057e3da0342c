"""Status classes (PS3.7 C) and A-ASSOCIATE-RJ wording."""

from __future__ import annotations

from dicom_adapter.dicom.status import StoreStatus, describe_rejection, is_accepted, is_warning, status_name


def test_store_status_classes():
    assert is_accepted(StoreStatus.SUCCESS) and not is_warning(StoreStatus.SUCCESS)
    assert is_accepted(StoreStatus.COERCION_OF_DATA_ELEMENTS) and is_warning(StoreStatus.ELEMENTS_DISCARDED)
    assert not is_accepted(StoreStatus.REFUSED_OUT_OF_RESOURCES)
    assert not is_accepted(StoreStatus.CANNOT_UNDERSTAND)
    assert status_name(0xA700) == "refused_out_of_resources" and status_name(0xABCD) == "0xABCD"


def test_rejections_read_as_words():
    assert describe_rejection(1, 1, 7) == "association rejected (permanent): called AE title not recognized"
    assert describe_rejection(2, 3, 1) == "association rejected (transient): temporary congestion"
    assert describe_rejection(2, 3, 9) == "association rejected (transient): source 3 reason 9"
