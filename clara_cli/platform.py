"""`clara platform start|stop|restart|status`, `clara version`, models, and the CLI's edge to the platform.

`run_platform` is where every platform command meets `PlatformClient`: it runs the coroutine and
turns `PlatformError` into one `error: ...` line and exit code 1 (no traceback).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from clara_cli.context import CliContext, pass_cli
from clara_cli.daemon import DaemonError, python_module_argv
from clara_cli.errors import CliError
from clara_cli.output import emit_object, emit_table
from clara_cli.service_runs import PLATFORM, logs_command, not_answering_hint, refuse_when_up_runs_it, run_by
from openclara.settings import ConfigError, read_yaml
from openclara.tls import ClientTlsSettings
from platform_api import ModelType, PlatformClient, PlatformError, PlatformRequestError, PlatformUnavailable

T = TypeVar("T")

DAEMON = PLATFORM.daemon
READY_TIMEOUT = 60.0


def unreachable_message(endpoint: str) -> str:
    return f"cannot reach the platform at {endpoint} ({not_answering_hint(PLATFORM, endpoint)})"


def run_platform(cli: CliContext, work: Callable[[PlatformClient], Awaitable[T]], *, timeout: float = 30.0) -> T:
    """Run `work(client)` against the configured platform, mapping platform errors to `CliError`."""

    async def main() -> T:
        async with PlatformClient(cli.config.platform, timeout=timeout, tls=_tls(cli)) as client:
            return await work(client)

    try:
        return asyncio.run(main())
    except PlatformUnavailable as exc:
        raise CliError(unreachable_message(exc.endpoint)) from exc
    except PlatformRequestError as exc:
        # Several problems (e.g. every error of a pipeline definition): one per line.
        raise CliError("\n  ".join(m for m in exc.messages if m) or str(exc)) from exc
    except PlatformError as exc:
        raise CliError(str(exc)) from exc


@contextmanager
def transfer_progress(description: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (bytes) when stderr is a terminal; yields the callback to advance it."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda _n: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def parse_model_type(text: str) -> ModelType:
    wanted = text.replace("-", "").replace("_", "").lower()
    for member in ModelType:
        if member.name.replace("_", "").lower() == wanted:
            return member
    raise click.BadParameter(f"{text!r}; choose one of: tensorflow, tensorrt, pytorch")


def _tls(cli: CliContext) -> ClientTlsSettings:
    """The configured TLS, or explicitly none (the client would otherwise read the environment again)."""
    return cli.config.platform_tls or ClientTlsSettings()


def _server_ready(endpoint: str, tls: ClientTlsSettings) -> bool:
    async def probe() -> bool:
        async with PlatformClient(endpoint, timeout=2, tls=tls) as client:
            await client.version()
        return True

    try:
        return asyncio.run(probe())
    except PlatformError:
        return False


def served_endpoint(cli: CliContext, config: Path | None) -> str:
    """Where the server will listen: `server.host/port` of its config (env wins, as in the server), else ours."""
    server: dict[str, Any] = {}
    if config is not None:
        try:
            server = dict(read_yaml(config).get("server") or {})
        except (ConfigError, TypeError, ValueError) as exc:
            raise CliError(f"{config}: {exc}") from exc
    host = os.environ.get("CLARA_PLATFORM_SERVER__HOST") or server.get("host")
    port = os.environ.get("CLARA_PLATFORM_SERVER__PORT") or server.get("port")
    if port is None:
        return cli.config.platform
    # A server bound to every interface is reached on loopback from this machine.
    host = "127.0.0.1" if host in (None, "", "0.0.0.0", "::") else str(host)
    return f"{host}:{port}"


def _start(cli: CliContext, config: Path | None) -> None:
    refuse_when_up_runs_it(PLATFORM)
    endpoint = served_endpoint(cli, config)
    argv = python_module_argv("platform_server", "serve", *(["-f", str(config)] if config else []))
    try:
        pid = DAEMON.start(argv, ready=lambda: _server_ready(endpoint, _tls(cli)), timeout=READY_TIMEOUT)
    except DaemonError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"platform started (pid {pid}), listening on {endpoint}; log: {DAEMON.log_file}")


@click.group(name="platform")
def platform_group() -> None:
    """Run the platform server (pipelines, jobs, payloads) in the background."""


config_option = click.option(
    "-f", "--file", "config", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Server config YAML."
)


@platform_group.command()
@config_option
@pass_cli
def start(cli: CliContext, config: Path | None) -> None:
    """Start `python -m platform_server serve` and wait until it answers."""
    _start(cli, config)


@platform_group.command()
@click.option("-y", "--yes", is_flag=True, help="Accepted for Clara compatibility; stopping never asks.")
def stop(yes: bool) -> None:
    """Stop the platform (SIGTERM: running jobs are drained or stopped cleanly)."""
    if DAEMON.stop():
        click.echo("platform stopped")
    else:
        click.echo("platform is not running")


@platform_group.command()
@config_option
@pass_cli
def restart(cli: CliContext, config: Path | None) -> None:
    """Stop (if running), then start."""
    DAEMON.stop()
    _start(cli, config)


@platform_group.command()
@pass_cli
def status(cli: CliContext) -> None:
    """Who runs the platform here, and does it answer? Exit code 1 when it does not."""
    answering = _server_ready(cli.config.platform, _tls(cli))
    info = {"endpoint": cli.config.platform, "answering": answering, **run_by(PLATFORM)}
    if not answering:
        info["hint"] = not_answering_hint(PLATFORM, cli.config.platform)
    emit_object(info, cli.output)
    if not answering:
        raise SystemExit(1)


platform_group.add_command(logs_command(PLATFORM))


def _client_version() -> str:
    try:
        return metadata.version("openclara")
    except metadata.PackageNotFoundError:
        return "unknown"


@click.command()
@pass_cli
def version(cli: CliContext) -> None:
    """Show the client version and the platform's version."""
    client = _client_version()

    async def ask(platform: PlatformClient) -> str:
        return str(await platform.version())

    try:
        server = run_platform(cli, ask, timeout=5)
    except CliError:
        emit_object({"client": client, "platform": "unreachable"}, cli.output)
        raise
    emit_object({"client": client, "platform": server, "endpoint": cli.config.platform}, cli.output)


