"""`openclara up`: the whole stack in the foreground, one child process per service.

Starts the platform server, the results service and the DICOM adapter with the configuration files
in `config/` (or embedded defaults), forwards SIGTERM/SIGINT to all of them so each drains, and exits
when they have stopped. If one service dies, the others are stopped too and the exit code says so.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click

SERVICES = (
    ("platform", "platform_server", "platform-server.yaml"),
    ("results", "results_service", "results-service.yaml"),
    ("dicom", "dicom_adapter", "dicom-adapter.yaml"),
)


def _argv(module: str, config: Path) -> list[str]:
    argv = [sys.executable, "-m", module, "serve"]
    if config.exists():
        argv += ["-f", str(config)]
    return argv


def _stop_all(procs: dict[str, subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


@click.group()
def cli() -> None:
    """openclara stack commands."""


@cli.command()
@click.option("--config-dir", type=click.Path(path_type=Path), default=Path("config"), show_default=True)
def up(config_dir: Path) -> None:
    """Run platform server, results service and DICOM adapter until Ctrl-C."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for name, module, config in SERVICES:
        procs[name] = subprocess.Popen(_argv(module, config_dir / config))
        # The adapter and the results service talk to the platform; let it bind first.
        time.sleep(1.0 if name == "platform" else 0.2)
    click.echo(
        "openclara is up: DICOM 127.0.0.1:11112 (AE titles via `clara dicom`), platform 127.0.0.1:30031, "
        "results http://127.0.0.1:8088, adapter API http://127.0.0.1:5000. Ctrl-C stops.",
        err=True,
    )
    code = 0
    while not stopping:
        dead = [name for name, proc in procs.items() if proc.poll() is not None]
        if dead:
            click.echo(f"openclara: {', '.join(dead)} exited; stopping the others", err=True)
            code = 1
            break
        time.sleep(0.3)
    _stop_all(procs)
    sys.exit(code)


def main() -> None:
    cli(prog_name="openclara")
