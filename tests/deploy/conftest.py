"""Fixtures of the chart tests."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.deploy.chart import ROOT


@pytest.fixture
def container_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The environment of the image (Dockerfile ENV) and nothing of the test run's own CLARA_* variables."""
    for name in list(os.environ):
        if name.startswith("CLARA_"):
            monkeypatch.delenv(name)
    for name, value in re.findall(r"\b(CLARA_[A-Z0-9_]+)=(\S+)", (ROOT / "Dockerfile").read_text()):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLARA_HOME", str(tmp_path / "home"))
