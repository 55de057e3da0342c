"""The object every command receives: endpoints and the output format."""

from __future__ import annotations

from dataclasses import dataclass

import click

from clara_cli.config import ClientConfig


@dataclass
class CliContext:
    """What every command needs: endpoints and the output format ('table' or 'json')."""

    config: ClientConfig
    output: str


pass_cli = click.make_pass_decorator(CliContext)
