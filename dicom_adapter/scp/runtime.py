"""What every association of one `StoreScp` shares, and the guarded calls into the adapter's ports."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from dicom_adapter.models import StoredInstance
    from dicom_adapter.scp.config import ScpSettings
    from dicom_adapter.scp.connections import Connections
    from dicom_adapter.scp.ports import AeTitleLookup, AssociationRecord, InstanceSink
    from dicom_adapter.storage.disk import DiskGuard
    from dicom_adapter.storage.spool import Spool

log = structlog.get_logger()


@dataclass(frozen=True)
class ScpRuntime:
    """Settings, ports and storage of one SCP; `connections` knows which connections are associations."""

    settings: ScpSettings
    registry: AeTitleLookup
    sink: InstanceSink
    spool: Spool
    disk: DiskGuard
    connections: Connections
    writer: Executor | None = None  # writes data sets into the spool beside the event loop (receiver.py)

    def active_associations(self) -> int:
        """Connections whose A-ASSOCIATE-RQ arrived and that were not rejected (pending ones do not count)."""
        return self.connections.associations

    def report_instance(self, instance: StoredInstance) -> None:
        """Hand a stored instance to the sink. A failing sink must not fail the C-STORE: the file is
        durable in the spool and the restart scan finds it again."""
        try:
            self.sink.instance_stored(instance)
        except Exception:
            log.exception("scp.sink.failed", call="instance_stored", association_id=instance.association_id)

    def report_association(self, record: AssociationRecord) -> None:
        try:
            self.sink.association_ended(record)
        except Exception:
            log.exception("scp.sink.failed", call="association_ended", association_id=record.association_id)
