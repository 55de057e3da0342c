"""`clara`: the root command, its global options and the plugin registration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from clara_cli import console, dicom, load, pipelines_jobs, platform, results
from clara_cli.config import load_client_config
from clara_cli.context import CliContext
from clara_cli.output import OUTPUT_FORMATS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="openclara", prog_name="clara", message="%(prog)s %(version)s")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Client config (default $CLARA_HOME/config.yaml; CLARA_HOME defaults to ~/.clara).",
)
@click.option("--host", "platform_host", help="Platform API endpoint host:port (overrides config).")
@click.option(
    "--output",
    "-O",
    type=click.Choice(OUTPUT_FORMATS),
    default="table",
    show_default=True,
    help="table: fits the terminal (the row's ID is never cut); wide: every column whole; json: docs/cli.md.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, platform_host: str | None, output: str) -> None:
    """openclara: run pipelines on DICOM studies (Clara Deploy compatible)."""
    config = load_client_config(config_path)
    if platform_host:
        config = replace(config, platform=platform_host)
    ctx.obj = CliContext(config=config, output=output)


@cli.group()
def create() -> None:
    """Create pipelines, jobs and models."""


@cli.group(name="list")
def list_() -> None:
    """List pipelines, jobs and models."""


@cli.group()
def describe() -> None:
    """Show one pipeline or job in detail."""


@cli.group()
def start() -> None:
    """Start a job."""


@cli.group()
def cancel() -> None:
    """Cancel a job."""


@cli.group()
def delete() -> None:
    """Delete models, pipelines and payloads."""


VERB_GROUPS = {
    "create": create,
    "list": list_,
    "describe": describe,
    "start": start,
    "cancel": cancel,
    "delete": delete,
}

for plugin in (pipelines_jobs, platform, results, dicom, load, console):
    plugin.register(cli, VERB_GROUPS)


def main() -> None:
    cli(prog_name="clara")
