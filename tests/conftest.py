"""Fixtures shared by every test package: free loopback ports, an isolated CLARA_HOME, peer lookup."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from openclara.auth.credentials import ENV_FILE, load_or_create
from tests.support.network import free_port

# Podman fixtures (podman, busybox_image, operator_image) for the container tests.
pytest_plugins = ["tests.support.containers", "tests.kube_api"]

# Hypothesis (the parser fuzz tests, tests/security/test_fuzz_*.py): "ci" is bounded and replays the same
# cases every run; HYPOTHESIS_PROFILE=long is the measured run of docs/security.md (new cases each time).
# No example database: nothing is written into the repository.
settings.register_profile("ci", max_examples=150, deadline=2000, derandomize=True, database=None)
settings.register_profile(
    "long", max_examples=20_000, deadline=5000, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def stack_credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One credentials file for the whole session, as one stack has: every service a test starts (in
    process or as a subprocess, which inherits the variable) accepts its tokens, every client sends them."""
    path = tmp_path_factory.mktemp("credentials") / "credentials.yaml"
    load_or_create(path)
    previous = os.environ.get(ENV_FILE)
    os.environ[ENV_FILE] = str(path)
    yield path
    if previous is None:
        os.environ.pop(ENV_FILE, None)
    else:
        os.environ[ENV_FILE] = previous


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def clara_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private CLARA_HOME so tests never touch ~/.clara."""
    home = tmp_path / "clara-home"
    home.mkdir()
    monkeypatch.setenv("CLARA_HOME", str(home))
    yield home


def require_peer(executable: str, package: str = "dcmtk orthanc") -> str:
    """Path of a real peer program (storescu, Orthanc ...). Fails in CI when missing, skips elsewhere."""
    # Prefer the system's DCMTK/Orthanc: pynetdicom installs its own `storescu`/`echoscu` into the
    # virtualenv's bin, with other arguments, and an activated venv would put them first on PATH.
    system = [f"/usr/bin/{executable}", f"/usr/sbin/{executable}"]
    path = next((p for p in system if os.path.exists(p)), None) or shutil.which(executable)
    if path:
        return path
    message = f"{executable} is not installed (apt-get install -y {package})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _nodelay_peers(monkeypatch: pytest.MonkeyPatch) -> None:
    # DCMTK and Orthanc leave Nagle on unless told; with it, every instance waits for a delayed ACK.
    monkeypatch.setenv("TCP_NODELAY", "1")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say in capitals when the real-cluster test was skipped: a quiet skip would read as a pass."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "cluster" in getattr(r, "keywords", {})]
    if skipped:
        terminalreporter.write_sep("!", "KUBERNETES: THE REAL-CLUSTER TEST DID NOT RUN", yellow=True, bold=True)
        terminalreporter.write_line(f"{len(skipped)} test(s) in tests/integration/test_kubernetes_cluster.py were "
                                    "skipped: no OPENCLARA_TEST_KUBECONFIG. The executor was tested against a fake "
                                    "API server and podman kube play only.")
