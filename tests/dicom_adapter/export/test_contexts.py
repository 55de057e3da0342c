"""Presentation contexts proposed for a file and the raw-or-transcode choice."""

from __future__ import annotations

from pathlib import Path

from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless

from dicom_adapter.dicom.contexts import AcceptedContext, ContextResult
from dicom_adapter.export.contexts import SendMode, plan_send, propose_contexts
from dicom_adapter.export.part10 import Part10File

SEG = "1.2.840.10008.5.1.4.1.1.66.4"


def _file(sop_class: str, syntax: str) -> Part10File:
    return Part10File(Path("x.dcm"), sop_class, "1.2.3", syntax, 300)


def test_propose_contexts_offers_stored_syntax_and_uncompressed_fallbacks_once_per_class():
    j2k = _file(CTImageStorage, JPEG2000Lossless)
    files = [j2k, j2k, _file(SEG, ExplicitVRLittleEndian)]
    contexts = propose_contexts(files)
    assert [(c.context_id, c.abstract_syntax, c.transfer_syntaxes) for c in contexts] == [
        (1, CTImageStorage, (JPEG2000Lossless,)),
        (3, CTImageStorage, (ExplicitVRLittleEndian, ImplicitVRLittleEndian)),
        (5, SEG, (ExplicitVRLittleEndian,)),
        (7, SEG, (ExplicitVRLittleEndian, ImplicitVRLittleEndian)),
    ]


def test_propose_contexts_without_fallbacks_offers_only_stored_syntaxes():
    contexts = propose_contexts([_file(CTImageStorage, JPEG2000Lossless)], with_fallbacks=False)
    assert [c.transfer_syntaxes for c in contexts] == [(JPEG2000Lossless,)]


def _accepted(*items: tuple[int, int, str]) -> dict[int, AcceptedContext]:
    return {cid: AcceptedContext(cid, result, transfer_syntax=ts) for cid, result, ts in items}


def test_plan_send_prefers_the_stored_syntax_raw():
    file = _file(CTImageStorage, JPEG2000Lossless)
    contexts = propose_contexts([file])
    plan = plan_send(
        file,
        contexts,
        _accepted(
            (1, ContextResult.ACCEPTANCE, JPEG2000Lossless), (3, ContextResult.ACCEPTANCE, ExplicitVRLittleEndian)
        ),
    )
    assert plan is not None and plan.mode is SendMode.RAW and plan.context_id == 1


def test_plan_send_transcodes_when_the_stored_syntax_is_refused():
    file = _file(CTImageStorage, JPEG2000Lossless)
    contexts = propose_contexts([file])
    plan = plan_send(
        file,
        contexts,
        _accepted(
            (1, ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED, ""),
            (3, ContextResult.ACCEPTANCE, ImplicitVRLittleEndian),
        ),
    )
    assert plan is not None
    assert (plan.mode, plan.context_id, plan.transfer_syntax) == (SendMode.TRANSCODE, 3, ImplicitVRLittleEndian)


def test_plan_send_gives_up_when_transcoding_is_disabled_or_class_refused():
    file = _file(CTImageStorage, JPEG2000Lossless)
    contexts = propose_contexts([file])
    accepted = _accepted(
        (1, ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED, ""), (3, ContextResult.ACCEPTANCE, ExplicitVRLittleEndian)
    )
    assert plan_send(file, contexts, accepted, transcode_allowed=False) is None
    refused = _accepted(
        (1, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED, ""), (3, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED, "")
    )
    assert plan_send(file, contexts, refused) is None
