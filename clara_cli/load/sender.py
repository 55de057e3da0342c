"""The C-STORE SCU: one association per study, through pynetdicom (the CLI is a DICOM peer like any PACS).

Blocking: the runner calls `send` in worker threads. A failing sender stops after `abort_after`
acknowledged instances with an A-ABORT, as a modality does when it loses power or its link.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association

from clara_cli.load import reactor
from clara_cli.load.records import StudyRecord
from clara_cli.load.studies import Study

# Success and the storage warnings (coercion, elements discarded, data set does not match): the SCP kept it.
ACKNOWLEDGED = frozenset({0x0000, 0xB000, 0xB006, 0xB007})


class StoreSender:
    """Sends whole studies to `host:port` as `calling`, each to the called AE title of its record."""

    def __init__(self, host: str, port: int, calling: str, sop_classes: Iterable[str], timeout: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.calling = calling
        self._sop_classes = sorted(set(sop_classes))
        self._timeout = timeout

    def _entity(self) -> AE:
        ae = AE(ae_title=self.calling)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self._timeout
        for sop_class in self._sop_classes:
            ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
        return ae

    def send(self, study: Study, record: StudyRecord, abort_after: int | None = None) -> None:
        """Send the study in one association, filling `record`; never raises for a peer's failure."""
        assoc = self._entity().associate(self.host, self.port, ae_title=record.called)
        if not assoc.is_established:
            record.error = "association rejected" if assoc.is_rejected else "association failed"
            return
        gate = reactor.install(assoc)
        try:
            for dataset in study.instances:
                if abort_after is not None and len(record.acknowledged) >= abort_after:
                    record.aborted = True
                    assoc.abort()
                    return
                if gate is not None:
                    gate.park()
                if not self._store_one(assoc, dataset, record):
                    return
        finally:
            if assoc.is_established:
                assoc.release()

    def _store_one(self, assoc: Association, dataset: Dataset, record: StudyRecord) -> bool:
        begun = time.perf_counter()
        status = assoc.send_c_store(dataset)
        elapsed = time.perf_counter() - begun
        code = getattr(status, "Status", None)
        if code is None:  # no answer: pynetdicom gives an empty data set (and aborts itself on a timeout)
            timed_out = elapsed >= self._timeout * 0.99
            lost = f"no response within {self._timeout:.0f} s, aborted" if timed_out else "association lost"
            record.error = f"C-STORE unanswered: {lost}"
            return False
        record.store_seconds.append(elapsed)
        if code in ACKNOWLEDGED:
            record.acknowledged.append(str(dataset.SOPInstanceUID))
            record.sent_at = time.time()
        else:
            record.failed += 1
            record.error = f"C-STORE status 0x{code:04X}"
        return True
