"""Who runs a service on this machine, and what to tell the user when it does not answer.

A service runs here when `clara <service> start` did it (its pid file, `daemon`) or `openclara up`
(`scripts/run`) does (`run/stack.json`, `openclara.run_files`); both write `run/<service>.log`. `status`
and `logs` of every plugin, and every "not reachable" message, read them through this module, so
the hint matches how the stack really runs: the endpoint `up` moved a service to, its log, or the
start command when nothing runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import click

from clara_cli.daemon import Daemon
from clara_cli.errors import CliError
from openclara.paths import clara_home
from openclara.run_files import read_stack_state


@dataclass(frozen=True)
class ServiceCli:
    """How the CLI names one service: its `openclara up` name, words, and the variable of its endpoint."""

    name: str
    title: str
    env_var: str

    @property
    def daemon(self) -> Daemon:
        return Daemon(self.name)


PLATFORM = ServiceCli("platform", "platform", "CLARA_PLATFORM_ENDPOINT")
RESULTS = ServiceCli("results", "results service", "CLARA_RESULTS_ENDPOINT")
DICOM = ServiceCli("dicom", "DICOM adapter", "CLARA_DICOM_ENDPOINT")


def run_by(service: ServiceCli) -> dict[str, Any]:
    """`run_by`, `pid` and `log` for `status`: who started the service here, if anyone."""
    log = service.daemon.log_file
    fields: dict[str, Any] = {"log": str(log) if log.exists() else "none"}
    pid = service.daemon.pid()
    if pid is not None:
        return {"run_by": f"clara {service.name} start", "pid": pid, **fields}
    state = read_stack_state()
    run = state.services.get(service.name) if state else None
    if state is not None and run is not None:
        return {"run_by": f"openclara up (pid {state.supervisor_pid})", "pid": run.pid, **fields}
    # An answer without either: systemd, a container, another machine, another CLARA_HOME.
    return {"run_by": "not started on this machine (or under another CLARA_HOME)", "pid": None, **fields}


def not_answering_hint(service: ServiceCli, endpoint: str) -> str:
    """What to do when `endpoint` does not answer, given who runs the service here."""
    state = read_stack_state()
    run = state.services.get(service.name) if state else None
    if run is not None and run.endpoint.rstrip("/") != endpoint.rstrip("/"):
        return f"openclara up runs the {service.title} at {run.endpoint}: export {service.env_var}={run.endpoint}"
    if run is not None:
        return f"openclara up runs it (pid {run.pid}) but it does not answer; see `clara {service.name} logs`"
    if state is not None:
        return (f"openclara up (pid {state.supervisor_pid}) is still starting it; "
                "`openclara wait` returns once it answers")
    pid = service.daemon.pid()
    if pid is not None:
        return (f"`clara {service.name} start` runs it (pid {pid}); see `clara {service.name} logs`, and if it "
                f"listens elsewhere set {service.env_var}")
    return f"start it with `clara {service.name} start`, or the whole stack with `scripts/run` (`openclara up`)"


def refuse_when_up_runs_it(service: ServiceCli) -> None:
    """`clara <service> start|restart` next to `openclara up`: a second copy would only find its ports taken."""
    state = read_stack_state()
    run = state.services.get(service.name) if state else None
    if state is not None and run is not None:
        raise CliError(
            f"openclara up (pid {state.supervisor_pid}) runs the {service.title} already (pid {run.pid}, "
            f"{run.endpoint}); stop it with Ctrl-C in its terminal or `kill {state.supervisor_pid}`"
        )


def print_log(service: ServiceCli, lines: int, follow: bool) -> None:
    """The last `lines` of the service's log, then (with `follow`) what is appended until Ctrl-C."""
    path = service.daemon.log_file
    if not path.exists():
        raise CliError(
            f"no {service.title} log at {path}: neither `clara {service.name} start` nor `openclara up` "
            f"started it with CLARA_HOME={clara_home()} (a service manager or container keeps its own log)"
        )
    text = service.daemon.tail(lines)
    if text:
        click.echo(text)
    if follow:
        _follow(path)


def _follow(path: Any) -> None:
    with path.open(errors="replace") as handle:
        handle.seek(0, 2)
        try:
            while True:
                line = handle.readline()
                if line:
                    click.echo(line, nl=False)
                else:
                    time.sleep(0.3)
        except KeyboardInterrupt:
            return


def logs_command(service: ServiceCli) -> click.Command:
    """`clara <service> logs [-f] [-n N]`."""

    @click.command(name="logs")
    @click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
    @click.option("-n", "--lines", default=50, show_default=True, help="How many of the last lines to print first.")
    def logs(follow: bool, lines: int) -> None:
        print_log(service, lines, follow)

    logs.help = (f"Print the {service.title}'s log ($CLARA_HOME/run/, written by `clara {service.name} start` "
                 "or `openclara up`).")
    return logs
