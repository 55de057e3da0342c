"""The container image and the Helm chart configure services through env vars: each must reach a real setting.

A misspelt variable would be ignored silently by the service (or refused at start in the cluster), so
every CLARA_* name in the Dockerfile and in any of the chart's templates is applied here to the settings
class it targets. The chart passes most settings as configuration files instead: tests/deploy loads
those with the same settings classes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from dicom_adapter.settings import AdapterSettings
from openclara.auth.credentials import ENV_FILE
from openclara.settings import load_settings
from platform_server.settings import PlatformSettings
from results_service.settings import ResultsSettings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "deploy/helm/openclara/templates"
SERVICES: dict[str, type[BaseSettings]] = {
    "CLARA_PLATFORM_": PlatformSettings,
    "CLARA_RESULTS_": ResultsSettings,
    "CLARA_DICOM_": AdapterSettings,
}
# Values the chart fills from values.yaml; one plausible value per kind of setting.
SAMPLE = {"HOST": "0.0.0.0", "PORT": "4242", "ENDPOINT": "127.0.0.1:1", "URL": "http://127.0.0.1:1", "FORMAT": "json"}


def _env_names() -> set[str]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    names = set(re.findall(r"\b(CLARA_(?:PLATFORM|RESULTS|DICOM)_[A-Z0-9_]+)=", dockerfile))
    for template in sorted(TEMPLATES.iterdir()):
        names |= set(re.findall(r"name: (CLARA_(?:PLATFORM|RESULTS|DICOM)_[A-Z0-9_]+)", template.read_text()))
    return names


def _sample(name: str) -> str:
    for suffix, value in SAMPLE.items():
        if name.endswith(suffix):
            return "http://127.0.0.1:1" if name.startswith("CLARA_DICOM_RESULTS") else value
    return "true" if name.endswith("ENABLED") else "7"


def _lookup(settings: Any, path: list[str]) -> Any:
    for part in path:
        settings = getattr(settings, part)
    return settings


@pytest.mark.parametrize("name", sorted(_env_names()))
def test_deploy_env_var_sets_a_real_setting(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = next(p for p in SERVICES if name.startswith(p))
    value = _sample(name)
    monkeypatch.setenv(name, value)
    settings = load_settings(SERVICES[prefix])
    path = name.removeprefix(prefix).lower().split("__")
    assert str(_lookup(settings, path)).lower() in (value.lower(), str(float(value)) if value.isdigit() else "")


def test_deploy_env_names_were_found() -> None:
    # The image sets the listen addresses (the embedded stack in one container needs them too).
    image = {"CLARA_PLATFORM_SERVER__HOST", "CLARA_RESULTS_HOST", "CLARA_DICOM_SCP__HOST", "CLARA_DICOM_API__HOST"}
    assert image <= _env_names()
    # Where _env_names looks: a moved chart would silently find nothing there.
    assert len(list(TEMPLATES.glob("*.yaml"))) >= 10


def test_deploy_sets_no_other_clara_variable_than_those_openclara_reads() -> None:
    """Besides the services' settings, the chart's pods get CLARA_HOME (openclara.paths) and CLARA_CREDENTIALS
    (openclara.auth.credentials: the mounted Secret's file)."""
    others = set()
    for template in sorted(TEMPLATES.iterdir()):
        others |= set(re.findall(r"name: (CLARA_[A-Z0-9_]+)", template.read_text()))
    others = {name for name in others if not name.startswith(tuple(SERVICES))}
    assert others == {"CLARA_HOME", ENV_FILE}
