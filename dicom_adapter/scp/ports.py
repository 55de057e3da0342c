"""What the SCP needs from the rest of the adapter, as Protocols; the record it hands back is in `models`.

`config.registry.AeRegistry` implements `AeTitleLookup` (live configuration) and `InstanceSink` (grouping /
persistence); tests use fakes. Both are called on the event loop and must not block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

# Re-exported: the SCP builds these records; they live in models so that db/ needs no scp import.
from dicom_adapter.models import AssociationRecord

if TYPE_CHECKING:
    from dicom_adapter.models import ClaraAeTitle, StoredInstance

__all__ = ["AeTitleLookup", "AssociationRecord", "InstanceSink"]


class AeTitleLookup(Protocol):
    """A live view of the configuration; sync, cheap, called on the event loop."""

    @property
    def reject_unknown_sources(self) -> bool: ...

    def clara_ae_title(self, ae_title: str) -> ClaraAeTitle | None: ...

    def source_allowed(self, calling_ae_title: str, host: str) -> bool:
        """Calling AE title known and `host` matches its IP, CIDR or hostname."""
        ...


class InstanceSink(Protocol):
    """Receives what the SCP acknowledged; called on the event loop, must not block (queue it)."""

    def instance_stored(self, instance: StoredInstance) -> None: ...

    def association_ended(self, record: AssociationRecord) -> None: ...
