from __future__ import annotations

from pathlib import Path

import pytest

from dicom_adapter.config.registry import AeRegistry
from dicom_adapter.db import AdapterDatabase, ConfigRepository
from dicom_adapter.models import DestinationAeTitle, SourceAeTitle
from tests.dicom_adapter.fakes import clara_ae


@pytest.fixture
async def repository(tmp_path: Path):
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    yield ConfigRepository(db)
    await db.stop()


def fake_resolver(name: str) -> set[str]:
    return {"pacs.example": {"10.1.2.3", "fd00::3"}}.get(name, set())


async def test_registry_matches_ip_cidr_and_hostname_sources(repository):
    await repository.save_source(SourceAeTitle("PACS1", "192.168.1.10"))
    await repository.save_source(SourceAeTitle("PACS2", "10.0.0.0/8"))
    await repository.save_source(SourceAeTitle("PACS3", "pacs.example"))
    registry = AeRegistry(repository, resolver=fake_resolver)
    await registry.reload()
    assert registry.source_allowed("PACS1", "192.168.1.10")
    assert not registry.source_allowed("PACS1", "192.168.1.11")
    assert registry.source_allowed("PACS2", "10.200.1.1")
    assert not registry.source_allowed("PACS2", "11.0.0.1")
    assert registry.source_allowed("PACS3", "10.1.2.3")
    assert registry.source_allowed("PACS3", "fd00::3")
    assert not registry.source_allowed("PACS3", "10.1.2.4")
    assert not registry.source_allowed("OTHER", "192.168.1.10")


async def test_registry_calling_ae_case_insensitive_called_ae_exact(repository):
    await repository.save_source(SourceAeTitle("Pacs", "127.0.0.1"))
    await repository.save_clara_ae_title(clara_ae("CLARA"))
    registry = AeRegistry(repository, resolver=fake_resolver)
    await registry.reload()
    assert registry.source_allowed("PACS ", "127.0.0.1")
    assert registry.clara_ae_title("CLARA") is not None
    assert registry.clara_ae_title("CLARA  ") is not None  # AE titles are space padded on the wire
    assert registry.clara_ae_title("clara") is None


async def test_registry_reload_applies_changes_and_destination_lookup(repository):
    registry = AeRegistry(repository, resolver=fake_resolver)
    await registry.reload()
    assert registry.clara_ae_title("CLARA") is None
    await repository.save_clara_ae_title(clara_ae("CLARA"))
    await repository.save_destination(DestinationAeTitle("MyPacs", "PACS", "127.0.0.1", 104))
    await registry.reload()
    assert registry.clara_ae_title("CLARA") is not None
    assert await registry.destination("mypacs") == DestinationAeTitle("MyPacs", "PACS", "127.0.0.1", 104)
    await repository.delete_clara_ae_title("clara")
    await registry.reload()
    assert registry.clara_ae_title("CLARA") is None
