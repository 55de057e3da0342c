from __future__ import annotations

from dataclasses import replace

from dicom_adapter.dicom.acse import decode_associate_rq
from dicom_adapter.dicom.contexts import ContextResult, is_storage
from dicom_adapter.dicom.status import RejectReason, RejectResult, RejectSource
from dicom_adapter.scp.config import ScpSettings
from dicom_adapter.scp.negotiation import Acceptance, Rejection, negotiate
from tests.dicom_adapter.scp import rawclient as raw
from tests.dicom_adapter.scp.fakes import FakeRegistry

VERIFICATION = "1.2.840.10008.1.1"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"
MR = "1.2.840.10008.5.1.4.1.1.4"


class Disk:
    def __init__(self, room: bool = True) -> None:
        self.room = room

    def has_room(self, incoming: int = 0) -> bool:
        return self.room


def _negotiate(called="CLARA", calling="STORESCU", registry=None, settings=None, disk=None, active=0, **rq):
    contexts = rq.pop("contexts", [(1, raw.CT_IMAGE_STORAGE, [raw.IMPLICIT_VR_LE, raw.EXPLICIT_VR_LE])])
    request = decode_associate_rq(raw.associate_rq(called, calling, contexts, **rq)[6:])
    return negotiate(
        request, "127.0.0.1", registry or FakeRegistry(), settings or ScpSettings(), disk or Disk(), active
    )


def test_accepts_the_first_proposed_transfer_syntax():
    result = _negotiate()
    assert isinstance(result, Acceptance)
    assert result.accepted()[1].transfer_syntax == raw.IMPLICIT_VR_LE


def test_unknown_calling_ae_is_checked_first():
    result = _negotiate(called="NOBODY", calling="STRANGER")
    assert result == Rejection(
        RejectResult.PERMANENT,
        RejectSource.SERVICE_USER,
        RejectReason.CALLING_AE_NOT_RECOGNIZED,
        "calling AE title not recognized",
    )


def test_unknown_calling_ae_passes_when_sources_are_not_checked():
    registry = FakeRegistry(reject_unknown_sources=False)
    assert isinstance(_negotiate(calling="STRANGER", registry=registry), Acceptance)


def test_unknown_called_ae():
    result = _negotiate(called="NOBODY")
    assert isinstance(result, Rejection) and result.reason == RejectReason.CALLED_AE_NOT_RECOGNIZED


def test_association_limit_is_transient():
    result = _negotiate(settings=ScpSettings(maximum_associations=2), active=2)
    assert isinstance(result, Rejection)
    assert (result.result, result.source, result.reason) == (
        RejectResult.TRANSIENT,
        RejectSource.SERVICE_PROVIDER_PRESENTATION,
        RejectReason.LOCAL_LIMIT_EXCEEDED,
    )


def test_watermark_is_transient_congestion():
    result = _negotiate(disk=Disk(room=False))
    assert isinstance(result, Rejection)
    assert result.result == RejectResult.TRANSIENT and result.reason == RejectReason.TEMPORARY_CONGESTION
    assert "watermark" in result.text


def test_wrong_application_context_and_protocol_version():
    assert _negotiate(application_context="1.2.3").reason == RejectReason.APPLICATION_CONTEXT_NOT_SUPPORTED
    result = _negotiate(version=2)
    assert result.source == RejectSource.SERVICE_PROVIDER_ACSE


def test_verification_can_be_switched_off_per_context():
    contexts = [(1, VERIFICATION, [raw.IMPLICIT_VR_LE]), (3, raw.CT_IMAGE_STORAGE, [raw.EXPLICIT_VR_LE])]
    on = _negotiate(contexts=contexts)
    off = _negotiate(contexts=contexts, settings=ScpSettings(verification_enabled=False))
    assert set(on.accepted()) == {1, 3}
    assert set(off.accepted()) == {3}
    assert off.contexts[0].result == ContextResult.USER_REJECTION


def test_non_storage_sop_classes_are_not_accepted():
    result = _negotiate(contexts=[(1, FIND, [raw.IMPLICIT_VR_LE])])
    assert result.contexts[0].result == ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED


def test_allowed_and_ignored_sop_classes_per_ae():
    registry = FakeRegistry()
    ae = registry.ae_titles["CLARA"]
    registry.ae_titles["CLARA"] = replace(ae, allowed_sop_classes=(MR,), ignored_sop_classes=("1.2.3.4.5",))
    contexts = [
        (1, raw.CT_IMAGE_STORAGE, [raw.IMPLICIT_VR_LE]),
        (3, MR, [raw.IMPLICIT_VR_LE]),
        (5, "1.2.3.4.5", [raw.IMPLICIT_VR_LE]),
    ]
    result = _negotiate(contexts=contexts, registry=registry)
    assert set(result.accepted()) == {3, 5}


def test_is_storage_knows_new_classes_under_the_storage_root():
    assert is_storage(raw.CT_IMAGE_STORAGE)
    assert is_storage("1.2.840.10008.5.1.4.1.1.999")
    assert not is_storage(FIND)


def test_context_without_transfer_syntax_is_refused():
    result = _negotiate(contexts=[(1, raw.CT_IMAGE_STORAGE, [])])
    assert result.contexts[0].result == ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED


def test_only_valid_uids_are_accepted_as_transfer_syntax_or_new_storage_class():
    """What the A-ASSOCIATE-AC echoes and the spooled file meta records must be a UID (PS3.5 9.1)."""
    result = _negotiate(contexts=[(1, raw.CT_IMAGE_STORAGE, ["1.2.840.10008.1.2.\u00e4", raw.EXPLICIT_VR_LE])])
    assert result.accepted()[1].transfer_syntax == raw.EXPLICIT_VR_LE
    result = _negotiate(contexts=[(1, raw.CT_IMAGE_STORAGE, ["1.2/3"])])
    assert result.contexts[0].result == ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED
    assert not is_storage("1.2.840.10008.5.1.4.1.1.2/../x")
    assert not is_storage("1.2.840.10008.5.1.4.1.1.02")
