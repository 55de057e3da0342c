"""Which presentation contexts to propose for a batch of files, and how each file goes out.

For every (SOP class, stored transfer syntax) we propose the stored syntax alone, and for every SOP
class one more context with the uncompressed fallbacks (Explicit then Implicit VR Little Endian), so a
peer that refuses a compressed syntax still gives us a way to send a decoded copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dicom_adapter.dicom.contexts import MAX_PROPOSED, AcceptedContext, ProposedContext
from dicom_adapter.export.part10 import Part10File
from dicom_adapter.export.transcode import UNCOMPRESSED_FALLBACKS, can_transcode


class SendMode(StrEnum):
    RAW = "raw"  # the stored bytes as they are
    TRANSCODE = "transcode"  # decoded and re-encoded with pydicom


@dataclass(frozen=True)
class SendPlan:
    """How one file travels: through which accepted context and in which syntax."""

    context_id: int
    transfer_syntax: str
    mode: SendMode


def propose_contexts(files: list[Part10File], with_fallbacks: bool = True) -> list[ProposedContext]:
    """The contexts for an A-ASSOCIATE-RQ; at most MAX_PROPOSED (extra ones are dropped, files then fail)."""
    wanted: list[tuple[str, tuple[str, ...]]] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for file in files:
        candidates: list[tuple[str, tuple[str, ...]]] = [(file.sop_class_uid, (file.transfer_syntax,))]
        if with_fallbacks:
            candidates.append((file.sop_class_uid, UNCOMPRESSED_FALLBACKS))
        for key in candidates:
            if key not in seen:
                seen.add(key)
                wanted.append(key)
    return [
        ProposedContext(context_id=2 * index + 1, abstract_syntax=sop_class, transfer_syntaxes=syntaxes)
        for index, (sop_class, syntaxes) in enumerate(wanted[:MAX_PROPOSED])
    ]


def plan_send(
    file: Part10File,
    proposed: list[ProposedContext],
    accepted: dict[int, AcceptedContext],
    transcode_allowed: bool = True,
) -> SendPlan | None:
    """The best way to send `file`, or None when the peer accepted nothing usable for it.

    Prefer the stored syntax (no work, no change); else an accepted uncompressed fallback to transcode to.
    """
    usable = [
        accepted[ctx.context_id]
        for ctx in proposed
        if ctx.abstract_syntax == file.sop_class_uid
        and ctx.context_id in accepted
        and accepted[ctx.context_id].accepted
    ]
    for ctx in usable:
        if ctx.transfer_syntax == file.transfer_syntax:
            return SendPlan(ctx.context_id, ctx.transfer_syntax, SendMode.RAW)
    if not transcode_allowed:
        return None
    for target in UNCOMPRESSED_FALLBACKS:
        for ctx in usable:
            if ctx.transfer_syntax == target and can_transcode(file.transfer_syntax, target):
                return SendPlan(ctx.context_id, target, SendMode.TRANSCODE)
    return None
