"""LocalExecutor, the embedded default: each operator's `container.command` runs as a local process.

There are no containers, so the operator's declared `path`s cannot be mounted. Instead:

* argv elements and `variables` values equal to a declared path, or starting with `<path>/`, are
  rewritten to the real folder (longest path first), e.g. `/input/series` -> `<payload>/input/series`;
* `NVIDIA_CLARA_INPUTPATHS` / `NVIDIA_CLARA_OUTPUTPATHS` list `label:real_path` pairs joined by `;`
  (label = the input/output `name`, else the upstream operator, else `payload`);
  `OPENCLARA_PATH_MAP` lists `container_path=real_path` pairs joined by `;`;
* `python` / `python3` as the command resolve to the platform's own interpreter, so bundled
  operators (`python -m pipeline_operators.<name>`) find the installed packages;
* the process runs in its own session (process group) with cwd = a per-operator work folder; stdout
  and stderr go to the operator's log file. Timeout and cancel stop the whole group: SIGTERM, then
  SIGKILL after `kill_grace` seconds. The leader's pid is kept in `<work>/operator.pid` while it
  runs, so that after a platform crash `reap` can kill operators that outlived it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import structlog

from platform_server.executors.base import (
    ExecutorError,
    Mount,
    OperatorResult,
    OperatorRun,
    Outcome,
    ServiceRun,
    tail,
)

log = structlog.get_logger()
PID_FILE = "operator.pid"


class PathMapper:
    """Rewrites container paths declared by an operator to the real folders behind them."""

    def __init__(self, mounts: Iterable[Mount]) -> None:
        self._pairs = sorted(((m.container_path, str(m.host_path)) for m in mounts), key=lambda p: -len(p[0]))

    def __call__(self, value: str) -> str:
        for container, host in self._pairs:
            if value == container:
                return host
            if value.startswith(container.rstrip("/") + "/"):
                return host + value[len(container.rstrip("/")):]
        return value

    def describe(self) -> str:
        return ";".join(f"{c}={h}" for c, h in self._pairs)


def _pairs(mounts: Iterable[Mount]) -> str:
    return ";".join(f"{m.label}:{m.host_path}" for m in mounts)


def build_environment(run: OperatorRun, base: Mapping[str, str]) -> dict[str, str]:
    """The process environment: inherited, then the run's variables (paths rewritten), then path lists."""
    mapper = PathMapper((*run.inputs, *run.outputs))
    env = dict(base)
    # Payload mounts name container paths, which do not exist here; OPENCLARA_PAYLOAD_PATH says it all.
    env.update({key: mapper(value) for key, value in run.env.items() if key != "OPENCLARA_PAYLOAD_MOUNTS"})
    env["NVIDIA_CLARA_INPUTPATHS"] = _pairs(run.inputs)
    env["NVIDIA_CLARA_OUTPUTPATHS"] = _pairs(run.outputs)
    env["OPENCLARA_PATH_MAP"] = mapper.describe()
    if run.resources.gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in run.resources.gpu_ids)
    return env


def build_argv(run: OperatorRun, python: str) -> list[str]:
    mapper = PathMapper((*run.inputs, *run.outputs))
    argv = [mapper(arg) for arg in run.command]
    if argv and argv[0] in ("python", "python3"):
        argv[0] = python
    return argv


class LocalExecutor:
    def __init__(self, kill_grace: float = 1.0, tail_lines: int = 20, python: str = sys.executable) -> None:
        self._kill_grace = kill_grace
        self._tail_lines = tail_lines
        self._python = python

    async def start(self) -> str:
        return f"host processes ({self._python})"

    async def close(self) -> None:
        return None

    async def begin_job(self, job_id: str, service_ports: tuple[int, ...]) -> None:
        return None

    async def end_job(self, job_id: str) -> None:
        return None

    async def start_service(self, run: ServiceRun) -> Mapping[int, str]:
        raise ExecutorError(f"service {run.name!r} needs the container executor: the local executor runs only "
                            "host processes (set executor.kind: container in config/platform-server.yaml)")

    async def run(self, run: OperatorRun) -> OperatorResult:
        if not run.command:
            reason = (f"operator {run.operator!r} has no container.command: the local executor runs host commands, "
                      f"not the entrypoint of {run.image or 'an image'} (set executor.kind: container in "
                      "config/platform-server.yaml, or give the operator a command)")
            return OperatorResult(Outcome.NOT_STARTED, None, (reason,), reason)
        argv = build_argv(run, self._python)
        env = build_environment(run, os.environ)
        run.work_dir.mkdir(parents=True, exist_ok=True)
        for mount in run.outputs:
            mount.host_path.mkdir(parents=True, exist_ok=True)
        run.log_path.parent.mkdir(parents=True, exist_ok=True)
        with run.log_path.open("ab") as sink:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, cwd=run.work_dir, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=sink,
                    stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                )
            except OSError as exc:
                reason = f"cannot run {argv[0]!r}: {exc.strerror or exc}"
                sink.write(f"openclara: {reason}\n".encode())
                return OperatorResult(Outcome.NOT_STARTED, None, (reason,), reason)
        log.info("executor.operator.started", job_id=run.job_id, operator=run.operator, pid=proc.pid)
        pid_file = run.work_dir / PID_FILE
        pid_file.write_text(str(proc.pid))
        try:
            return await self._wait(run, proc)
        finally:
            pid_file.unlink(missing_ok=True)

    async def _wait(self, run: OperatorRun, proc: asyncio.subprocess.Process) -> OperatorResult:
        try:
            code = await asyncio.wait_for(proc.wait(), timeout=run.timeout)
        except TimeoutError:
            await self._stop(proc)
            reason = f"operator {run.operator!r} timed out after {run.timeout:g} s and was killed"
            return OperatorResult(Outcome.TIMED_OUT, proc.returncode, tail(run.log_path, self._tail_lines), reason)
        except asyncio.CancelledError:
            await asyncio.shield(self._stop(proc))
            raise
        _kill_group(proc.pid, signal.SIGKILL)  # leftovers the operator forked and forgot
        lines = tail(run.log_path, self._tail_lines)
        if code == 0:
            return OperatorResult(Outcome.COMPLETED, 0, lines)
        return OperatorResult(Outcome.FAILED, code, lines, f"operator {run.operator!r} exited with code {code}")

    async def reap(self, job_id: str, work_dir: Path) -> int:
        """Kill process groups left by a crashed platform, if they still carry this job's id in their environment."""
        killed = 0
        for pid_file in work_dir.glob(f"*/{PID_FILE}"):
            try:
                pid = int(pid_file.read_text())
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except (OSError, ValueError):
                continue
            # Pids are reused: only a process that carries this job's id is ours to kill.
            if f"NVIDIA_CLARA_JOBID={job_id}".encode() in environ.split(b"\0"):
                _kill_group(pid, signal.SIGKILL)
                killed += 1
                log.warning("executor.operator.reaped", job_id=job_id, pid=pid)
            pid_file.unlink(missing_ok=True)
        return killed

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM the process group, SIGKILL it after the grace period, and reap the leader."""
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=self._kill_grace)
        except TimeoutError:
            pass
        _kill_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
