"""`openclara up`: the whole stack in the foreground, one child process per service; `openclara wait`.

`up` reads the three configuration files in `config/` (or embedded defaults) plus `CLARA_*` environment
overrides exactly as the services will, reports every configuration error and every taken port before
starting anything, points the services at each other, starts them one by one (each must answer its
readiness probe before the next starts), then prints the real endpoints. SIGTERM/SIGINT/SIGHUP stop them
in dependency order: the DICOM adapter (no new jobs), the platform (running jobs drain while the results
service can still take their results), then the results service. If one service dies, the others are
stopped too and the exit code says so.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TypeVar

import click
import httpx

from dicom_adapter.settings import AdapterSettings, apply_clara_environment
from openclara.paths import clara_home
from openclara.settings import ConfigError, load_settings
from platform_server.settings import PlatformSettings
from results_service.settings import ResultsSettings

LOOPBACK = "127.0.0.1"
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})
# Exit codes: a service failed (1) versus nothing was started because the setup is wrong (2).
EXIT_SERVICE_FAILED = 1
EXIT_BAD_SETUP = 2


S = TypeVar("S", PlatformSettings, ResultsSettings, AdapterSettings)


class StackError(Exception):
    """The stack cannot start or did not come up; the message says what to change."""


@dataclass(frozen=True)
class Listener:
    """One address a service listens on, and the environment variable that moves it."""

    label: str
    host: str
    port: int
    env_var: str
    scheme: str = ""

    @property
    def address(self) -> str:
        """Where a client on this machine connects (a wildcard listen address is reached over loopback)."""
        host = LOOPBACK if self.host in _WILDCARDS else self.host
        return f"{self.scheme}{host}:{self.port}"


@dataclass(frozen=True)
class Service:
    """One child process of the stack."""

    name: str
    title: str
    module: str
    config: Path | None
    listeners: tuple[Listener, ...]
    ready_path: str | None  # HTTP readiness probe on the last listener; None = TCP connect is enough
    env: dict[str, str] = field(default_factory=dict)

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", self.module, "serve"]
        return argv + ["-f", str(self.config)] if self.config is not None else argv


@dataclass(frozen=True)
class Stack:
    """The three services in start order, with the endpoints the `clara` CLI needs."""

    platform: Service
    results: Service
    dicom: Service

    @property
    def start_order(self) -> tuple[Service, ...]:
        return (self.platform, self.results, self.dicom)

    @property
    def stop_order(self) -> tuple[Service, ...]:
        return (self.dicom, self.platform, self.results)

    def cli_environment(self) -> dict[str, str]:
        """The `clara` CLI's endpoint variables for this stack."""
        return {
            "CLARA_PLATFORM_ENDPOINT": self.platform.listeners[0].address,
            "CLARA_RESULTS_ENDPOINT": self.results.listeners[0].address,
            "CLARA_DICOM_ENDPOINT": self.dicom.listeners[1].address,
        }


def _config_file(config_dir: Path, name: str) -> Path | None:
    path = config_dir / name
    return path if path.exists() else None


def _load_all(config_dir: Path) -> tuple[PlatformSettings, ResultsSettings, AdapterSettings]:
    """Load the three settings like the services do, reporting every service's errors together."""
    problems: list[str] = []

    def load(name: str, cls: type[S]) -> S | None:
        try:
            return load_settings(cls, _config_file(config_dir, f"{name}.yaml"))
        except ConfigError as exc:
            problems.append(f"{name}: {exc}")
            return None

    platform = load("platform-server", PlatformSettings)
    results = load("results-service", ResultsSettings)
    adapter = load("dicom-adapter", AdapterSettings)
    if platform is None or results is None or adapter is None:
        raise StackError("invalid configuration, nothing was started\n" + "\n".join(problems))
    return platform, results, apply_clara_environment(adapter)


def _any_free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host if host not in _WILDCARDS else "", 0))
        return int(sock.getsockname()[1])


