"""`python -m platform_server serve [-f CONFIG]`: run the platform until SIGTERM / Ctrl-C / Clara.Stop."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from openclara.lifecycle import serve_until_signalled
from openclara.logs import configure_logging
from openclara.settings import ConfigError, load_settings
from platform_server.app import PlatformServer
from platform_server.settings import PlatformSettings


@click.group()
def cli() -> None:
    """openclara platform server: Clara's Platform API (pipelines, jobs, payloads, models) over gRPC."""


def _load(config: Path | None) -> PlatformSettings:
    try:
        return load_settings(PlatformSettings, config)
    except ConfigError as exc:
        click.echo(f"platform-server: invalid configuration\n{exc}", err=True)
        sys.exit(2)


@cli.command()
@click.option("-f", "--config", "config", type=click.Path(path_type=Path), default=None,
              help="YAML settings (see config/platform-server.yaml); environment CLARA_PLATFORM_* overrides it.")
def serve(config: Path | None) -> None:
    """Serve the Platform API until SIGTERM; running operators drain first."""
    settings = _load(config)
    configure_logging(settings.log.level, settings.log.format)
    try:
        asyncio.run(serve_until_signalled(PlatformServer(settings), "platform_server"))
    except OSError as exc:
        click.echo(f"platform-server: {exc}", err=True)
        sys.exit(1)


@cli.command("check-config")
@click.option("-f", "--config", "config", type=click.Path(path_type=Path), default=None)
def check_config(config: Path | None) -> None:
    """Validate the configuration and print the effective settings as JSON."""
    click.echo(_load(config).model_dump_json(indent=2))


def main() -> None:
    cli(prog_name="platform-server")


if __name__ == "__main__":
    main()
