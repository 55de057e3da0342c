"""`clara <service> logs|status` and the "not reachable" hints, for a stack run by `openclara up` or by nobody."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from clara_cli.main import cli
from openclara.run_files import ServiceRun, StackState, log_path, read_stack_state, remove_stack_state
from tests.conftest import free_port


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def up_state(clara_home: Path, **endpoints: str) -> StackState:
    """What `openclara up` writes, as if this test process were its supervisor."""
    services = {name: ServiceRun(os.getpid(), endpoint, str(log_path(name))) for name, endpoint in endpoints.items()}
    state = StackState(os.getpid(), services)
    state.write()
    for name in endpoints:
        log_path(name).write_text(f"{name} line 1\n{name} line 2\n")
    return state


@pytest.mark.parametrize("service", ["platform", "results", "dicom"])
@pytest.mark.parametrize("follow", [[], ["-f"]])
def test_logs_without_a_log_is_one_clear_line(clara_home: Path, service: str, follow: list[str]) -> None:
    result = run(service, "logs", *follow)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no ") and f"CLARA_HOME={clara_home}" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("service", ["platform", "results", "dicom"])
def test_logs_finds_the_log_openclara_up_writes(clara_home: Path, service: str) -> None:
    up_state(clara_home, **{service: "http://127.0.0.1:1"})
    result = run(service, "logs", "-n", "1")
    assert (result.exit_code, result.stdout) == (0, f"{service} line 2\n")


def test_platform_status_under_openclara_up_says_who_runs_it(clara_home: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    up_state(clara_home, platform=endpoint)
    result = run("--host", endpoint, "-O", "json", "platform", "status")
    status = json.loads(result.stdout)
    assert status["run_by"] == f"openclara up (pid {os.getpid()})" and status["pid"] == os.getpid()
    assert status["log"] == str(log_path("platform"))
    pid = os.getpid()
    assert status["hint"] == f"openclara up runs it (pid {pid}) but it does not answer; see `clara platform logs`"


def test_a_service_that_up_moved_gets_the_export_line_not_start_it(clara_home: Path) -> None:
    moved = f"http://127.0.0.1:{free_port()}"
    up_state(clara_home, results=moved)
    result = run("results", "list")
    assert result.exit_code == 1
    assert f"openclara up runs the results service at {moved}: export CLARA_RESULTS_ENDPOINT={moved}" in result.stderr
    assert "clara results start" not in result.stderr


def test_results_status_names_no_log_that_does_not_exist(clara_home: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = CliRunner(env={"CLARA_RESULTS_ENDPOINT": endpoint}).invoke(cli, ["-O", "json", "results", "status"])
    status = json.loads(result.stdout)
    assert status["log"] == "none" and status["ready"] is False and "clara results start" in status["hint"]


def test_the_state_of_a_supervisor_that_died_is_ignored(clara_home: Path) -> None:
    StackState(2**22 + 12345, {}).write()  # no such pid
    assert read_stack_state() is None


def test_state_is_removed_only_by_its_own_supervisor(clara_home: Path) -> None:
    up_state(clara_home, platform="127.0.0.1:1")
    remove_stack_state(os.getpid() + 1)
    assert read_stack_state() is not None
    remove_stack_state(os.getpid())
    assert read_stack_state() is None


def test_run_files_are_private(clara_home: Path) -> None:
    up_state(clara_home, platform="127.0.0.1:1")
    assert (clara_home / "run" / "stack.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("service", ["platform", "results", "dicom"])
def test_start_refuses_a_service_openclara_up_runs(clara_home: Path, service: str) -> None:
    up_state(clara_home, **{service: "http://127.0.0.1:1"})
    result = run(service, "start")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: openclara up (pid {os.getpid()}) runs the ")
    assert not (clara_home / "run" / f"{log_path(service).stem}.pid").exists()
