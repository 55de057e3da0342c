"""`Intake`: the SCP's `InstanceSink`; what the SCP acknowledged enters the adapter here.

It counts, then hands each instance to the assembler and each association record to the history.
Both calls come on the event loop from the SCP and must not block: the assembler and the history
queue what they receive and write it in batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dicom_adapter.db.history import AssociationHistory
    from dicom_adapter.metrics import AdapterMetrics
    from dicom_adapter.models import AssociationRecord, StoredInstance
    from dicom_adapter.payloads.assembler import PayloadAssembler


class Intake:
    """Implements `scp.ports.InstanceSink` over the assembler, the association history and the metrics."""

    def __init__(self, assembler: PayloadAssembler, history: AssociationHistory, metrics: AdapterMetrics) -> None:
        self._assembler = assembler
        self._history = history
        self._metrics = metrics

    def instance_stored(self, instance: StoredInstance) -> None:
        self._metrics.instances.labels(called_ae_title=instance.called_ae_title).inc()
        self._metrics.bytes.labels(called_ae_title=instance.called_ae_title).inc(instance.size)
        self._assembler.instance_stored(instance)

    def association_ended(self, record: AssociationRecord) -> None:
        # "rejected: <reason>" counts as "rejected": one label value per outcome, not per reason.
        outcome = record.outcome.split(":")[0]
        self._metrics.associations.labels(outcome=outcome).inc()
        took = max(0.0, record.ended_at - record.started_at)
        self._metrics.association_duration.labels(outcome=outcome).observe(took)
        self._history.association_ended(record)
