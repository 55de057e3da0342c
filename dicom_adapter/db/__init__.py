"""SQLite persistence (aiosqlite, WAL): `AdapterDatabase` owns the connection, repositories own the tables.

history.py: the SCP's association records, queued on the loop and written in batches (association_repository).
"""

from __future__ import annotations

from dicom_adapter.db.association_repository import AssociationRepository
from dicom_adapter.db.config_repository import ConfigRepository
from dicom_adapter.db.database import AdapterDatabase
from dicom_adapter.db.payload_repository import ClosedPayload, IngestBatch, PayloadRepository

__all__ = [
    "AssociationRepository",
    "ClosedPayload",
    "ConfigRepository",
    "AdapterDatabase",
    "IngestBatch",
    "PayloadRepository",
]
