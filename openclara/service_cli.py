"""The command line every service shares: the `-f CONFIG` option and `config validate|show`.

Each service's `__main__` keeps its own `serve` (what it runs differs); every one loads its settings with
`load_or_exit`, which prints every configuration error under the service's name and exits 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from openclara.settings import ConfigError, load_settings

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
S = TypeVar("S", bound=BaseSettings)
EXIT_CONFIG = 2  # an invalid configuration: what a supervisor must not restart in a loop


def load_or_exit(cls: type[S], config_path: Path | None, service: str,
                 check: Callable[[S], S] | None = None) -> S:
    """The service's settings (file + environment), passed through `check` (further rules that raise
    ConfigError); on any error, every problem on stderr under the service's name and exit 2."""
    try:
        settings = load_settings(cls, config_path)
        return check(settings) if check is not None else settings
    except ConfigError as exc:
        _exit_invalid(service, exc)


def _exit_invalid(service: str, exc: ConfigError) -> NoReturn:
    click.echo(f"{service}: invalid configuration\n{exc}", err=True)
    sys.exit(EXIT_CONFIG)


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
