"""`clara console start|stop|status`: the web console in the background, pointed at the CLI's endpoints."""

from __future__ import annotations

import os
from pathlib import Path

import click
import httpx

from clara_cli.context import CliContext, pass_cli
from clara_cli.daemon import Daemon, DaemonError, python_module_argv
from clara_cli.errors import CliError
from openclara.auth.credentials import default_path
from openclara.ports import CONSOLE_PORT, LOOPBACK

DAEMON = Daemon("console")


def _url() -> str:
    port = os.environ.get("CLARA_CONSOLE__PORT") or str(CONSOLE_PORT)
    host = os.environ.get("CLARA_CONSOLE__HOST") or LOOPBACK
    return f"http://{host}:{port}"


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/live", timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


@click.group(name="console")
def console() -> None:
    """The web console (overview, studies, pipelines, jobs, results, DICOM configuration)."""


@console.command()
@click.option("-f", "--config", "config_path", type=click.Path(exists=True, path_type=Path), help="Console YAML.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait until it answers.")
@pass_cli
def start(ctx: CliContext, config_path: Path | None, timeout: float) -> None:
    """Start the console in the background, talking to the endpoints this CLI uses."""
    # The child inherits these; a variable the user set wins, as under `openclara up`.
    for name, value in (("CLARA_CONSOLE__PLATFORM_ENDPOINT", ctx.config.platform),
                        ("CLARA_CONSOLE__RESULTS_URL", ctx.config.results),
                        ("CLARA_CONSOLE__DICOM_API_URL", ctx.config.dicom)):
        os.environ.setdefault(name, value)
    url = _url()
    args = ["serve", *(["-f", str(config_path.resolve())] if config_path else [])]
    try:
        pid = DAEMON.start(python_module_argv("console", *args), lambda: _ready(url), timeout)
    except DaemonError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"console started (pid {pid}) at {url}; log in with the admin token in {default_path()}; "
               f"log {DAEMON.log_file}")


@console.command()
def stop() -> None:
    """Stop the console."""
    click.echo("console stopped" if DAEMON.stop() else "console is not running")


@console.command()
def status() -> None:
    """Whether the console runs and answers."""
    pid, url = DAEMON.pid(), _url()
    answering = _ready(url)
    running = f"running (pid {pid})" if pid is not None else "not started by `clara console start`"
    click.echo(f"console {running}; {url} {'answers' if answering else 'does not answer'}")


def register(cli: click.Group, verbs: dict[str, click.Group]) -> None:
    """Attach `clara console ...` to the root group."""
    cli.add_command(console)
