"""scripts/test and scripts/run as a first run sees them: each step named, one install rule for both.

The scripts run in a copy of the repository's layout with stand-ins on PATH (python3, the peers) that
record what they were asked, so nothing is installed and the real .venv is never touched.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from tests.support.processes import ROOT

FAKE_PYTHON = """#!/bin/sh
# python3 -m venv .venv: a venv whose pip, pytest and openclara only say they ran.
if [ "$1" = "-c" ]; then exit 0; fi
mkdir -p .venv/bin
for tool in pip pytest openclara; do
  printf '#!/bin/sh\\necho "%s $*" >> "$CALLS"\\n' "$tool" > .venv/bin/$tool
  chmod +x .venv/bin/$tool
done
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _repository(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("test", "run"):
        shutil.copy(ROOT / "scripts" / name, repo / "scripts" / name)
    _executable(repo / "scripts" / "check", "#!/bin/sh\necho check >> \"$CALLS\"\n")
    _executable(repo / "scripts" / "build-web", "#!/bin/sh\necho build-web >> \"$CALLS\"\n")
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    tools = tmp_path / "bin"
    tools.mkdir()
    _executable(tools / "python3", FAKE_PYTHON)
    for peer in ("storescu", "Orthanc", "prometheus", "podman", "mmdebstrap", "busybox", "npm"):
        _executable(tools / peer, "#!/bin/sh\n")
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls")}
    return repo, env


def test_scripts_test_names_each_step_before_it_starts(tmp_path: Path) -> None:
    repo, env = _repository(tmp_path)
    done = subprocess.run([repo / "scripts" / "test", "-x"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stderr.splitlines() if line.startswith("scripts/test: ")]
    assert [step.split()[1].rstrip(":") for step in steps] == ["scripts/build-web", "pip", "scripts/check", "pytest"]
    assert (tmp_path / "calls").read_text().splitlines() == ["build-web", "pip install --quiet "
                                                             "--disable-pip-version-check -e .[dev]", "check",
                                                             "pytest -x"]


def test_scripts_run_does_not_install_again_after_scripts_test(tmp_path: Path) -> None:
    repo, env = _repository(tmp_path)
    subprocess.run([repo / "scripts" / "test"], cwd=tmp_path, env=env, capture_output=True, check=True)
    (tmp_path / "calls").unlink()
    done = subprocess.run([repo / "scripts" / "run"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().splitlines() == ["build-web", "openclara up"]
    assert "installing" not in done.stderr
