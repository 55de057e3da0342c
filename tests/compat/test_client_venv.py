"""client_venv: builds the client's virtualenv once, reuses it, and says exactly what failed."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.compat.client_venv import READY_MARKER, REQUIREMENTS, ClientVenvError, ensure_client_venv, is_ready


class FakeRunner:
    """Records commands; `venv` creates the interpreter file, a command containing `fail_on` exits 1."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        if self.fail_on and self.fail_on in " ".join(argv):
            return subprocess.CompletedProcess(argv, 1, "", "ERROR: No matching distribution found\n")
        if argv[1:3] == ["-m", "venv"]:
            python = Path(argv[3]) / "bin" / "python"
            python.parent.mkdir(parents=True)
            python.write_text("")
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_ensure_client_venv_builds_installs_probes_and_marks(tmp_path: Path) -> None:
    runner = FakeRunner()
    python = ensure_client_venv(tmp_path / "venv", base_python="py", run=runner)
    assert python == tmp_path / "venv" / "bin" / "python"
    assert runner.calls[0] == ["py", "-m", "venv", str(tmp_path / "venv")]
    assert runner.calls[1][-3:] == list(REQUIREMENTS)
    assert "nvidia_clara" in runner.calls[2][-1]
    assert is_ready(tmp_path / "venv")
    assert (tmp_path / "venv" / ".gitignore").read_text() == "*\n"


def test_ensure_client_venv_reuses_a_ready_venv(tmp_path: Path) -> None:
    ensure_client_venv(tmp_path / "venv", run=FakeRunner())
    again = FakeRunner()
    ensure_client_venv(tmp_path / "venv", run=again)
    assert again.calls == []


def test_ensure_client_venv_rebuilds_when_requirements_changed(tmp_path: Path) -> None:
    ensure_client_venv(tmp_path / "venv", run=FakeRunner())
    (tmp_path / "venv" / READY_MARKER).write_text("nvidia-clara-client==0.8.1.6")
    again = FakeRunner()
    ensure_client_venv(tmp_path / "venv", run=again)
    assert len(again.calls) == 3


def test_ensure_client_venv_failure_names_the_step_and_shows_pip_output(tmp_path: Path) -> None:
    with pytest.raises(ClientVenvError) as info:
        ensure_client_venv(tmp_path / "venv", run=FakeRunner(fail_on="pip install"))
    assert "installing nvidia-clara-client from PyPI failed (exit 1)" in str(info.value)
    assert "No matching distribution found" in str(info.value)
    assert not is_ready(tmp_path / "venv")


def test_ensure_client_venv_timeout_is_reported(tmp_path: Path) -> None:
    def slow(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(list(argv), timeout)

    with pytest.raises(ClientVenvError, match="creating the client's virtualenv took longer than 5 s"):
        ensure_client_venv(tmp_path / "venv", run=slow, timeout=5)
