"""Settings loading: a YAML file from `config/`, overridden by environment variables.

Every service declares a `pydantic_settings.BaseSettings` subclass with an `env_prefix` and
`env_nested_delimiter="__"` (for example `CLARA_DICOM_SCP__PORT=11112`) and loads it with
`load_settings(cls, path)`. Validation happens once, at start-up, and reports every error together.
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, YamlConfigSettingsSource

S = TypeVar("S", bound=BaseSettings)


class ConfigError(Exception):
    """The configuration file or the environment is invalid; the message lists every problem."""


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, naming the file and the line of any syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration file: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {type(data).__name__}")
    return data


class _YamlFile(YamlConfigSettingsSource):
    """pydantic-settings' YAML source (below the environment), reading through `read_yaml`.

    Only the reading is ours: it names the file and the line of a syntax error and rejects a top level
    that is not a mapping, where the stock reader would raise a bare yaml error.
    """

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        return read_yaml(Path(str(file_path)))


def _require_readable(path: Path) -> None:
    """Fail on a missing or unreadable file: pydantic-settings skips a YAML file that does not exist."""
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration file: {exc.strerror}") from exc


def load_settings(cls: type[S], path: Path | None = None, **overrides: Any) -> S:
    """Build `cls` from `path` (optional) + environment + explicit overrides, or raise ConfigError."""
    if path is not None:
        _require_readable(path)

    class _Loaded(cls):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls_: type[BaseSettings],
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _YamlFile(settings_cls, yaml_file=path))

    try:
        loaded = _Loaded(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from exc
    return cls.model_validate(loaded.model_dump())


def _describe(exc: ValidationError, path: Path | None) -> str:
    source = str(path) if path is not None else "environment"
    lines = [f"{source}: {exc.error_count()} configuration error(s):"]
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(root)"
        lines.append(f"  - {key}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)
