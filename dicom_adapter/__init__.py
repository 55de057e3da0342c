"""The DICOM adapter: PACS -> C-STORE -> durable payloads -> one job per pipeline; results -> PACS.

PACS --C-STORE--> scp/ StoreScp --fsync--> storage/ Spool --StoredInstance--> payloads/ Intake
    -> payloads/assembler   PayloadAssembler: group by (called AE, tag), sliding quiet timeout, SQLite batch
    -> payloads/submitter   PayloadSubmitter: per pipeline create job -> upload (jobs.py layout) -> start over
                            platform_gateway.py (platform_api.PlatformClient), exponential backoff
dicom/     the one DICOM layer scp/, export/ (C-STORE and C-ECHO) and the tests share: PDUs, command sets,
           statuses, presentation contexts, file meta, element walker, UIDs
storage/   spool files, spares, disk watermark, crash recovery, spool vs SQLite reconciliation at start
config/    AeRegistry (live view the SCP and export read; reloaded by api/), seed, entity validation
db/        SQLite (WAL): config, instances, payloads, payload jobs, association history
api/       FastAPI: Clara's /api/config/*, /health/*, /metrics, /api/associations, /api/payloads[/count]
export/    ExportAgent: results service tasks -> C-STORE to destinations; C-ECHO of a destination
app.py     composition root, wiring only (start reconciles, stop drains); settings.py; __main__.py CLI
"""

from __future__ import annotations

from dicom_adapter.models import ClaraAeTitle, DestinationAeTitle, JobPriority, PayloadState, SourceAeTitle
from dicom_adapter.settings import AdapterSettings

__all__ = ["AdapterSettings", "ClaraAeTitle", "DestinationAeTitle", "JobPriority", "PayloadState", "SourceAeTitle"]
