"""The local executor: operator subprocesses, timeouts and process-group kills."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from platform_server.executors.base import ExecutorError, Mount, OperatorRun, Outcome, ResourceRequest, ServiceRun
from platform_server.executors.local import LocalExecutor, PathMapper, build_argv, build_environment


def make_run(tmp_path: Path, command: list[str], timeout: float = 30.0, env: dict[str, str] | None = None
             ) -> OperatorRun:
    return OperatorRun(
        job_id="j" * 32, operator="op", image="img:1", command=tuple(command),
        inputs=(Mount("payload", "/input", tmp_path / "in", True),),
        outputs=(Mount("seg", "/output", tmp_path / "out", False),),
        env=env or {}, work_dir=tmp_path / "work", log_path=tmp_path / "logs" / "op.log", timeout=timeout,
    )


def test_path_mapper_rewrites_exact_and_nested_paths_only() -> None:
    mapper = PathMapper([Mount("a", "/input", Path("/real/in"), True), Mount("b", "/input/x", Path("/other"), True)])
    assert mapper("/input") == "/real/in"
    assert mapper("/input/series/1.dcm") == "/real/in/series/1.dcm"
    assert mapper("/input/x/y") == "/other/y"  # longest declared path wins
    assert mapper("/inputs") == "/inputs"
    assert mapper("--flag") == "--flag"


def test_environment_and_argv(tmp_path: Path) -> None:
    run = make_run(tmp_path, ["python", "/input/a", "--out=/output"], env={"MODE": "/output/masks", "X": "1"})
    env = build_environment(run, {"PATH": "/bin"})
    assert env["NVIDIA_CLARA_INPUTPATHS"] == f"payload:{tmp_path / 'in'}"
    assert env["NVIDIA_CLARA_OUTPUTPATHS"] == f"seg:{tmp_path / 'out'}"
    assert env["MODE"] == f"{tmp_path / 'out'}/masks" and env["X"] == "1" and env["PATH"] == "/bin"
    assert "CUDA_VISIBLE_DEVICES" not in env
    assert build_argv(run, "/venv/python") == ["/venv/python", str(tmp_path / "in" / "a"), "--out=/output"]
    gpu_run = make_run(tmp_path, ["x"])
    gpu_run = OperatorRun(**{**gpu_run.__dict__, "resources": ResourceRequest(gpu=2, gpu_ids=(0, 1))})
    assert build_environment(gpu_run, {})["CUDA_VISIBLE_DEVICES"] == "0,1"


async def test_runs_in_work_dir_with_mapped_folders(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.txt").write_text("hello")
    script = ("import os,sys; data=open(os.path.join(sys.argv[1],'x.txt')).read(); "
              "open(os.path.join(sys.argv[2],'y.txt'),'w').write(data.upper()); print('cwd', os.getcwd())")
    result = await LocalExecutor().run(make_run(tmp_path, ["python", "-c", script, "/input", "/output"]))
    assert result.ok, result
    assert (tmp_path / "out" / "y.txt").read_text() == "HELLO"
    assert result.last_lines == (f"cwd {tmp_path / 'work'}",)


async def test_failure_reports_exit_code_and_last_lines(tmp_path: Path) -> None:
    script = "import sys; [print('line', i) for i in range(30)]; sys.exit(3)"
    result = await LocalExecutor(tail_lines=5).run(make_run(tmp_path, [sys.executable, "-c", script]))
    assert result.outcome == Outcome.FAILED and result.exit_code == 3
    assert result.reason == "operator 'op' exited with code 3"
    assert result.last_lines == tuple(f"line {i}" for i in range(25, 30))


async def test_missing_command_is_not_started(tmp_path: Path) -> None:
    result = await LocalExecutor().run(make_run(tmp_path, ["/no/such/operator"]))
    assert result.outcome == Outcome.NOT_STARTED
    assert result.reason.startswith("cannot run '/no/such/operator'")


# A leader that ignores SIGTERM and a child that would outlive it: both must die.
STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
open(sys.argv[1], 'w').write(str(child.pid))
print('ready', flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


async def _until_dead(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL is asynchronous: on a loaded machine the child may take a moment to be gone."""
    deadline = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} survived its group's kill"
        await asyncio.sleep(0.05)


async def _wait_for(path: Path) -> int:
    for _ in range(600):  # 30 s: two Python start-ups on a busy machine
        if path.exists() and path.read_text():
            return int(path.read_text())
        await asyncio.sleep(0.05)
    raise AssertionError("operator did not start")


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    executor = LocalExecutor(kill_grace=0.3)
    started = time.monotonic()
    result = await executor.run(make_run(tmp_path, [sys.executable, "-c", STUBBORN, str(pid_file)], timeout=1.5))
    assert result.outcome == Outcome.TIMED_OUT
    assert result.reason == "operator 'op' timed out after 1.5 s and was killed"
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    await _until_dead(child)


async def test_cancel_stops_the_process_group_within_two_seconds(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    executor = LocalExecutor(kill_grace=1.0)
    task = asyncio.create_task(executor.run(make_run(tmp_path, [sys.executable, "-c", STUBBORN, str(pid_file)])))
    child = await _wait_for(pid_file)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 2.0
    await _until_dead(child)


async def test_operator_without_command_is_refused_with_the_way_out(tmp_path: Path) -> None:
    result = await LocalExecutor().run(make_run(tmp_path, []))
    assert result.outcome == Outcome.NOT_STARTED
    assert "has no container.command" in result.reason and "executor.kind: container" in result.reason


async def test_services_need_the_container_executor(tmp_path: Path) -> None:
    run = ServiceRun(job_id="j" * 32, name="trtis", image="triton", command=(), env={}, ports=(8000,),
                     log_path=tmp_path / "s.log", ready_timeout=1.0)
    with pytest.raises(ExecutorError, match="service 'trtis' needs the container executor"):
        await LocalExecutor().start_service(run)