def _listener(label: str, host: str, port: int, env_var: str, env: dict[str, str] | None, scheme: str = "") -> Listener:
    """A listener. Port 0 ("any free port") is resolved here, so `up` can print and wire the real port;
    without `env` (`openclara wait`) there is no way to know which port a running service picked."""
    if port == 0:
        if env is None:
            raise StackError(
                f"{label} is configured with port 0 (any free port): wait cannot know which; "
                f"set {env_var} to a fixed port"
            )
        port = _any_free_port(host)
        env[env_var] = str(port)
    return Listener(label, host, port, env_var, scheme)


def plan(config_dir: Path, environ: Mapping[str, str] | None = None, resolve_any_port: bool = True) -> Stack:
    """Settings -> the three services, their real listeners and the environment that connects them."""
    environ = os.environ if environ is None else environ
    ps, rs, ds = _load_all(config_dir)
    p_env: dict[str, str] = {}
    r_env: dict[str, str] = {}
    d_env: dict[str, str] = {}
    p_any, r_any, d_any = (p_env, r_env, d_env) if resolve_any_port else (None, None, None)
    grpc = _listener("Platform API (gRPC)", ps.server.host, ps.server.port, "CLARA_PLATFORM_SERVER__PORT", p_any)
    rest = _listener("results service", rs.host, rs.port, "CLARA_RESULTS_PORT", r_any, "http://")
    scp = _listener("DICOM SCP", ds.scp.host, ds.scp.port, "CLARA_DICOM_SCP__PORT", d_any)
    api = _listener("adapter REST API", ds.api.host, ds.api.port, "CLARA_DICOM_API__PORT", d_any, "http://")
    # `up` runs the three together, so each one is pointed at the others; a variable the user set wins.
    wiring = (
        (p_env, "CLARA_PLATFORM_RESULTS_SERVICE__URL", rest.address),
        (r_env, "CLARA_RESULTS_PLATFORM_ENDPOINT", grpc.address),
        (d_env, "CLARA_DICOM_PLATFORM__ENDPOINT", grpc.address),
        (d_env, "CLARA_DICOM_RESULTS__ENDPOINT", rest.address),
    )
    for env, name, value in wiring:
        if name not in environ:
            env[name] = value
    return Stack(
        platform=_service("platform", config_dir, (grpc,), p_env),
        results=_service("results", config_dir, (rest,), r_env),
        dicom=_service("dicom", config_dir, (scp, api), d_env),
    )


# name -> (title, module, config file, HTTP readiness path; None = the gRPC port accepting connections)
_SERVICES = {
    "platform": ("platform server", "platform_server", "platform-server.yaml", None),
    "results": ("results service", "results_service", "results-service.yaml", "/health/ready"),
    "dicom": ("DICOM adapter", "dicom_adapter", "dicom-adapter.yaml", "/health/ready"),
}


def _service(name: str, config_dir: Path, listeners: tuple[Listener, ...], env: dict[str, str]) -> Service:
    title, module, config, ready_path = _SERVICES[name]
    return Service(name, title, module, _config_file(config_dir, config), listeners, ready_path, env)


def check_ports(stack: Stack) -> None:
    """Refuse to start when any port is taken, naming the variable that moves it."""
    problems = []
    for service in stack.start_order:
        for listener in service.listeners:
            problem = _bind_problem(listener)
            if problem:
                problems.append(
                    f"{listener.label} {listener.host}:{listener.port}: {problem}; "
                    f"choose another port with {listener.env_var}=<port> (0 = any free port)"
                )
    if problems:
        raise StackError("cannot start, nothing was started:\n  " + "\n  ".join(problems))


