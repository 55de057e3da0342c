from __future__ import annotations

from dicom_adapter.metrics import AdapterMetrics
from dicom_adapter.models import AssociationRecord, StoredInstance
from dicom_adapter.payloads.intake import Intake
from tests.dicom_adapter.fakes import make_instance


class Recorder:
    def __init__(self) -> None:
        self.instances: list[StoredInstance] = []
        self.records: list[AssociationRecord] = []

    def instance_stored(self, instance: StoredInstance) -> None:
        self.instances.append(instance)

    def association_ended(self, record: AssociationRecord) -> None:
        self.records.append(record)


def _record(outcome: str) -> AssociationRecord:
    return AssociationRecord("a1", "PACS", "CLARA", "127.0.0.1", 104, 1.0, 2.0, 1, 10, outcome)


def test_intake_counts_then_hands_over_instances_and_records(tmp_path):
    metrics, assembler, history = AdapterMetrics(), Recorder(), Recorder()
    intake = Intake(assembler, history, metrics)  # type: ignore[arg-type]
    instance = make_instance(tmp_path, "1")

    intake.instance_stored(instance)
    intake.association_ended(_record("rejected: unknown calling AE title"))

    assert assembler.instances == [instance] and history.records == [_record("rejected: unknown calling AE title")]
    assert metrics.instances.labels(called_ae_title="CLARA")._value.get() == 1
    assert metrics.bytes.labels(called_ae_title="CLARA")._value.get() == instance.size
    assert metrics.associations.labels(outcome="rejected")._value.get() == 1
    duration = metrics.association_duration.labels(outcome="rejected")
    assert (duration._sum.get(), sum(b.get() for b in duration._buckets)) == (1.0, 1)