@click.command(name="model")
@click.option("-f", "--file", "source", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-n", "--name", required=True, help="Model name (operators refer to it).")
@click.option("--type", "model_type", default="unknown", help="tensorflow | tensorrt | pytorch.")
@pass_cli
def create_model(cli: CliContext, source: Path, name: str, model_type: str) -> None:
    """Upload a model file or folder to the model repository."""
    kind = parse_model_type(model_type)
    size = (
        source.stat().st_size if source.is_file() else sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    )

    async def upload(platform: PlatformClient) -> Any:
        with transfer_progress(f"model {name}", size, cli.output != "json") as advance:
            return await platform.upload_model(source, name, kind, progress=advance)

    details = run_platform(cli, upload, timeout=3600)
    emit_object({"model_id": details.model_id, "name": details.name, "type": details.type.label}, cli.output)


@click.command(name="models")
@pass_cli
def list_models(cli: CliContext) -> None:
    """List the models in the repository."""
    models = run_platform(cli, lambda platform: platform.list_models())
    rows = [{"name": m.name, "id": m.model_id, "type": m.type.label} for m in models]
    emit_table(rows, ["name", "id", "type"], cli.output)


@click.command(name="model")
@click.option("-m", "--model", "model_id", required=True, help="Model ID.")
@pass_cli
def delete_model(cli: CliContext, model_id: str) -> None:
    """Delete a model from the repository."""
    deleted = run_platform(cli, lambda platform: platform.delete_model(model_id))
    emit_object({"deleted": deleted}, cli.output)


def register(cli: click.Group, verbs: dict[str, click.Group]) -> None:
    """Attach this plugin's commands to the root group and the verb groups."""
    cli.add_command(platform_group)
    cli.add_command(version)
    verbs["create"].add_command(create_model)
    verbs["list"].add_command(list_models)
    verbs["delete"].add_command(delete_model)
