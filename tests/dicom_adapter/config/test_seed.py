from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dicom_adapter.config.seed import apply_seed, parse_seed
from dicom_adapter.db import AdapterDatabase, ConfigRepository
from dicom_adapter.settings import AdapterSettings, SeedSettings
from openclara.settings import ConfigError
from tests.dicom_adapter.fakes import clara_ae


@pytest.fixture
async def repository(tmp_path: Path):
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    yield ConfigRepository(db)
    await db.stop()


def settings(**seed) -> AdapterSettings:
    return AdapterSettings(seed=SeedSettings(**seed))


async def test_seed_inserts_only_absent_entities(repository):
    seed = parse_seed(
        settings(
            ae_titles=[{"aeTitle": "CLARA", "processorSettings": {"pipeline-seg": "1" * 32}}],
            sources=[{"aeTitle": "PACS", "hostIp": "10.0.0.1"}],
            destinations=[{"name": "OUT", "aeTitle": "OUT", "hostIp": "10.0.0.2", "port": 104}],
        )
    )
    assert await apply_seed(seed, repository) == 3
    assert await apply_seed(seed, repository) == 0  # the database wins after the first start
    assert (await repository.get_clara_ae_title("CLARA")).pipelines == {"seg": "1" * 32}


async def test_seed_clashing_with_live_config_is_skipped(repository):
    await repository.save_clara_ae_title(clara_ae("CLARA"))
    clash = {"name": "other", "aeTitle": "CLARA", "processorSettings": {"pipeline-a": "2" * 32}}
    seed = parse_seed(settings(ae_titles=[clash]))
    assert await apply_seed(seed, repository) == 0


def test_invalid_seed_lists_every_problem():
    with pytest.raises(ConfigError) as info:
        parse_seed(
            AdapterSettings.model_construct(
                seed=SeedSettings.model_construct(
                    ae_titles=[{"aeTitle": "X", "processorSettings": {}}],
                    sources=[{"aeTitle": "", "hostIp": "10.0.0.1"}],
                    destinations=[],
                ),
                grouping=AdapterSettings().grouping,
            )
        )
    text = str(info.value)
    assert "seed.ae_titles[0].processorSettings" in text
    assert "seed.sources[0].aeTitle" in text


def test_seed_and_settings_load_without_the_rest_api():
    """settings validates the seed at load time; neither may pull in api/ (that made an import cycle)."""
    code = "import sys, dicom_adapter.config.seed; print(any(m.startswith('dicom_adapter.api') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
