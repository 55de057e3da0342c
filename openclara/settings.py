"""Settings loading: a YAML file from `config/`, overridden by environment variables.

Every service declares a `pydantic_settings.BaseSettings` subclass with an `env_prefix` and
`env_nested_delimiter="__"` (for example `CLARA_DICOM_SCP__PORT=11112`) and loads it with
`load_settings(cls, path)`. Validation happens once, at start-up, and reports every error together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

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


class _YamlSource(PydanticBaseSettingsSource):
    """Lowest-priority source below env vars: the parsed YAML mapping."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def load_settings(cls: type[S], path: Path | None = None, **overrides: Any) -> S:
    """Build `cls` from `path` (optional) + environment + explicit overrides, or raise ConfigError."""
    data = read_yaml(path) if path is not None else {}

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
            return (init_settings, env_settings, _YamlSource(settings_cls, data))

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
