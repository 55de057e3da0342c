"""NVIDIA's own Python client (`nvidia-clara-client` 0.8.1.7), unchanged, against our platform server.

The client lives in its own virtualenv (tests/compat/client_venv.py), built from PyPI on first use.
A real `python -m platform_server serve` process runs on a free loopback port; the driver
(tests/compat/clara_client_driver.py) walks every client call a Clara user makes and prints one JSON
line per step. Findings for the server are kept in .coord/clara-client-compat.md.

Clara's client sends no token: the driver's platform trusts its address (`auth.trusted_clients`). Without
that, its default clients are refused, and clients handed a `stub` on a channel that carries the token work
(tests/compat/clara_client_auth.py): the two ways docs/security.md gives.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from openclara.auth.credentials import ENV_TOKEN, client_token
from tests.compat.client_venv import ClientVenvError, default_dir, ensure_client_venv
from tests.conftest import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "tests" / "compat" / "clara_client_driver.py"
AUTH_DRIVER = REPO / "tests" / "compat" / "clara_client_auth.py"
STEPS = 29  # the driver's steps, Clara.Stop included: a run that prints fewer skipped some
READY_TIMEOUT = 30.0
DRIVER_TIMEOUT = 120.0
# Outcomes other than "ok" that are expected, per step: known client defects and documented gaps.
EXPECTED_OUTCOMES = {"models.ModelsClient methods": "client-defect", "models.create_catalog": "unsupported"}


@pytest.fixture(scope="module")
def client_python() -> Path:
    try:
        return ensure_client_venv(default_dir())
    except ClientVenvError as exc:
        message = f"could not build the virtualenv for nvidia-clara-client: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class DriverRun:
    steps: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    returncode: int
    server_exit: int | None
    report: str


@pytest.fixture(scope="module")
def driver_run(client_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverRun]:
    """One platform process and one driver run (finishing with Clara.Stop) shared by this module's tests."""
    root = tmp_path_factory.mktemp("clara-client-compat")
    with _platform(root) as (endpoint, proc, log):
        (root / "work").mkdir()
        argv = [str(client_python), str(DRIVER), endpoint, str(root / "work"), "--keep-going", "--stop"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=DRIVER_TIMEOUT, env=_client_env())
        try:
            server_exit: int | None = proc.wait(30)
        except subprocess.TimeoutExpired:
            server_exit = None
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        report = (f"--- driver stdout ---\n{result.stdout[-6000:]}\n--- driver stderr ---\n{result.stderr[-3000:]}"
                  f"\n--- server log ---\n{log.read_text()[-3000:]}")
        yield DriverRun({str(line["step"]): line for line in lines if "step" in line},
                        next((line["summary"] for line in lines if "summary" in line), {}), result.returncode,
                        server_exit, report)


