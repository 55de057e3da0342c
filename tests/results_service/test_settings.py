from __future__ import annotations

from pathlib import Path

import pytest

from openclara.settings import ConfigError, load_settings
from results_service.settings import ResultsSettings

REPO = Path(__file__).resolve().parents[2]


def test_settings_defaults_work_without_a_file(clara_home: Path) -> None:
    settings = load_settings(ResultsSettings)
    assert (settings.host, settings.port) == ("127.0.0.1", 8088)
    assert settings.database.path == clara_home / "results" / "results.db"
    assert settings.cleanup.retain_data_for_minutes == 480
    assert settings.max_body_bytes == 1024 * 1024


def test_settings_shipped_yaml_matches_defaults(clara_home: Path) -> None:
    shipped = load_settings(ResultsSettings, REPO / "config" / "results-service.yaml")
    assert shipped == load_settings(ResultsSettings)


def test_settings_env_overrides_yaml_including_clara_spelling(
    tmp_path: Path, clara_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("port: 9000\ncleanup:\n  retainDataForMinutes: 10\n")
    monkeypatch.setenv("CLARA_RESULTS_CLEANUP__RETAIN_DATA_FOR_MINUTES", "3")
    monkeypatch.setenv("CLARA_RESULTS_LEASE__SECONDS", "7")
    settings = load_settings(ResultsSettings, path)
    assert (settings.port, settings.cleanup.retain_data_for_minutes, settings.lease.seconds) == (9000, 3, 7)


def test_settings_report_every_error_together(tmp_path: Path, clara_home: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "port: -1\nlease:\n  seconds: 0\nretry:\n  backoff_base_seconds: 10\n  backoff_max_seconds: 1\ncolour: blue\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(ResultsSettings, path)
    message = str(info.value)
    assert "4 configuration error(s)" in message
    for key in ("port", "lease.seconds", "backoff_max_seconds must be >= backoff_base_seconds", "colour"):
        assert key in message
