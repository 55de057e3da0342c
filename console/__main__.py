"""`python -m console serve [-f CONFIG]` and `config validate|show`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from console.server import ConsoleService
from console.settings import ConsoleSettings
from openclara import service_cli
from openclara.lifecycle import serve_until_signalled
from openclara.logs import configure_logging

config_option = service_cli.config_option("config/console.yaml", "CLARA_CONSOLE__")


def _load(config_path: Path | None) -> ConsoleSettings:
    return service_cli.load_or_exit(ConsoleSettings, config_path, "console")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """openclara console: the web app over the platform, the results service and the DICOM adapter."""


@cli.command()
@config_option
def serve(config_path: Path | None) -> None:
    """Serve the console until SIGTERM/SIGINT."""
    settings = _load(config_path)
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve_until_signalled(ConsoleService(settings), "console"))
    except OSError as exc:
        click.echo(f"console: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", err=True)
        sys.exit(1)


cli.add_command(service_cli.config_commands(_load, config_option))


def main() -> None:
    cli(prog_name="console")


if __name__ == "__main__":
    main()