def _bind_problem(listener: Listener) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so a port with only TIME_WAIT connections counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((listener.host if listener.host not in _WILDCARDS else "", listener.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is in use by another program (see `ss -ltnp`)"
            return f"cannot listen there ({exc.strerror})"
    return None


def _tcp_open(address: str) -> bool:
    host, _, port = address.removeprefix("http://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def is_ready(service: Service) -> bool:
    """The service answers its HTTP readiness probe, or (the platform) accepts gRPC connections."""
    # Never probe the DICOM port itself: a bare connect shows up in the adapter's log as an aborted association.
    probe = service.listeners[-1]
    if service.ready_path is None:
        return _tcp_open(probe.address)
    try:
        return httpx.get(probe.address + service.ready_path, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(
    service: Service,
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


_HINTS = {
    "CLARA_PLATFORM_SERVER__PORT": "clara list jobs --all",
    "CLARA_RESULTS_PORT": "clara results list",
    "CLARA_DICOM_SCP__PORT": "PACS send here: clara dicom list aetitles",
    "CLARA_DICOM_API__PORT": "clara dicom status",
}
_CLI_DEFAULTS = {
    "CLARA_PLATFORM_ENDPOINT": "127.0.0.1:30031",
    "CLARA_RESULTS_ENDPOINT": "http://127.0.0.1:8088",
    "CLARA_DICOM_ENDPOINT": "http://127.0.0.1:5000",
}


def banner(stack: Stack) -> str:
    """What `up` prints once every service answers."""
    listeners = [listener for service in stack.start_order for listener in service.listeners]
    lines = [f"openclara is up (state in {clara_home()}):"]
    lines += [f"  {item.label:<20} {item.address:<24} {_HINTS[item.env_var]}" for item in listeners]
    cli_env = stack.cli_environment()
    if cli_env != _CLI_DEFAULTS:
        exports = " ".join(f"{key}={value}" for key, value in cli_env.items())
        lines.append(f"Not the default endpoints: in another shell run `export {exports}` before `clara ...`.")
    lines.append("Ctrl-C or SIGTERM stops the DICOM adapter, then the platform, then the results service.")
    return "\n".join(lines)


def _outcome(code: int) -> str:
    """Popen's return code in words: negative means killed by that signal."""
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _source(service: Service) -> str:
    return str(service.config) if service.config else "embedded defaults"


class Runner:
    """Owns the child processes: ordered start with readiness, supervision, ordered stop."""

    def __init__(self, stack: Stack, ready_timeout: float, stop_timeout: float) -> None:
        self._stack = stack
        self._ready_timeout = ready_timeout
        self._stop_timeout = stop_timeout
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
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
            click.echo(f"openclara: starting the {service.title} ({_source(service)})", err=True)
            # A process group of its own: Ctrl-C in the terminal reaches only us, so we stop in order.
            proc = subprocess.Popen(service.argv(), env={**os.environ, **service.env}, process_group=0)
            self._procs[service.name] = proc
            wait_ready(service, self._ready_timeout, proc.poll, lambda: self.signals > 0)

    def supervise(self) -> int:
        """Block until a signal (exit 0) or a service dies (exit 1)."""
        while not self.signals:
            dead = [s for s in self._stack.start_order if self._procs[s.name].poll() is not None]
            if dead:
                names = ", ".join(f"the {s.title} ({_outcome(self._procs[s.name].returncode)})" for s in dead)
                click.echo(f"openclara: {names} stopped unexpectedly; stopping the others", err=True)
                return EXIT_SERVICE_FAILED
            time.sleep(0.3)
        return 0

    def stop(self) -> None:
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
    help="Folder with platform-server.yaml, results-service.yaml and dicom-adapter.yaml; "
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
    """Run platform server, results service and DICOM adapter in the foreground until Ctrl-C."""
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
            click.echo(banner(stack), err=True)
            code = runner.supervise()
    except StackError as exc:
        click.echo(f"openclara: {exc}; stopping the others", err=True)
        code = EXIT_SERVICE_FAILED
    runner.stop()
    click.echo("openclara: stopped", err=True)
    sys.exit(code)


@cli.command()
@_CONFIG_DIR
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for all three services.")
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
    click.echo("openclara: platform, results service and DICOM adapter are ready", err=True)


def main() -> None:
    cli(prog_name="openclara")


if __name__ == "__main__":
    main()
