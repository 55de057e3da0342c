"""`openclara up` as a user runs it: the whole loop on non-default ports, taken ports, bad config, a crash.

The stack runs from the repository's `config/` with every port 0 (`up` picks free ports and wires the
services to each other); the `clara` CLI is pointed at the endpoints `up` prints; DCMTK storescu sends a
small synthetic CT and DCMTK storescp, as the PACS, must receive the SEG.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline_operators.phantom import PhantomSpec
from pipeline_operators.sample_study import write_study
from tests.conftest import free_port, require_peer
from tests.support.processes import ROOT, storescp, wait_for
from tests.support.stack_up import PORTS, UP, Up, stack_env

pytestmark = pytest.mark.integration

@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    stack = Up(tmp_path, stack_env(tmp_path))
    try:
        stack.wait_up(120)
        yield stack
    finally:
        stack.stop()


def _clara(up: Up, *args: str) -> str:
    env = {
        **up.env,
        "CLARA_PLATFORM_ENDPOINT": up.endpoint(r"Platform API \(gRPC\)"),
        "CLARA_RESULTS_ENDPOINT": up.endpoint("results service"),
        "CLARA_DICOM_ENDPOINT": up.endpoint("adapter REST API"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "clara_cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_up_runs_the_loop_on_any_free_ports_and_stops_in_order(up: Up, tmp_path: Path) -> None:
    storescu = require_peer("storescu")
    ct = tmp_path / "ct"
    write_study(PhantomSpec(slices=24, matrix=128, slice_spacing=5.0, seed=3), ct)
    pacs_port = free_port()
    assert "CLARA_DICOM_ENDPOINT=http://127.0.0.1:" in up.log()  # told how to point the CLI at it
    waited = subprocess.run(
        [sys.executable, "-m", "launcher.supervisor", "wait", "--config-dir", str(ROOT / "config")],
        env={**up.env, **_ports_of(up)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert waited.returncode == 0, waited.stderr

    pipeline = _clara(up, "create", "pipeline", "-p", str(ROOT / "config/pipelines/lung-seg.yaml"))
    _clara(up, "dicom", "create", "aetitle", "-a", "CLARA", f"pipeline-lung-seg={pipeline}", "timeout=1")
    _clara(up, "dicom", "create", "src", "-a", "STORESCU", "-i", "127.0.0.1")
    _clara(up, "dicom", "create", "dest", "-n", "ORTHANC", "-a", "PACS", "-i", "127.0.0.1", "-p", str(pacs_port))
    received = tmp_path / "pacs"
    received.mkdir()
    with storescp(require_peer("storescp"), received, pacs_port, "PACS"):
        scp_port = up.endpoint("DICOM SCP").rpartition(":")[2]
        subprocess.run(
            [storescu, "-aet", "STORESCU", "-aec", "CLARA", "+sd", "127.0.0.1", scp_port, str(ct)],
            check=True,
            timeout=60,
        )
        wait_for(lambda: any(received.glob("SG*")), 120, "the SEG at the PACS")

    assert up.stop() == 0
    log = up.log()
    # The embedded default keeps spool and payloads under one CLARA_HOME: files are linked, never uploaded.
    assert "submitter.handoff.linking" in log and "submitter.handoff.uploading" not in log, log
    assert re.search(r"export\.handoff\s.*how=linked", log), log
    order = [log.index(f"openclara: stopping the {name}") for name in ("DICOM adapter", "platform", "results")]
    assert order == sorted(order), log
    assert log.rstrip().endswith("openclara: stopped")


def test_the_cli_finds_the_logs_and_the_supervisor_of_up(up: Up, tmp_path: Path) -> None:
    """`clara <service> logs|status` under `openclara up` (what scripts/run runs), issue 13 item 3."""
    home = Path(up.env["CLARA_HOME"])
    assert json.loads((home / "run" / "stack.json").read_text())["supervisor_pid"] == up.popen.pid
    for service, file_name in (("platform", "platform"), ("results", "results"), ("dicom", "dicom-adapter")):
        assert (home / "run" / f"{file_name}.log").stat().st_size > 0
        assert _clara(up, service, "logs", "-n", "5")  # the service's own lines, also on up's terminal
    status = json.loads(_clara(up, "-O", "json", "platform", "status"))
    assert status["run_by"] == f"openclara up (pid {up.popen.pid})" and status["answering"] is True
    assert status["log"] == str(home / "run" / "platform.log")
    assert json.loads(_clara(up, "-O", "json", "results", "status"))["run_by"].startswith("openclara up")
    assert up.stop() == 0
    assert not (home / "run" / "stack.json").exists()


def _ports_of(up: Up) -> dict[str, str]:
    labels = (r"Platform API \(gRPC\)", "results service", "DICOM SCP", "adapter REST API", "console")
    return {name: up.endpoint(label).rpartition(":")[2] for name, label in zip(PORTS, labels, strict=True)}


def test_up_refuses_a_taken_port_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        done = subprocess.run(
            UP,
            env=stack_env(tmp_path, CLARA_DICOM_SCP__PORT=str(taken)),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"DICOM SCP 127.0.0.1:{taken}: the port is in use" in done.stderr
    assert "CLARA_DICOM_SCP__PORT=<port>" in done.stderr
    assert "starting" not in done.stderr


def test_up_reports_every_bad_config_file_before_starting(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "platform-server.yaml").write_text("schedulr: {}\n")
    (config / "results-service.yaml").write_text("port: [\n")
    argv = [sys.executable, "-m", "launcher.supervisor", "up", "--config-dir", str(config)]
    done = subprocess.run(argv, env=stack_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "invalid configuration, nothing was started" in done.stderr
    assert "schedulr: Extra inputs are not permitted" in done.stderr
    assert "results-service.yaml:2:1: invalid YAML" in done.stderr


def _children(pid: int, *pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid), *pattern], capture_output=True, text=True).stdout
    return [int(child) for child in found.split()]


def test_up_stops_everything_when_a_service_dies(up: Up) -> None:
    services = _children(up.popen.pid)
    assert len(services) == 4  # platform, results service, adapter, console
    os.kill(_children(up.popen.pid, "-f", "results_service")[0], signal.SIGKILL)
    assert up.popen.wait(90) == 1
    assert "the results service (killed by SIGKILL) stopped unexpectedly; stopping the others" in up.log()
    assert not [pid for pid in services if Path(f"/proc/{pid}").exists()]


def test_up_stops_the_started_services_when_one_fails_to_start(tmp_path: Path) -> None:
    env = stack_env(tmp_path, CLARA_RESULTS_DATABASE__PATH="/proc/openclara/results.db")  # cannot be created
    done = subprocess.run(UP, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1
    assert re.search(r"the results service exited during start-up \(exit code \d+\); its message is above", done.stderr)
    assert "starting the DICOM adapter" not in done.stderr
    assert "openclara: stopping the platform server" in done.stderr
    assert done.stderr.rstrip().endswith("openclara: stopped")
