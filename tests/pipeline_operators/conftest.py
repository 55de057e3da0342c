"""Small generated studies shared by the operator tests (20 slices of 128², built once per session)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline_operators.phantom import Phantom, PhantomSpec, build_phantom
from pipeline_operators.sample_study import write_study

SMALL = PhantomSpec(slices=20, matrix=128, slice_spacing=7.5, seed=7)


@pytest.fixture(scope="session")
def small_spec() -> PhantomSpec:
    return SMALL


@pytest.fixture(scope="session")
def small_phantom() -> Phantom:
    return build_phantom(SMALL)


@pytest.fixture(scope="session")
def _small_study_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("study-master")
    write_study(SMALL, folder)
    return folder


@pytest.fixture
def small_study(_small_study_master: Path, tmp_path: Path) -> Path:
    """A private copy of the 20-slice study, so a test may move, edit or delete files."""
    folder = tmp_path / "study"
    shutil.copytree(_small_study_master, folder)
    return folder


@pytest.fixture(autouse=True)
def _quiet_operator_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The operators configure process-wide logging at start-up; in-process CLI tests must not.
    monkeypatch.setattr("pipeline_operators.entrypoint.configure_logging", lambda *args, **kwargs: None)
    for name in ("NVIDIA_CLARA_INPUTPATHS", "NVIDIA_CLARA_OUTPUTPATHS", "NVIDIA_CLARA_MODEL_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    yield
