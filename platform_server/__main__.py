"""`python -m platform_server serve|config validate|config show [-f CONFIG]`.

The same entry points as `python -m dicom_adapter` and `python -m results_service`; `check-config`
(the earlier name of `config show`) still works but is no longer listed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from openclara import service_cli
from openclara.lifecycle import serve_until_signalled
from openclara.logs import configure_logging
from platform_server.app import PlatformServer
from platform_server.executors.base import ExecutorError
from platform_server.settings import PlatformSettings

config_option = service_cli.config_option("config/platform-server.yaml", "CLARA_PLATFORM_")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """openclara platform server: Clara's Platform API (pipelines, jobs, payloads, models) over gRPC."""


def _load(config_path: Path | None) -> PlatformSettings:
    return service_cli.load_or_exit(PlatformSettings, config_path, "platform-server")


@cli.command()
@config_option
def serve(config_path: Path | None) -> None:
    """Serve the Platform API until SIGTERM; running operators drain first."""
    settings = _load(config_path)
    configure_logging(settings.log.level, settings.log.format)
    try:
        asyncio.run(serve_until_signalled(PlatformServer(settings), "platform_server"))
    except (OSError, ExecutorError) as exc:  # a taken port, a container engine that does not work
        click.echo(f"platform-server: {exc}", err=True)
        sys.exit(1)


config_group = service_cli.config_commands(_load, config_option)
cli.add_command(config_group)

# The earlier spelling, kept for scripts written against it.
show = config_group.commands["show"]
cli.add_command(click.Command("check-config", callback=show.callback, params=show.params, hidden=True, help=show.help))


def main() -> None:
    cli(prog_name="platform-server")


if __name__ == "__main__":
    main()
