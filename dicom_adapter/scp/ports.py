"""What the SCP needs from the rest of the adapter, as Protocols, and the record it hands back.

The core engineer implements `AeRegistry` (live configuration) and `InstanceSink` (grouping /
persistence); tests use fakes. Both are called on the event loop and must not block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dicom_adapter.models import ClaraAeTitle, StoredInstance


class AeRegistry(Protocol):
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


@dataclass(frozen=True)
class AssociationRecord:
    """One association, accepted or rejected, as the SCP saw it."""

    association_id: str
    calling_ae_title: str
    called_ae_title: str
    host: str
    port: int
    started_at: float  # time.time()
    ended_at: float
    instances: int  # stored with Success (ignored SOP classes not counted)
    bytes: int  # dataset bytes stored
    outcome: str  # "released" | "aborted" | "rejected: <reason>" | "error: <what>"
    failures: int = 0  # C-STOREs answered with a failure status
    ignored: int = 0  # C-STOREs answered Success without storing (ignored SOP classes)
    echoes: int = 0  # C-ECHOs answered
