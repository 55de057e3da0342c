"""The DICOM adapter: PACS -> C-STORE -> durable payloads -> one job per pipeline; results -> PACS.

PACS --C-STORE--> scp/ (StoreScp) --fsync--> spool.py --StoredInstance--> app._Sink
    -> assembler.py  PayloadAssembler: group by (called AE, tag), sliding quiet timeout, SQLite batch
    -> submitter.py  PayloadSubmitter: per pipeline create job -> upload (jobs.py layout) -> start
                     over platform_gateway.py (platform_api.PlatformClient), exponential backoff
registry.py  AeRegistry: live config view read by the SCP and export; reloaded by api/ on every change
db/          SQLite (WAL): config, instances, payloads, payload jobs, association history
api/         FastAPI: Clara's /api/config/*, /health/*, /metrics, /api/associations, /api/payloads
export/      ExportAgent: results service tasks -> C-STORE to destinations
dicom/       the one DICOM layer scp/, export/, verification.py (C-ECHO over export's SCU) and tests share:
             PDUs, command sets, statuses, presentation contexts, file meta, element walker, UIDs
app.py       composition root (start recovers, stop drains); settings.py; seed.py; __main__.py CLI
"""

from __future__ import annotations

from dicom_adapter.models import ClaraAeTitle, DestinationAeTitle, JobPriority, PayloadState, SourceAeTitle
from dicom_adapter.settings import AdapterSettings

__all__ = ["AdapterSettings", "ClaraAeTitle", "DestinationAeTitle", "JobPriority", "PayloadState", "SourceAeTitle"]
