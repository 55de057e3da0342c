"""The files under `$CLARA_HOME/run` that say who runs which service on this machine, and where its log is.

    run/<file name>.log   each service's output, written by whoever starts it: `clara <service> start`
                          (clara_cli/daemon.py) or `openclara up` (launcher/supervisor.py), so
                          `clara <service> logs` finds it either way
    run/<file name>.pid   `clara <service> start` only
    run/stack.json        `openclara up` only: its own pid, each service's pid and the endpoint the CLI uses

Logs may hold patient data at DEBUG, so every file here is created readable by its owner only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from openclara.paths import run_dir

FILE_MODE = 0o600
# The service names `openclara up` and the CLI's plugins use -> the name of their files in run/.
FILE_NAMES = {"platform": "platform", "results": "results", "dicom": "dicom-adapter", "console": "console"}
STACK_STATE = "stack.json"


def log_path(service: str) -> Path:
    return run_dir() / f"{FILE_NAMES[service]}.log"


def pid_path(service: str) -> Path:
    return run_dir() / f"{FILE_NAMES[service]}.pid"


def open_log(path: Path) -> BinaryIO:
    """`path` opened for appending (created 0600, with run/): a child's stdout and stderr."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE), "ab")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


@dataclass(frozen=True)
class ServiceRun:
    """One service as `openclara up` runs it."""

    pid: int
    endpoint: str  # where the `clara` CLI reaches it (CLARA_<SERVICE>_ENDPOINT)
    log: str


@dataclass(frozen=True)
class StackState:
    """What `openclara up` writes once a service answers, and removes when it stops."""

    supervisor_pid: int
    services: dict[str, ServiceRun] = field(default_factory=dict)

    def write(self) -> None:
        """Replace run/stack.json atomically (a reader never sees half a file)."""
        path = run_dir() / STACK_STATE
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{STACK_STATE}.{os.getpid()}")
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "w") as handle:
            json.dump(asdict(self), handle, indent=2)
        temporary.replace(path)


def read_stack_state() -> StackState | None:
    """The running `openclara up`'s state; None when there is none (or its supervisor is gone)."""
    try:
        data = json.loads((run_dir() / STACK_STATE).read_text())
        state = StackState(
            int(data["supervisor_pid"]),
            {name: ServiceRun(int(run["pid"]), str(run["endpoint"]), str(run["log"]))
             for name, run in data["services"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if pid_alive(state.supervisor_pid) else None


def remove_stack_state(supervisor_pid: int) -> None:
    """Remove run/stack.json if it is this supervisor's (a second `up` that refused to start leaves the first's)."""
    path = run_dir() / STACK_STATE
    try:
        if int(json.loads(path.read_text())["supervisor_pid"]) == supervisor_pid:
            path.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        pass
