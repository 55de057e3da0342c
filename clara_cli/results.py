"""`clara results`: run the results service in the background and look at or re-drive its tasks.

clara results start [-f CONFIG] | stop | restart [-f CONFIG] | status | logs [-f]
clara results list [--agent A] [--state S] [--job J] [--limit N]
clara results show TASK_ID
clara results retry TASK_ID
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
import httpx

from clara_cli import https
from clara_cli.context import CliContext, pass_cli
from clara_cli.daemon import DaemonError, python_module_argv
from clara_cli.errors import CliError
from clara_cli.output import emit_object, emit_table, snake_case
from clara_cli.service_runs import RESULTS, logs_command, not_answering_hint, refuse_when_up_runs_it, run_by
from openclara.auth.credentials import auth_headers

DAEMON = RESULTS.daemon
COLUMNS = ("task_id", "agent", "job_id", "state", "retries", "parameters", "updated", "last_error")


class ResultsApi:
    """The few REST calls the CLI makes; every failure becomes one readable line (ClickException)."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._timeout = timeout

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = httpx.request(method, f"{self.endpoint}{path}", timeout=self._timeout,
                                     headers=auth_headers(), verify=https.verify(), **kwargs)
        except httpx.TransportError as exc:
            raise CliError(
                f"results service is not reachable at {self.endpoint} ({type(exc).__name__}); "
                f"{not_answering_hint(RESULTS, self.endpoint)}"
            ) from exc
        if response.status_code >= 400:
            raise CliError(f"results service answered {response.status_code}: {_detail(response)}")
        return response.json()

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.endpoint}/health/ready", timeout=2.0, verify=https.verify()).status_code == 200
        except httpx.TransportError:
            return False


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


_TIMES = frozenset({"created", "updated", "next_attempt", "lease_expires"})


def task_view(task: dict[str, Any]) -> dict[str, Any]:
    """A task of the REST API (Clara's camelCase) in the CLI's own convention (snake_case, docs/cli.md);
    its times become datetimes, so tables show them like every other time and JSON as RFC 3339 UTC."""
    view = {snake_case(key): value for key, value in task.items()}
    for key in _TIMES & view.keys():
        if isinstance(view[key], str):
            try:
                view[key] = datetime.fromisoformat(view[key])
            except ValueError:
                pass  # shown as the service sent it
    return view


def _endpoint_for(cli: CliContext, config_path: Path | None) -> str:
    """A config file passed to start decides the port; otherwise the client config's endpoint."""
    if config_path is None:
        return cli.config.results
    from openclara.settings import ConfigError, load_settings
    from results_service.settings import ResultsSettings

    try:
        settings = load_settings(ResultsSettings, config_path)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    return f"{'https' if settings.tls.enabled else 'http'}://{settings.host}:{settings.port}"


def _start(cli: CliContext, config_path: Path | None) -> None:
    refuse_when_up_runs_it(RESULTS)
    api = ResultsApi(_endpoint_for(cli, config_path))
    args = ["serve", "-f", str(config_path.resolve())] if config_path else ["serve"]
    try:
        pid = DAEMON.start(python_module_argv("results_service", *args), api.ready)
    except DaemonError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"results service started (pid {pid}) at {api.endpoint}; log: {DAEMON.log_file}")


def _stop() -> None:
    click.echo("results service stopped" if DAEMON.stop() else "results service was not running")


config_option = click.option(
    "-f",
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Service settings (config/results-service.yaml).",
)


def _commands() -> list[click.Command]:
    @click.command()
    @config_option
    @pass_cli
    def start(cli: CliContext, config_path: Path | None) -> None:
        """Start the results service in the background and wait until it is ready."""
        _start(cli, config_path)

    @click.command()
    def stop() -> None:
        """Stop the results service (SIGTERM: in-flight requests finish first)."""
        _stop()

    @click.command()
    @config_option
    @pass_cli
    def restart(cli: CliContext, config_path: Path | None) -> None:
        """Stop, then start the results service."""
        _stop()
        _start(cli, config_path)

    @click.command()
    @pass_cli
    def status(cli: CliContext) -> None:
        """Who runs the service here, and whether it answers at its endpoint."""
        api = ResultsApi(cli.config.results)
        ready = api.ready()
        info = {"endpoint": api.endpoint, "ready": ready, **run_by(RESULTS)}
        if not ready:
            info["hint"] = not_answering_hint(RESULTS, api.endpoint)
        emit_object(info, cli.output)

    @click.command(name="list")
    @click.option("--agent", help="Only this agent's tasks, e.g. ClaraSCU.")
    @click.option("--state", help="Pending, InProgress, Succeeded or Failed (any case).")
    @click.option("--job", "job_id", help="Only tasks of this job id.")
    @click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
    @pass_cli
    def list_(cli: CliContext, agent: str | None, state: str | None, job_id: str | None, limit: int) -> None:
        """List tasks (without leasing them)."""
        params = {key: value for key, value in (("agent", agent), ("state", state), ("jobId", job_id)) if value}
        tasks = ResultsApi(cli.config.results).call("GET", "/api/tasks", params={**params, "limit": limit})
        emit_table([task_view(task) for task in tasks], COLUMNS, cli.output, title="Results tasks")

    @click.command()
    @click.argument("task_id")
    @pass_cli
    def show(cli: CliContext, task_id: str) -> None:
        """Show one task."""
        emit_object(task_view(ResultsApi(cli.config.results).call("GET", f"/api/tasks/{task_id}")), cli.output)

    @click.command()
    @click.argument("task_id")
    @pass_cli
    def retry(cli: CliContext, task_id: str) -> None:
        """Deliver a Failed task again (Pending now, fresh retry budget)."""
        task = ResultsApi(cli.config.results).call("POST", f"/api/tasks/{task_id}/retry")
        if cli.output == "json":
            emit_object(task_view(task), cli.output)
        else:
            click.echo(f"task {task['taskId']} is {task['state']} again (agent {task['agent']})")

    return [start, stop, restart, status, logs_command(RESULTS), list_, show, retry]


def register(cli: click.Group, verbs: dict[str, click.Group]) -> None:
    """Attach `clara results ...` to the root group."""

    @cli.group(name="results")
    def results() -> None:
        """Results service: start/stop it, list tasks, re-drive failed deliveries."""

    for command in _commands():
        results.add_command(command)
