"""The embedded stack as a plan: which services, on which ports, wired to each other.

`plan` reads the three configuration files in `config/` (or embedded defaults) plus `CLARA_*` environment
overrides exactly as the services will and reports every configuration error together; `check_ports`
names every taken port and the variable that moves it; `banner` is what `openclara up` prints once all
answer. `supervisor` runs the plan: start in dependency order, each service only once the previous
answers its readiness probe; stop in reverse (adapter, platform, results service).
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from console.settings import ConsoleSettings
from dicom_adapter.settings import AdapterSettings, apply_clara_environment
from openclara.auth.credentials import default_path
from openclara.grpc_tls import ENV_CA as ENV_PLATFORM_CA
from openclara.https import ENV_CA_FILE
from openclara.metrics import PATH as METRICS_PATH
from openclara.paths import clara_home
from openclara.ports import DICOM_API_URL, PLATFORM_ENDPOINT, RESULTS_URL
from openclara.settings import ConfigError, load_settings
from platform_server.settings import PlatformSettings
from results_service.settings import ResultsSettings

LOOPBACK = "127.0.0.1"
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})
# Exit codes: a service failed (1) versus nothing was started because the setup is wrong (2).
EXIT_SERVICE_FAILED = 1
EXIT_BAD_SETUP = 2


S = TypeVar("S", PlatformSettings, ResultsSettings, AdapterSettings, ConsoleSettings)


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
class StackMember:
    """One service of the stack as the supervisor runs it: a child process, its listeners and readiness probe."""

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
    """The three services and the console in start order, with the endpoints the `clara` CLI needs."""

    platform: StackMember
    results: StackMember
    dicom: StackMember
    console: StackMember
    operators: str = "host processes (executor.kind: local)"

    @property
    def start_order(self) -> tuple[StackMember, ...]:
        return (self.platform, self.results, self.dicom, self.console)

    @property
    def stop_order(self) -> tuple[StackMember, ...]:
        return (self.console, self.dicom, self.platform, self.results)

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


def _load_all(config_dir: Path) -> tuple[PlatformSettings, ResultsSettings, AdapterSettings, ConsoleSettings]:
    """Load the four settings like the services do, reporting every service's errors together."""
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
    console = load("console", ConsoleSettings)
    if platform is None or results is None or adapter is None or console is None:
        raise StackError("invalid configuration, nothing was started\n" + "\n".join(problems))
    return platform, results, apply_clara_environment(adapter), console


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


def _scheme(tls: bool) -> str:
    return "https://" if tls else "http://"


def plan(config_dir: Path, environ: Mapping[str, str] | None = None, resolve_any_port: bool = True) -> Stack:
    """Settings -> the three services, their real listeners and the environment that connects them."""
    environ = os.environ if environ is None else environ
    ps, rs, ds, cs = _load_all(config_dir)
    p_env: dict[str, str] = {}
    r_env: dict[str, str] = {}
    d_env: dict[str, str] = {}
    c_env: dict[str, str] = {}
    p_any, r_any, d_any, c_any = (p_env, r_env, d_env, c_env) if resolve_any_port else (None, None, None, None)
    grpc = _listener("Platform API (gRPC)", ps.server.host, ps.server.port, "CLARA_PLATFORM_SERVER__PORT", p_any)
    platform_listeners: tuple[Listener, ...] = (grpc,)
    if ps.metrics.enabled:
        # metrics_port: as the platform computes it (set, else the API's + 1, else any free port with an API on 0).
        metrics = _listener("platform metrics", ps.metrics_host, ps.metrics_port, "CLARA_PLATFORM_METRICS__PORT",
                            p_any, _scheme(ps.server.tls.enabled))
        platform_listeners += (metrics,)
    rest = _listener("results service", rs.host, rs.port, "CLARA_RESULTS_PORT", r_any, _scheme(rs.tls.enabled))
    scp = _listener("DICOM SCP", ds.scp.host, ds.scp.port, "CLARA_DICOM_SCP__PORT", d_any)
    api = _listener("adapter REST API", ds.api.host, ds.api.port, "CLARA_DICOM_API__PORT", d_any,
                    _scheme(ds.api.tls.enabled))
    web = _listener("console", cs.host, cs.port, "CLARA_CONSOLE__PORT", c_any, "http://")
    # `up` runs the three together, so each one is pointed at the others; a variable the user set wins.
    wiring: tuple[tuple[dict[str, str], str, str], ...] = (
        (p_env, "CLARA_PLATFORM_RESULTS_SERVICE__URL", rest.address),
        (r_env, "CLARA_RESULTS_PLATFORM_ENDPOINT", grpc.address),
        (d_env, "CLARA_DICOM_PLATFORM__ENDPOINT", grpc.address),
        (d_env, "CLARA_DICOM_RESULTS__ENDPOINT", rest.address),
        (c_env, "CLARA_CONSOLE__PLATFORM_ENDPOINT", grpc.address),
        (c_env, "CLARA_CONSOLE__RESULTS_URL", rest.address),
        (c_env, "CLARA_CONSOLE__DICOM_API_URL", api.address),
    )
    if ps.metrics.enabled:  # the console's overview reads it; its default (the API's port + 1) may be wrong here
        wiring += ((c_env, "CLARA_CONSOLE__PLATFORM_METRICS_URL", f"{metrics.address}{METRICS_PATH}"),)
    if rs.tls.enabled and environ.get(ENV_CA_FILE):  # the CA the CLI trusts serves the platform's clients too
        wiring += ((p_env, "CLARA_PLATFORM_RESULTS_SERVICE__CA_FILE", environ[ENV_CA_FILE]),
                   (d_env, "CLARA_DICOM_RESULTS__TLS__CA_FILE", environ[ENV_CA_FILE]))
    if ps.server.tls.enabled and environ.get(ENV_PLATFORM_CA):  # the CA the CLI trusts for gRPC, likewise
        wiring += ((r_env, "CLARA_RESULTS_PLATFORM_TLS__ENABLED", "true"),
                   (r_env, "CLARA_RESULTS_PLATFORM_TLS__CA_FILE", environ[ENV_PLATFORM_CA]),
                   (d_env, "CLARA_DICOM_PLATFORM__TLS__ENABLED", "true"),
                   (d_env, "CLARA_DICOM_PLATFORM__TLS__CA_FILE", environ[ENV_PLATFORM_CA]))
    for env, name, value in wiring:
        if name not in environ:
            env[name] = value
    return Stack(
        platform=_service("platform", config_dir, platform_listeners, p_env),
        results=_service("results", config_dir, (rest,), r_env),
        dicom=_service("dicom", config_dir, (scp, api), d_env),
        console=_service("console", config_dir, (web,), c_env),
        operators=_operators(ps),
    )