@pytest.fixture(scope="module")
def untrusted_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A platform with the default `auth`: no trusted clients, a token on every call."""
    with _platform(tmp_path_factory.mktemp("clara-client-auth"), trusted=False) as (endpoint, _, _):
        yield endpoint


@contextlib.contextmanager
def _platform(root: Path, trusted: bool = True) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    config = root / "platform-server.yaml"
    settings: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port},
        "metrics": {"port": 0},  # any free port: the default (the API's + 1) may be taken
        "storage": {"data_dir": str(root / "data")},
        "scheduler": {"max_concurrent_jobs": 2, "gpus": 0},
        "executor": {"kill_grace": 0.5},
        "shutdown": {"drain_timeout": 5},
    }
    if trusted:
        # Clara's client opens its own insecure channel and sends no token: one documented way to serve it
        # unchanged is to trust its address (docs/security.md).
        settings["auth"] = {"trusted_clients": [{"network": "127.0.0.1/32", "role": "admin"}]}
    config.write_text(yaml.safe_dump(settings))
    log = root / "platform-server.log"
    env = {**os.environ, "CLARA_HOME": str(root / "home")}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "platform_server", "serve", "-f", str(config)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    endpoint = f"127.0.0.1:{port}"
    try:
        _wait_until_serving(endpoint, proc, log)
        yield endpoint, proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_until_serving(endpoint: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with grpc.insecure_channel(endpoint) as channel:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"platform server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                grpc.channel_ready_future(channel).result(timeout=1.0)
                return
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    pytest.fail(f"platform server not serving on {endpoint} after {READY_TIMEOUT:.0f} s")


def _client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # gRPC honours proxy variables; the server is on loopback.
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def _failures(run: DriverRun) -> list[str]:
    return [f"{name}: {line.get('error')}" for name, line in run.steps.items() if not line["ok"]]


@pytest.mark.timeout(900)  # the first run builds the client's venv from PyPI
def test_nvidia_clara_client_runs_every_step_unchanged(driver_run: DriverRun) -> None:
    failed = _failures(driver_run)
    assert not failed, "NVIDIA's client failed these steps:\n" + "\n".join(failed) + "\n" + driver_run.report
    assert driver_run.returncode == 0 and driver_run.summary.get("failed") == [], driver_run.report
    assert len(driver_run.steps) == STEPS, list(driver_run.steps)
    outcomes = {name: line["outcome"] for name, line in driver_run.steps.items() if line.get("outcome", "ok") != "ok"}
    assert outcomes == EXPECTED_OUTCOMES


@pytest.mark.timeout(900)
def test_nvidia_example_finds_operator_outputs_by_rooted_names(driver_run: DriverRun) -> None:
    """NVIDIA's example keeps names whose split('/')[1] is 'operators' and downloads '.' + name (finding F1)."""
    details = driver_run.steps["payloads.get_details (job payload)"]
    assert details["ok"], driver_run.report
    names = details["detail"]["names"]
    assert "/input/a.txt" in names and all(name.startswith("/") for name in names), names
    download = driver_run.steps["payloads.download_from (operator output)"]
    assert download["ok"], driver_run.report
    assert download["detail"]["asked"] == "./operators/summary/output/summary.json"


@pytest.mark.timeout(900)
def test_clara_stop_from_nvidia_client_drains_and_exits_cleanly(driver_run: DriverRun) -> None:
    assert driver_run.steps["clara.stop"]["ok"], driver_run.report
    assert driver_run.server_exit == 0, driver_run.report


def _auth_driver(client_python: Path, mode: str, endpoint: str, token: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in _client_env().items() if k != ENV_TOKEN}
    if token is not None:
        env[ENV_TOKEN] = token
    result = subprocess.run([str(client_python), str(AUTH_DRIVER), mode, endpoint], capture_output=True, text=True,
                            timeout=DRIVER_TIMEOUT, env=env)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-3000:]}"
    return dict(lines[0])


@pytest.mark.timeout(900)
def test_nvidia_clients_as_made_by_default_are_refused_without_trusted_clients(
        client_python: Path, untrusted_endpoint: str) -> None:
    outcome = _auth_driver(client_python, "default", untrusted_endpoint)
    assert outcome["ok"] is False
    # Clara's client lets gRPC's own error through: an RpcError whose code is UNAUTHENTICATED.
    assert (outcome["rpc_error"], outcome["code"]) == (True, "UNAUTHENTICATED"), outcome
    assert "a valid API token is required" in outcome["details"], outcome


@pytest.mark.timeout(900)
def test_nvidia_clients_handed_a_stub_on_a_channel_with_the_token_work_unchanged(
        client_python: Path, untrusted_endpoint: str) -> None:
    outcome = _auth_driver(client_python, "stub", untrusted_endpoint, token=client_token())
    assert outcome["ok"] is True, outcome
    assert outcome["pipelines"] == 0
    wrong = _auth_driver(client_python, "stub", untrusted_endpoint, token="not-a-token")
    assert (wrong["ok"], wrong["code"]) == (False, "UNAUTHENTICATED"), wrong
