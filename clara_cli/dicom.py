"""`clara dicom`: run the DICOM adapter in the background and manage its AE titles, sources, destinations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx

from clara_cli import https
from clara_cli.context import CliContext, pass_cli
from clara_cli.daemon import DaemonError, python_module_argv
from clara_cli.errors import CliError
from clara_cli.output import emit_object, emit_table, snake_case
from clara_cli.service_runs import DICOM, logs_command, not_answering_hint, refuse_when_up_runs_it, run_by
from openclara.auth.credentials import auth_headers

DAEMON = DICOM.daemon
KINDS = {
    "aetitles": (
        "claraaetitle",
        ["name", "ae_title", "pipelines", "timeout", "group_by", "priority", "job_retry_delay_ms"],
    ),
    "sources": ("sourceaetitle", ["ae_title", "host_ip"]),
    "destinations": ("destinationaetitle", ["name", "ae_title", "host_ip", "port"]),
}
# Every spelling a user may type for a kind, for list, create and delete alike.
ALIASES = {
    **dict.fromkeys(("aet", "aetitle", "aetitles"), "aetitles"),
    **dict.fromkeys(("src", "source", "sources"), "sources"),
    **dict.fromkeys(("dest", "destination", "destinations"), "destinations"),
}
CREATE_COMMANDS = {"aetitles": "aetitle", "sources": "src", "destinations": "dest"}
LABELS = {"aetitles": "Clara AE title", "sources": "source", "destinations": "destination"}


class KindType(click.ParamType[str]):
    """aetitle|src|dest and their aliases, converted to the canonical `KINDS` key."""

    name = "aetitle|src|dest"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        kind = ALIASES.get(str(value).lower())
        if kind is None:
            self.fail(f"{value!r} is not a kind; use aetitle, src or dest (or {', '.join(sorted(ALIASES))})")
        return kind


class KindGroup(click.Group):
    """`clara dicom create` accepts the same aliases as list/delete (`create source`, `create aet`...)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        kind = ALIASES.get(cmd_name.lower())
        return super().get_command(ctx, CREATE_COMMANDS[kind] if kind else cmd_name)


