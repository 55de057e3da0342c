"""Fakes of the SCP's ports and a running in-process SCP, shared by unit and integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicom_adapter.models import ClaraAeTitle, StoredInstance
from dicom_adapter.scp.config import ScpSettings
from dicom_adapter.scp.ports import AssociationRecord
from dicom_adapter.scp.server import StoreScp
from dicom_adapter.storage.settings import StorageSettings
from dicom_adapter.storage.spool import Spool

CALLED = "CLARA"
CALLING = "STORESCU"


@dataclass
class FakeRegistry:
    """AE titles by exact name; sources as (calling AE, host) pairs, or any host with "*"."""

    ae_titles: dict[str, ClaraAeTitle] = field(
        default_factory=lambda: {CALLED: ClaraAeTitle(name="clara", ae_title=CALLED, pipelines={"seg": "p1"})}
    )
    sources: set[tuple[str, str]] = field(
        default_factory=lambda: {(a, "*") for a in (CALLING, "ECHOSCU", "PYNETDICOM", "FINDSCU")}
    )
    reject_unknown_sources: bool = True

    def clara_ae_title(self, ae_title: str) -> ClaraAeTitle | None:
        return self.ae_titles.get(ae_title)

    def source_allowed(self, calling_ae_title: str, host: str) -> bool:
        return (calling_ae_title, host) in self.sources or (calling_ae_title, "*") in self.sources


@dataclass
class FakeSink:
    """Records what the SCP reports; `ended` lets tests wait for an association's record."""

    instances: list[StoredInstance] = field(default_factory=list)
    records: list[AssociationRecord] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def instance_stored(self, instance: StoredInstance) -> None:
        self.instances.append(instance)

    def association_ended(self, record: AssociationRecord) -> None:
        self.records.append(record)
        self.ended.set()

    async def wait_records(self, count: int, timeout: float = 30.0) -> list[AssociationRecord]:
        async with asyncio.timeout(timeout):
            while len(self.records) < count:
                self.ended.clear()
                await self.ended.wait()
        return self.records


@dataclass
class RunningScp:
    scp: StoreScp
    registry: FakeRegistry
    sink: FakeSink
    spool_dir: Path

    @property
    def port(self) -> int:
        return self.scp.bound_port


@asynccontextmanager
async def running_scp(
    spool_dir: Path,
    registry: FakeRegistry | None = None,
    scp: dict[str, Any] | None = None,
    storage: dict[str, Any] | None = None,
) -> AsyncIterator[RunningScp]:
    """A started StoreScp on 127.0.0.1, any free port; stopped on exit."""
    settings = ScpSettings(port=0, **(scp or {}))
    storage_settings = StorageSettings(
        spool_dir=spool_dir,
        **({"watermark_percent": 100, "reserve_space_gb": 0, "spare_files": 64} | (storage or {})),
    )
    registry = registry or FakeRegistry()
    sink = FakeSink()
    server = StoreScp(settings, storage_settings, Spool.from_settings(storage_settings), registry, sink)
    await server.start()
    try:
        yield RunningScp(server, registry, sink, spool_dir)
    finally:
        await server.stop()
