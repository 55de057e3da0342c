"""`python -m dicom_adapter serve|config validate|config show [-f CONFIG]`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from dicom_adapter.errors import ListenError
from dicom_adapter.settings import AdapterSettings, apply_clara_environment
from openclara import service_cli
from openclara.settings import ConfigError

EXIT_CONFIG = service_cli.EXIT_CONFIG

config_option = service_cli.config_option("config/dicom-adapter.yaml", "CLARA_DICOM_")


def _checked(settings: AdapterSettings) -> AdapterSettings:
    from dicom_adapter.config.seed import parse_seed

    settings = apply_clara_environment(settings)
    parse_seed(settings)  # the seed's entities are validated at start, with the rest
    return settings


def _load(config_path: Path | None) -> AdapterSettings:
    return service_cli.load_or_exit(AdapterSettings, config_path, "dicom-adapter", _checked)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """openclara DICOM adapter: receive studies, submit jobs, export results."""


@cli.command()
@config_option
def serve(config_path: Path | None) -> None:
    """Run the adapter until SIGTERM/SIGINT (then drain and stop)."""
    from dicom_adapter.app import Adapter
    from openclara.lifecycle import serve_until_signalled
    from openclara.logs import configure_logging

    settings = _load(config_path)
    configure_logging(settings.logging.level, settings.logging.format)
    try:
        asyncio.run(serve_until_signalled(Adapter(settings), "dicom-adapter"))
    except ConfigError as exc:
        click.echo(f"dicom-adapter: invalid configuration\n{exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except ListenError as exc:
        click.echo(f"dicom-adapter: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"dicom-adapter: cannot start: {exc}", err=True)
        sys.exit(1)


cli.add_command(service_cli.config_commands(_load, config_option))


def main() -> None:
    cli(prog_name="dicom-adapter")


if __name__ == "__main__":
    main()
