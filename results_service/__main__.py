"""`python -m results_service serve [-f CONFIG]` and `config validate|show`."""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

import click

from openclara import service_cli
from openclara.lifecycle import serve_until_signalled
from openclara.logs import configure_logging
from results_service.app import ResultsService
from results_service.errors import StoreUnavailable
from results_service.settings import ResultsSettings

config_option = service_cli.config_option("config/results-service.yaml", "CLARA_RESULTS_")


def _load(config_path: Path | None) -> ResultsSettings:
    return service_cli.load_or_exit(ResultsSettings, config_path, "results-service")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """openclara results service: Clara-compatible task queue for result delivery agents."""


@cli.command()
@config_option
def serve(config_path: Path | None) -> None:
    """Serve the REST API until SIGTERM/SIGINT, then drain and stop."""
    settings = _load(config_path)
    configure_logging(settings.log_level, settings.log_format)
    loop_factory = _loop_factory(settings)
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve_until_signalled(ResultsService(settings), "results-service"))
    except StoreUnavailable as exc:
        click.echo(f"results-service: cannot start: {exc} (set database.path / CLARA_RESULTS_DATABASE__PATH)", err=True)
        sys.exit(1)
    except ssl.SSLError as exc:  # an OSError too: the files exist (settings checked that) but do not fit
        click.echo(f"results-service: cannot use the TLS certificate ({settings.tls.cert_file}): {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"results-service: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", err=True)
        sys.exit(1)


def _loop_factory(settings: ResultsSettings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when asked for or, with "auto", when installed; asyncio's loop otherwise (None)."""
    for wanted, module in ((settings.event_loop, "uvloop"), (settings.http_parser, "httptools")):
        if wanted == module and importlib.util.find_spec(module) is None:
            click.echo(f"results-service: {module} is configured but not installed (pip install {module})", err=True)
            sys.exit(2)
    if settings.event_loop == "asyncio" or importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop  # optional dependency: only imported when present

    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


cli.add_command(service_cli.config_commands(_load, config_option))


def main() -> None:
    cli(prog_name="results-service")


if __name__ == "__main__":
    main()
