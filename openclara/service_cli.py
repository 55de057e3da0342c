"""The command line every service shares: the `-f CONFIG` option and `config validate|show`.

Each service's `__main__` keeps its own `serve` (what it runs differs) and its own loader, which
prints every configuration error and exits 2; this module only wires them to the same commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def config_option(example: str, env_prefix: str) -> Decorator:
    """`-f/--config PATH`, passed to the command as `config_path`."""
    return click.option(
        "-f",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"YAML settings (see {example}); {env_prefix}* environment variables override it.",
    )


def config_commands(load: Callable[[Path | None], BaseModel], option: Decorator) -> click.Group:
    """`config validate` and `config show` for a service whose settings `load` builds (or exits 2)."""

    @click.group(name="config")
    def group() -> None:
        """Check or print the effective configuration."""

    @group.command()
    @option
    def validate(config_path: Path | None) -> None:
        """Exit 0 when the file and environment are valid; else list every error and exit 2."""
        load(config_path)
        click.echo(f"{config_path or 'built-in defaults'}: configuration is valid")

    @group.command()
    @option
    def show(config_path: Path | None) -> None:
        """Print the effective configuration (file + environment + defaults) as JSON."""
        click.echo(json.dumps(load(config_path).model_dump(mode="json"), indent=2))

    return group