def _operators(settings: PlatformSettings) -> str:
    if settings.executor.kind == "local":
        return "host processes (executor.kind: local)"
    if settings.executor.kind == "kubernetes":
        namespace = settings.executor.kubernetes.namespace or "the kubeconfig's namespace"
        return f"Kubernetes pods in {namespace} (executor.kind: kubernetes, docs/kubernetes.md)"
    return f"{settings.executor.container.engine} containers (executor.kind: container, docs/containers.md)"


# name -> (title, module, config file, HTTP readiness path; None = the gRPC port accepting connections)
_SERVICES = {
    "platform": ("platform server", "platform_server", "platform-server.yaml", None),
    "results": ("results service", "results_service", "results-service.yaml", "/health/ready"),
    "dicom": ("DICOM adapter", "dicom_adapter", "dicom-adapter.yaml", "/health/ready"),
    "console": ("console", "console", "console.yaml", "/health/live"),
}


def _service(name: str, config_dir: Path, listeners: tuple[Listener, ...], env: dict[str, str]) -> StackMember:
    title, module, config, ready_path = _SERVICES[name]
    return StackMember(name, title, module, _config_file(config_dir, config), listeners, ready_path, env)


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


_HINTS = {
    "CLARA_PLATFORM_SERVER__PORT": "clara list jobs --all",
    "CLARA_PLATFORM_METRICS__PORT": "Prometheus scrapes /metrics (read-only token, docs/monitoring.md)",
    "CLARA_RESULTS_PORT": "clara results list",
    "CLARA_DICOM_SCP__PORT": "PACS send here: clara dicom list aetitles",
    "CLARA_DICOM_API__PORT": "clara dicom status",
    "CLARA_CONSOLE__PORT": "open in a browser; log in with the admin token below",
}
_CLI_DEFAULTS = {
    "CLARA_PLATFORM_ENDPOINT": PLATFORM_ENDPOINT,
    "CLARA_RESULTS_ENDPOINT": RESULTS_URL,
    "CLARA_DICOM_ENDPOINT": DICOM_API_URL,
}


def banner(stack: Stack) -> str:
    """What `up` prints once every service answers."""
    listeners = [listener for service in stack.start_order for listener in service.listeners]
    lines = [f"openclara is up (state in {clara_home()}):"]
    lines += [f"  {item.label:<20} {item.address:<24} {_HINTS[item.env_var]}" for item in listeners]
    lines.append(f"  {'operators run as':<20} {stack.operators}")
    lines.append(f"  {'API tokens':<20} {default_path()} (0600; clara reads it, docs/security.md)")
    cli_env = stack.cli_environment()
    if cli_env != _CLI_DEFAULTS:
        exports = " ".join(f"{key}={value}" for key, value in cli_env.items())
        lines.append(f"Not the default endpoints: in another shell run `export {exports}` before `clara ...`.")
    lines.append("Ctrl-C or SIGTERM stops the console, the DICOM adapter, then the platform, then the results service.")
    return "\n".join(lines)
