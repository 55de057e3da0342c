"""load_settings: YAML file below the environment, every error together, the file named in each message."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic_settings import BaseSettings, SettingsConfigDict

from openclara.settings import ConfigError, load_settings


class _Server(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 1


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENCLARA_TEST_", env_nested_delimiter="__", extra="forbid")
    name: str = "default"
    server: _Server = _Server()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "service.yaml"
    path.write_text(text)
    return path


def test_the_file_sets_values_and_the_environment_overrides_one_nested_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENCLARA_TEST_SERVER__PORT", "7")
    settings = load_settings(_Settings, _write(tmp_path, "name: file\nserver: {host: 0.0.0.0, port: 3}\n"))
    assert (settings.name, settings.server.host, settings.server.port) == ("file", "0.0.0.0", 7)


def test_without_a_file_the_defaults_apply(tmp_path: Path) -> None:
    assert load_settings(_Settings).server.port == 1
    assert load_settings(_Settings, _write(tmp_path, "")).name == "default"


def test_every_error_is_reported_together_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "nmae: typo\nserver: {port: many, colour: red}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(_Settings, path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 3 configuration error(s):")
    assert all(key in message for key in ("nmae", "server.port", "server.colour"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server: {port: 1\n", ": invalid YAML"),
        ("- a list\n", ": the top level must be a mapping of keys, not list"),
    ],
)
def test_a_broken_file_is_named_with_its_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=str(path)) as caught:
        load_settings(_Settings, path)
    assert expected in str(caught.value)


@pytest.mark.parametrize("name", ["missing.yaml", "."])
def test_a_missing_or_unreadable_file_is_an_error_not_the_defaults(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_settings(_Settings, path)
