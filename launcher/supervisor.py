"""`openclara up` and `openclara wait`: run the planned stack (see `stack`) as supervised child processes.

Starts the services one by one, each only once the previous answers its readiness probe, prints
the banner, supervises them, and on SIGTERM/SIGINT/SIGHUP stops them in dependency order. If one
service dies, the others are stopped too and the exit code says so. Each service writes to its log
file under `$CLARA_HOME/run/` (mirrored onto our terminal by `log_mirror`), and `run/stack.json` says
that `up` runs it (`openclara.run_files`): that is how `clara <service> logs|status` find both.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click
import httpx

from launcher.log_mirror import LogMirror
from launcher.stack import (
    EXIT_BAD_SETUP,
    EXIT_SERVICE_FAILED,
    Stack,
    StackError,
    StackMember,
    banner,
    check_ports,
    plan,
)
from openclara.https import client_tls_from_env, verify_for
from openclara.run_files import ServiceRun, StackState, log_path, open_log, remove_stack_state


def _tcp_open(address: str) -> bool:
    host, _, port = address.removeprefix("http://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def is_ready(service: StackMember) -> bool:
    """The service answers its HTTP readiness probe, or (the platform) accepts gRPC connections."""
    # Never probe the DICOM port itself: a bare connect shows up in the adapter's log as an aborted association.
    probe = service.listeners[-1]
    if service.ready_path is None:  # the platform: its gRPC port (its /metrics port may be any free one)
        probe = service.listeners[0]
        return _tcp_open(probe.address)
    try:
        # An HTTPS service is verified like every other client does (CLARA_TLS_CA_FILE, docs/security.md).
        verify = verify_for(probe.address, client_tls_from_env())
    except ValueError as exc:
        raise StackError(str(exc)) from exc
    try:
        return httpx.get(probe.address + service.ready_path, timeout=2.0, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(
    service: StackMember,
    timeout: float,
    exited: Callable[[], int | None] = lambda: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Poll until `service` is ready (or `cancelled()`); raise if its process exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not is_ready(service) and not cancelled():
        code = exited()
        if code is not None:
            raise StackError(f"the {service.title} exited during start-up ({_outcome(code)}); its message is above")
        if time.monotonic() > deadline:
            where = ", ".join(listener.address for listener in service.listeners)
            raise StackError(f"the {service.title} did not become ready at {where} within {timeout:.0f} s")
        time.sleep(0.2)


def _outcome(code: int) -> str:
    """Popen's return code in words: negative means killed by that signal."""
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _source(service: StackMember) -> str:
    return str(service.config) if service.config else "embedded defaults"


