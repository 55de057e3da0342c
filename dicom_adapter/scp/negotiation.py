"""A-ASSOCIATE-RQ -> accept (with presentation contexts) or reject, in Clara's order of checks.

1. calling AE title + host (when reject_unknown_sources)  -> permanent, service-user, reason 3
2. called AE title is a configured Clara AE               -> permanent, service-user, reason 7
3. association limit                                      -> transient, provider, local limit exceeded
4. disk watermark                                         -> transient, provider, temporary congestion
5. per context: Verification (if enabled), storage SOP classes (allowed / ignored per AE); the first
   proposed transfer syntax that is a valid UID wins, compressed ones included: we store bytes as received.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dicom_adapter.dicom.acse import AssociateRequest
from dicom_adapter.dicom.contexts import AcceptedContext, ContextResult, ProposedContext, is_storage
from dicom_adapter.dicom.status import RejectReason, RejectResult, RejectSource
from dicom_adapter.dicom.uids import APPLICATION_CONTEXT, VERIFICATION, is_valid_uid

if TYPE_CHECKING:
    from dicom_adapter.models import ClaraAeTitle
    from dicom_adapter.scp.config import ScpSettings
    from dicom_adapter.scp.ports import AeTitleLookup
    from dicom_adapter.storage.disk import DiskGuard


@dataclass(frozen=True)
class Rejection:
    """An A-ASSOCIATE-RJ and the reason we log and record."""

    result: RejectResult
    source: RejectSource
    reason: RejectReason
    text: str


@dataclass(frozen=True)
class Acceptance:
    """An A-ASSOCIATE-AC: the Clara AE that was called and our answer to every proposed context."""

    clara_ae_title: ClaraAeTitle
    contexts: list[AcceptedContext]

    def accepted(self) -> dict[int, AcceptedContext]:
        return {c.context_id: c for c in self.contexts if c.accepted}


def sop_class_accepted(ae: ClaraAeTitle, sop_class_uid: str) -> bool:
    """Whether the AE takes this SOP class at all (ignored classes are taken, then dropped)."""
    if sop_class_uid in ae.ignored_sop_classes:
        return True
    if ae.allowed_sop_classes:
        return sop_class_uid in ae.allowed_sop_classes
    return is_storage(sop_class_uid)


def _answer(context: ProposedContext, ae: ClaraAeTitle, verification_enabled: bool) -> AcceptedContext:
    # Only a valid UID goes into the A-ASSOCIATE-AC and the spooled file meta.
    syntaxes = [syntax for syntax in context.transfer_syntaxes if is_valid_uid(syntax)]

    def accept() -> AcceptedContext:
        return AcceptedContext(context.context_id, ContextResult.ACCEPTANCE, context.abstract_syntax, syntaxes[0])

    if not syntaxes:
        return AcceptedContext(context.context_id, ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED)
    if context.abstract_syntax == VERIFICATION:
        # Disabled verification rejects the context, not the association (Clara rejected the
        # association, which also failed SCUs that propose Verification next to their storage classes).
        return accept() if verification_enabled else AcceptedContext(context.context_id, ContextResult.USER_REJECTION)
    if sop_class_accepted(ae, context.abstract_syntax):
        return accept()
    return AcceptedContext(context.context_id, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED)


def _permanent(reason: RejectReason, text: str, source: RejectSource = RejectSource.SERVICE_USER) -> Rejection:
    return Rejection(RejectResult.PERMANENT, source, reason, text)


def _transient(reason: RejectReason, text: str) -> Rejection:
    return Rejection(RejectResult.TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION, reason, text)


def negotiate(
    request: AssociateRequest,
    host: str,
    registry: AeTitleLookup,
    settings: ScpSettings,
    disk: DiskGuard,
    active: int,
) -> Acceptance | Rejection:
    """Decide on one A-ASSOCIATE-RQ; `active` counts the other associations open right now."""
    if not request.protocol_version & 1:
        return _permanent(
            RejectReason.PROTOCOL_VERSION_NOT_SUPPORTED,
            "protocol version not supported",
            RejectSource.SERVICE_PROVIDER_ACSE,
        )
    if request.application_context != APPLICATION_CONTEXT:
        return _permanent(RejectReason.APPLICATION_CONTEXT_NOT_SUPPORTED, "application context not supported")
    if registry.reject_unknown_sources and not registry.source_allowed(request.calling_ae_title, host):
        return _permanent(RejectReason.CALLING_AE_NOT_RECOGNIZED, "calling AE title not recognized")
    ae = registry.clara_ae_title(request.called_ae_title)
    if ae is None:
        return _permanent(RejectReason.CALLED_AE_NOT_RECOGNIZED, "called AE title not recognized")
    if active >= settings.maximum_associations:
        return _transient(
            RejectReason.LOCAL_LIMIT_EXCEEDED, f"association limit reached ({settings.maximum_associations})"
        )
    if not disk.has_room():
        return _transient(RejectReason.TEMPORARY_CONGESTION, "free disk space below the watermark")
    contexts = [_answer(c, ae, settings.verification_enabled) for c in request.contexts]
    return Acceptance(ae, contexts)
