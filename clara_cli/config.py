"""Endpoints the CLI talks to: `~/.clara/config.yaml`, then environment variables, then flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clara_cli.errors import CliError
from openclara.grpc_tls import client_tls_from_env
from openclara.paths import clara_home
from openclara.ports import DICOM_API_URL, PLATFORM_ENDPOINT, RESULTS_URL
from openclara.settings import read_yaml
from openclara.tls import ClientTlsSettings

DEFAULT_PLATFORM = PLATFORM_ENDPOINT
DEFAULT_RESULTS = RESULTS_URL
DEFAULT_DICOM = DICOM_API_URL


@dataclass(frozen=True)
class ClientConfig:
    """Where each service listens, as seen from this machine."""

    platform: str = DEFAULT_PLATFORM
    results: str = DEFAULT_RESULTS
    dicom: str = DEFAULT_DICOM
    platform_tls: ClientTlsSettings | None = None  # None: a plain channel


def default_config_path() -> Path:
    return clara_home() / "config.yaml"


def load_client_config(path: Path | None = None) -> ClientConfig:
    """Read the file (if any) then apply `CLARA_PLATFORM_ENDPOINT`, `CLARA_RESULTS_ENDPOINT`, `CLARA_DICOM_ENDPOINT`
    and the `CLARA_PLATFORM_TLS*` variables."""
    path = path or default_config_path()
    data: dict[str, Any] = read_yaml(path) if path.exists() else {}
    endpoints = data.get("endpoints", data)
    config = ClientConfig(
        platform=str(endpoints.get("platform", DEFAULT_PLATFORM)),
        results=str(endpoints.get("results", DEFAULT_RESULTS)),
        dicom=str(endpoints.get("dicom", DEFAULT_DICOM)),
        platform_tls=platform_tls(data.get("platform_tls")),
    )
    env: dict[str, Any] = {
        "platform": os.environ.get("CLARA_PLATFORM_ENDPOINT"),
        "results": os.environ.get("CLARA_RESULTS_ENDPOINT"),
        "dicom": os.environ.get("CLARA_DICOM_ENDPOINT"),
    }
    return replace(config, **{key: value for key, value in env.items() if value})


def platform_tls(section: Any, environ: Mapping[str, str] | None = None) -> ClientTlsSettings | None:
    """TLS to the platform: `CLARA_PLATFORM_TLS*` variables (docs/cli.md) win over the file's `platform_tls:`.

    A file that does not exist or a section that does not parse is one `error:` line (CliError)."""
    try:
        from_env = client_tls_from_env(environ)
        if from_env is not None or not section:
            return from_env
        settings = ClientTlsSettings.model_validate({"enabled": True, **dict(section)})
    except (ValidationError, TypeError, ValueError) as exc:
        raise CliError(f"platform TLS: {_reason(exc)}") from exc
    return settings if settings.enabled else None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
    return str(exc)