class Runner:
    """Owns the child processes: ordered start with readiness, supervision, ordered stop."""

    def __init__(self, stack: Stack, ready_timeout: float, stop_timeout: float) -> None:
        self._stack = stack
        self._ready_timeout = ready_timeout
        self._stop_timeout = stop_timeout
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._state = StackState(os.getpid())
        self.mirror = LogMirror()
        self.signals = 0

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:
            click.echo("openclara: second signal, killing the services now", err=True)
            for proc in self._procs.values():
                if proc.poll() is None:
                    proc.kill()

    def start(self) -> None:
        for service in self._stack.start_order:
            if self.signals:
                return
            log = log_path(service.name)
            click.echo(f"openclara: starting the {service.title} ({_source(service)}; log {log})", err=True)
            self.mirror.follow(log)
            with open_log(log) as sink:
                # A process group of its own: Ctrl-C in the terminal reaches only us, so we stop in order.
                proc = subprocess.Popen(service.argv(), env={**os.environ, **service.env}, process_group=0,
                                        stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
            self._procs[service.name] = proc
            wait_ready(service, self._ready_timeout, proc.poll, lambda: self.signals > 0)
            self._record(service, proc.pid, str(log))

    def _record(self, service: StackMember, pid: int, log: str) -> None:
        """Add a service that answers to run/stack.json (what `clara <service> status` reads)."""
        # The console has no CLI endpoint variable: its address is where a browser reaches it.
        endpoint = self._stack.cli_environment().get(f"CLARA_{service.name.upper()}_ENDPOINT",
                                                     service.listeners[0].address)
        self._state.services[service.name] = ServiceRun(pid, endpoint, log)
        self._state.write()

    def supervise(self) -> int:
        """Block until a signal (exit 0) or a service dies (exit 1)."""
        while not self.signals:
            dead = [s for s in self._stack.start_order if self._procs[s.name].poll() is not None]
            if dead:
                names = ", ".join(f"the {s.title} ({_outcome(self._procs[s.name].returncode)})" for s in dead)
                self.mirror.drain()
                click.echo(f"openclara: {names} stopped unexpectedly; stopping the others", err=True)
                return EXIT_SERVICE_FAILED
            time.sleep(0.3)
        return 0

    def stop(self) -> None:
        remove_stack_state(self._state.supervisor_pid)
        for service in self._stack.stop_order:
            proc = self._procs.get(service.name)
            if proc is None or proc.poll() is not None:
                continue
            click.echo(f"openclara: stopping the {service.title}", err=True)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                click.echo(
                    f"openclara: the {service.title} did not stop within {self._stop_timeout:.0f} s; killing it",
                    err=True,
                )
                proc.kill()
                proc.wait()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """openclara stack commands: run the whole stack (`up`) or wait until it answers (`wait`)."""


_CONFIG_DIR = click.option(
    "--config-dir",
    type=click.Path(path_type=Path),
    default=Path("config"),
    show_default=True,
    help="Folder with platform-server.yaml, results-service.yaml, dicom-adapter.yaml and console.yaml; "
    "a missing file means embedded defaults. CLARA_* variables override them.",
)


@cli.command()
@_CONFIG_DIR
@click.option("--ready-timeout", default=90.0, show_default=True, help="Seconds each service may take to start.")
@click.option(
    "--stop-timeout",
    default=60.0,
    show_default=True,
    help="Seconds each service may take to drain on Ctrl-C before it is killed.",
)
def up(config_dir: Path, ready_timeout: float, stop_timeout: float) -> None:
    """Run platform server, results service, DICOM adapter and console in the foreground until Ctrl-C."""
    try:
        stack = plan(config_dir)
        check_ports(stack)
    except StackError as exc:
        click.echo(f"openclara: {exc}", err=True)
        sys.exit(EXIT_BAD_SETUP)
    runner = Runner(stack, ready_timeout, stop_timeout)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # Keep an inherited "ignore" (`nohup openclara up &` must survive the terminal closing).
        if signum == signal.SIGTERM or signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, runner.on_signal)
    code = 0
    try:
        runner.start()
        if not runner.signals:
            runner.mirror.drain()
            click.echo(banner(stack), err=True)
            code = runner.supervise()
    except StackError as exc:
        runner.mirror.drain()  # the service's last words first: the message refers to them
        click.echo(f"openclara: {exc}; stopping the others", err=True)
        code = EXIT_SERVICE_FAILED
    finally:
        # Also on a bug of ours (any exception): the services started so far never outlive the supervisor.
        runner.stop()
        runner.mirror.stop()
        click.echo("openclara: stopped", err=True)
    sys.exit(code)


@cli.command()
@_CONFIG_DIR
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for all four services.")
def wait(config_dir: Path, timeout: float) -> None:
    """Wait until a stack started with `openclara up` (same config and CLARA_* variables) answers."""
    try:
        stack = plan(config_dir, resolve_any_port=False)
        deadline = time.monotonic() + timeout
        for service in stack.start_order:
            wait_ready(service, max(0.0, deadline - time.monotonic()))
    except StackError as exc:
        click.echo(f"openclara: {exc}", err=True)
        sys.exit(EXIT_SERVICE_FAILED)
    click.echo("openclara: platform, results service, DICOM adapter and console are ready", err=True)


def main() -> None:
    cli(prog_name="openclara")


if __name__ == "__main__":
    main()
