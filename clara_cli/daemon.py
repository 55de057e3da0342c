"""Run a service in the background: pid file, log file, wait until ready, stop with SIGTERM.

The file names are `openclara.run_files`'s, shared with `openclara up`, which writes the same log files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from openclara.run_files import log_path, open_log, pid_path


class DaemonError(Exception):
    """A background service did not start or stop as asked; the message says why."""


@dataclass(frozen=True)
class Daemon:
    """One background service known by its `openclara up` name (platform, results, dicom): its run/ files."""

    name: str

    @property
    def pid_file(self) -> Path:
        return pid_path(self.name)

    @property
    def log_file(self) -> Path:
        return log_path(self.name)

    def pid(self) -> int | None:
        """The pid of the running service, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return None
        except PermissionError:
            pass
        return pid

    def start(self, argv: Sequence[str], ready: Callable[[], bool], timeout: float = 30.0) -> int:
        """Spawn `argv` detached, then poll `ready` until it answers True or the process dies."""
        if (pid := self.pid()) is not None:
            raise DaemonError(f"{self.name} is already running (pid {pid}); use restart or stop")
        with open_log(self.log_file) as log:
            proc = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise DaemonError(
                    f"{self.name} exited with code {proc.returncode}; see {self.log_file}:\n{self.tail(15)}"
                )
            if ready():
                return proc.pid
            time.sleep(0.2)
        raise DaemonError(f"{self.name} did not become ready within {timeout:.0f} s; see {self.log_file}")

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM (the service drains), then SIGKILL after `timeout`. False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def tail(self, lines: int = 50) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child (tests start and stop in one process).
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def python_module_argv(module: str, *args: str) -> list[str]:
    """argv that runs `python -m module args` with this interpreter (works without console scripts on PATH)."""
    return [sys.executable, "-m", module, *args]
