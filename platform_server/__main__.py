"""`python -m platform_server serve|config validate|config show [-f CONFIG]`.

The same entry points as `python -m dicom_adapter` and `python -m results_service`; `check-config`
(the earlier name of `config show`) still works but is no longer listed.
"""

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

EXIT_CONFIG = 2

config_option = click.option(
    "-f", "--config", "config", type=click.Path(path_type=Path), default=None,
    help="YAML settings (see config/platform-server.yaml); environment CLARA_PLATFORM_* overrides it.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """openclara platform server: Clara's Platform API (pipelines, jobs, payloads, models) over gRPC."""


def _load(config: Path | None) -> PlatformSettings:
    try:
        return load_settings(PlatformSettings, config)
    except ConfigError as exc:
        click.echo(f"platform-server: invalid configuration\n{exc}", err=True)
        sys.exit(EXIT_CONFIG)


@cli.command()
@config_option
def serve(config: Path | None) -> None:
    """Serve the Platform API until SIGTERM; running operators drain first."""
    settings = _load(config)
    configure_logging(settings.log.level, settings.log.format)
    try:
        asyncio.run(serve_until_signalled(PlatformServer(settings), "platform_server"))
    except OSError as exc:
        click.echo(f"platform-server: {exc}", err=True)
        sys.exit(1)


@cli.group(name="config")
def config_group() -> None:
    """Check or print the effective configuration."""


@config_group.command()
@config_option
def validate(config: Path | None) -> None:
    """Exit 0 when the file and environment are valid; else list every error and exit 2."""
    _load(config)
    click.echo(f"{config or 'built-in defaults'}: configuration is valid")


@config_group.command()
@config_option
def show(config: Path | None) -> None:
    """Print the effective configuration (file + environment + defaults) as JSON."""
    click.echo(_load(config).model_dump_json(indent=2))


# The earlier spelling, kept for scripts written against it.
cli.add_command(click.Command("check-config", callback=show.callback, params=show.params, hidden=True,
                              help=show.help))


def main() -> None:
    cli(prog_name="platform-server")


if __name__ == "__main__":
    main()
