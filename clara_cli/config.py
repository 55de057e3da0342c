"""Endpoints the CLI talks to: `~/.clara/config.yaml`, then environment variables, then flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from openclara.paths import clara_home
from openclara.settings import read_yaml

DEFAULT_PLATFORM = "127.0.0.1:30031"
DEFAULT_RESULTS = "http://127.0.0.1:8088"
DEFAULT_DICOM = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class ClientConfig:
    """Where each service listens, as seen from this machine."""

    platform: str = DEFAULT_PLATFORM
    results: str = DEFAULT_RESULTS
    dicom: str = DEFAULT_DICOM


def default_config_path() -> Path:
    return clara_home() / "config.yaml"


def load_client_config(path: Path | None = None) -> ClientConfig:
    """Read the file (if any) then apply `CLARA_PLATFORM_ENDPOINT`, `CLARA_RESULTS_ENDPOINT`, `CLARA_DICOM_ENDPOINT`."""
    path = path or default_config_path()
    data: dict[str, Any] = read_yaml(path) if path.exists() else {}
    endpoints = data.get("endpoints", data)
    config = ClientConfig(
        platform=str(endpoints.get("platform", DEFAULT_PLATFORM)),
        results=str(endpoints.get("results", DEFAULT_RESULTS)),
        dicom=str(endpoints.get("dicom", DEFAULT_DICOM)),
    )
    env = {
        "platform": os.environ.get("CLARA_PLATFORM_ENDPOINT"),
        "results": os.environ.get("CLARA_RESULTS_ENDPOINT"),
        "dicom": os.environ.get("CLARA_DICOM_ENDPOINT"),
    }
    return replace(config, **{key: value for key, value in env.items() if value})