def http_client(timeout: float = 30.0) -> httpx.Client:
    """The HTTP client every command uses (tests swap in a mock transport), with the stack's admin token;
    an https endpoint is verified as `clara_cli.https` says."""
    return httpx.Client(timeout=timeout, headers=auth_headers(), verify=https.verify())


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _request(ctx: CliContext, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = ctx.config.dicom.rstrip("/") + path
    try:
        with http_client() as client:
            response = client.request(method, url, json=body)
    except httpx.TransportError as exc:
        _fail(_unreachable(ctx, exc))
    if response.status_code >= 400:
        _fail(f"{_problem_detail(response)} (HTTP {response.status_code})")
    body = response.json()
    if isinstance(body, dict):
        for warning in body.get("warnings", []):
            click.echo(f"warning: {warning}", err=True)
    return body


def _problem_detail(response: httpx.Response) -> str:
    try:
        problem = response.json()
        return str(problem.get("detail") or problem.get("title") or response.text)
    except (ValueError, AttributeError):
        return response.text


def _unreachable(ctx: CliContext, exc: httpx.TransportError) -> str:
    hint = not_answering_hint(DICOM, ctx.config.dicom)
    return f"the DICOM adapter is not reachable at {ctx.config.dicom} ({type(exc).__name__}); {hint}"


def _ready(endpoint: str) -> bool:
    try:
        with http_client(2.0) as client:
            return client.get(endpoint.rstrip("/") + "/health/ready").status_code == 200
    except httpx.TransportError:
        return False


@click.group(name="dicom")
def dicom() -> None:
    """The DICOM adapter: start/stop it and configure AE titles, sources and destinations."""


@dicom.command()
@click.option("-f", "--config", "config_path", type=click.Path(exists=True, path_type=Path), help="Adapter YAML.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait until ready.")
@pass_cli
def start(ctx: CliContext, config_path: Path | None, timeout: float) -> None:
    """Start the adapter in the background and wait until /health/ready answers."""
    refuse_when_up_runs_it(DICOM)
    args = ["serve", *(["-f", str(config_path.resolve())] if config_path else [])]
    try:
        pid = DAEMON.start(python_module_argv("dicom_adapter", *args), lambda: _ready(ctx.config.dicom), timeout)
    except DaemonError as exc:
        _fail(str(exc))
    click.echo(f"DICOM adapter started (pid {pid}), API {ctx.config.dicom}, log {DAEMON.log_file}")


@dicom.command()
def stop() -> None:
    """Stop the adapter (SIGTERM: open associations finish, everything received is kept)."""
    if not DAEMON.stop():
        click.echo("DICOM adapter is not running")
        return
    click.echo("DICOM adapter stopped")


@dicom.command()
@click.option("-f", "--config", "config_path", type=click.Path(exists=True, path_type=Path))
@click.pass_context
def restart(click_ctx: click.Context, config_path: Path | None) -> None:
    """Stop, then start the adapter."""
    DAEMON.stop()
    click_ctx.invoke(start, config_path=config_path)


@dicom.command()
@pass_cli
def status(ctx: CliContext) -> None:
    """Who runs the adapter here, its associations, payloads and services; exit code 1 when it does not answer."""
    try:
        with http_client(5.0) as client:
            health = client.get(ctx.config.dicom.rstrip("/") + "/health/status").json()
    except (httpx.TransportError, ValueError):
        health = None
    info: dict[str, Any] = {"api": ctx.config.dicom, "answering": health is not None, **run_by(DICOM)}
    if health is None:
        info["hint"] = not_answering_hint(DICOM, ctx.config.dicom)
        emit_object(info, ctx.output)
        sys.exit(1)
    info["active_associations"] = health.get("activeDimseConnections")
    info["services"] = ", ".join(f"{k}={v}" for k, v in health.get("services", {}).items())
    info["open_payloads"] = health.get("openPayloads")
    info["pending_submissions"] = health.get("pendingSubmissions")
    info["spare_files"] = health.get("spareFiles")  # the spool's files made ahead of bursts
    emit_object(info, ctx.output)


dicom.add_command(logs_command(DICOM))


def _settings_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            _fail(f"{pair!r}: expected KEY=VALUE, e.g. pipeline-seg=<pipeline id> or timeout=5")
        settings[key] = value
    return settings


@dicom.group(name="create", cls=KindGroup)
def create() -> None:
    """Create a Clara AE title, a source or a destination."""


@create.command(name="aetitle")
@click.option("-a", "--ae-title", required=True, help="The called AE title PACS send to.")
@click.option("-n", "--name", help="Name (default: the AE title).")
@click.option("--overwrite", is_flag=True, help="A re-sent instance replaces the earlier copy.")
@click.argument("settings", nargs=-1, metavar="[SETTING=VALUE]...")
@pass_cli
def create_aetitle(
    ctx: CliContext, ae_title: str, name: str | None, overwrite: bool, settings: tuple[str, ...]
) -> None:
    """Create a Clara AE title: studies sent to it run the given pipelines.

    \b
    SETTINGS (KEY=VALUE):
      pipeline-NAME=ID    a pipeline id (32 hex characters, see `clara list pipelines`);
                          one job per entry, at least one is required
      timeout=S           seconds without a new instance before the study is submitted
      groupBy=GGGG,EEEE   the tag that groups instances into one payload (default 0020,000D)
      priority=P          lower, normal, higher or immediate
      jobRetryDelay=MS    first retry delay in milliseconds while the platform is
                          unavailable (default 5000), doubling up to the adapter's cap

    Example: clara dicom create aetitle -a CLARA pipeline-seg=<id> timeout=5
    """
    body = {
        "name": name or ae_title,
        "aeTitle": ae_title,
        "overwriteSameInstance": overwrite,
        "processorSettings": _settings_pairs(settings),
    }
    created = _request(ctx, "POST", "/api/config/claraaetitle", body)
    redriven = created.get("redrivenPayloads", 0)
    suffix = f"; {redriven} faulted payload(s) of it submitted again" if redriven else ""
    click.echo(f"Clara AE title {created['aeTitle']} created{suffix}")


@create.command(name="src")
@click.option("-a", "--ae-title", required=True, help="The calling AE title of the sender.")
@click.option("-i", "--host", required=True, help="IP address, CIDR block or host name.")
@pass_cli
def create_src(ctx: CliContext, ae_title: str, host: str) -> None:
    """Allow a sender (calling AE title from a host)."""
    created = _request(ctx, "POST", "/api/config/sourceaetitle", {"aeTitle": ae_title, "hostIp": host})
    click.echo(f"source {created['aeTitle']} ({created['hostIp']}) created")


@create.command(name="dest")
@click.option("-n", "--name", required=True, help="Destination name (what register-results exports to).")
@click.option("-a", "--ae-title", required=True, help="The called AE title of the receiving PACS.")
@click.option("-i", "--host", required=True, help="Host name or IP address of the receiving PACS.")
@click.option("-p", "--port", required=True, type=click.IntRange(1, 65535), help="Its DICOM port.")
@click.option("--tls/--no-tls", default=None, help="DICOM TLS to it (default: as the adapter's export.tls says).")
@click.option("--ca-file", help="CA file of its certificate, a path on the adapter's host (implies --tls).")
@click.option("--cert-file", help="Our client certificate for mutual TLS, on the adapter's host (with --key-file).")
@click.option("--key-file", help="The client certificate's key, on the adapter's host.")
@click.option("--server-name", help="Name on its certificate when --host is not (implies --tls).")
@pass_cli
def create_dest(
    ctx: CliContext,
    name: str,
    ae_title: str,
    host: str,
    port: int,
    tls: bool | None,
    ca_file: str | None,
    cert_file: str | None,
    key_file: str | None,
    server_name: str | None,
) -> None:
    """Add a DICOM destination for exported results."""
    body: dict[str, Any] = {"name": name, "aeTitle": ae_title, "hostIp": host, "port": port}
    given = {"caFile": ca_file, "certFile": cert_file, "keyFile": key_file, "serverName": server_name}
    named = {key: value for key, value in given.items() if value is not None}
    if named or tls is not None:
        body["tls"] = {"enabled": tls is not False, **named}
    created = _request(ctx, "POST", "/api/config/destinationaetitle", body)
    click.echo(f"destination {created['name']} created")


def _number(text: Any) -> Any:
    """Clara sends the AE title's settings as strings; our JSON has numbers as numbers."""
    try:
        return float(text) if "." in str(text) else int(text)
    except (TypeError, ValueError):
        return text


def entity_view(kind: str, entity: dict[str, Any]) -> dict[str, Any]:
    """An entity of the adapter's API (Clara's camelCase wire shape) in the CLI's convention (docs/cli.md):
    snake_case keys, numbers as numbers, and an AE title's `processorSettings` unpacked once (`pipelines`
    as {name: pipeline id}, the other settings as fields of their own), not repeated."""
    view = {snake_case(key): value for key, value in entity.items() if key != "processorSettings"}
    if kind != "aetitles":
        return view
    settings = dict(entity.get("processorSettings") or {})
    view["pipelines"] = {k[len("pipeline-"):]: v for k, v in settings.items() if k.startswith("pipeline-")}
    for key, value in settings.items():
        if not key.startswith("pipeline-"):
            view[snake_case(key)] = _number(value)
    if "job_retry_delay" in view:
        view["job_retry_delay_ms"] = view.pop("job_retry_delay")
    return view


def _table_row(row: dict[str, Any]) -> dict[str, Any]:
    pipelines = row.get("pipelines")
    if isinstance(pipelines, dict):
        return {**row, "pipelines": ", ".join(f"{k}={v}" for k, v in pipelines.items())}
    return row


@dicom.command(name="list")
@click.argument("kind", type=KindType())
@pass_cli
def list_(ctx: CliContext, kind: str) -> None:
    """List Clara AE titles, sources or destinations (aetitle|src|dest, singular or plural)."""
    path, columns = KINDS[kind]
    rows = [entity_view(kind, e) for e in _request(ctx, "GET", f"/api/config/{path}")]
    emit_table(rows if ctx.output == "json" else [_table_row(r) for r in rows], columns, ctx.output, title=kind)


@dicom.command()
@click.argument("kind", type=KindType())
@click.option("-n", "--name", required=True, help="Name (the AE title for sources).")
@pass_cli
def delete(ctx: CliContext, kind: str, name: str) -> None:
    """Delete a Clara AE title, source or destination (aetitle|src|dest, singular or plural)."""
    _request(ctx, "DELETE", f"/api/config/{KINDS[kind][0]}/{name}")
    click.echo(f"{LABELS[kind]} {name} deleted")


@dicom.command()
@click.option("-n", "--name", required=True, help="Destination name.")
@pass_cli
def echo(ctx: CliContext, name: str) -> None:
    """C-ECHO a destination through the adapter; exit code 1 with the reason when it does not answer."""
    url = ctx.config.dicom.rstrip("/") + f"/api/config/destinationaetitle/{name}/cecho"
    try:
        with http_client(60.0) as client:
            response = client.post(url)
    except httpx.TransportError as exc:
        _fail(_unreachable(ctx, exc))
    if response.status_code not in (200, 502):  # 502: the adapter is fine, the destination did not answer
        _fail(f"{_problem_detail(response)} (HTTP {response.status_code})")
    body = response.json()
    if not body.get("success"):
        _fail(f"C-ECHO to {name} failed: {body.get('message') or 'no reason given'}")
    click.echo(f"{body.get('message', 'C-ECHO succeeded')} ({body.get('elapsedMs', 0):.0f} ms)")


def register(cli: click.Group, verbs: dict[str, click.Group]) -> None:
    """Attach `clara dicom ...` to the root group."""
    cli.add_command(dicom)
