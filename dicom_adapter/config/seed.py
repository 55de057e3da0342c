"""Seeding: AE titles, sources and destinations from the `seed:` section, inserted at start when absent.

The database holds the live configuration; the file only provides a starting point (and an
environment-driven one for containers). Every seed entry is validated like a REST request, by the same
wire shapes (`entities.py`), so this module needs nothing from api/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, ValidationError

from dicom_adapter.config.entities import ClaraAeTitleBody, DestinationBody, SourceBody
from dicom_adapter.errors import EntityConflict, EntityNotFound, InvalidEntity
from dicom_adapter.models import ClaraAeTitle, DestinationAeTitle, SourceAeTitle
from openclara.settings import ConfigError

if TYPE_CHECKING:
    # Types only: settings.py imports this module to validate its `seed:` section at load time.
    from dicom_adapter.db.config_repository import ConfigRepository
    from dicom_adapter.settings import AdapterSettings, SeedSettings

log = structlog.get_logger()


@dataclass
class Seed:
    clara_ae_titles: list[ClaraAeTitle] = field(default_factory=list)
    sources: list[SourceAeTitle] = field(default_factory=list)
    destinations: list[DestinationAeTitle] = field(default_factory=list)


def _parse(kind: type[BaseModel], entries: list[dict[str, Any]], where: str, problems: list[str]) -> list[Any]:
    parsed = []
    for index, entry in enumerate(entries):
        try:
            parsed.append(kind.model_validate(entry))
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"])
                problems.append(f"{where}[{index}].{key}: {err['msg']}")
    return parsed


def _build(settings: SeedSettings, minimum_timeout: float, problems: list[str]) -> Seed:
    seed = Seed()
    for index, body in enumerate(_parse(ClaraAeTitleBody, settings.ae_titles, "ae_titles", problems)):
        try:
            seed.clara_ae_titles.append(body.to_model(minimum_timeout))
        except InvalidEntity as exc:
            problems.append(f"ae_titles[{index}].{exc.field}: {exc.reason}")
    seed.sources = [b.to_model() for b in _parse(SourceBody, settings.sources, "sources", problems)]
    for index, destination in enumerate(_parse(DestinationBody, settings.destinations, "destinations", problems)):
        try:
            seed.destinations.append(destination.to_model())
        except InvalidEntity as exc:  # a TLS file that is missing or unreadable
            problems.append(f"destinations[{index}].{exc.field}: {exc.reason}")
    return seed


def seed_problems(settings: SeedSettings, minimum_timeout: float) -> list[str]:
    """Every problem of the `seed:` section, as 'ae_titles[0].aeTitle: reason' lines."""
    problems: list[str] = []
    _build(settings, minimum_timeout, problems)
    return problems


def parse_seed(settings: AdapterSettings) -> Seed:
    """The validated `seed:` section; raise ConfigError listing every problem."""
    problems: list[str] = []
    seed = _build(settings.seed, settings.grouping.minimum_timeout_seconds, problems)
    if problems:
        raise ConfigError("\n".join([f"{len(problems)} seed error(s):", *(f"  - seed.{p}" for p in problems)]))
    return seed


async def apply_seed(seed: Seed, repository: ConfigRepository) -> int:
    """Insert each seeded entity whose name is not in the database yet; returns how many were added.

    A seed that clashes with the live configuration (same AE title under another name) is skipped with a
    warning: the database wins.
    """
    added = 0
    steps: list[tuple[str, Any, Any, Any]] = [
        *((c.name, c, repository.get_clara_ae_title, repository.save_clara_ae_title) for c in seed.clara_ae_titles),
        *((s.ae_title, s, repository.get_source, repository.save_source) for s in seed.sources),
        *((d.name, d, repository.get_destination, repository.save_destination) for d in seed.destinations),
    ]
    for name, entity, getter, saver in steps:
        if await _exists(getter, name):
            continue
        try:
            await saver(entity)
            added += 1
        except EntityConflict as exc:
            log.warning("seed.skipped", name=name, reason=str(exc))
    if added:
        log.info("seed.applied", entities=added)
    return added


async def _exists(getter: Any, name: str) -> bool:
    try:
        await getter(name)
    except EntityNotFound:
        return False
    return True
