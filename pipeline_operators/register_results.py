"""register_results: hand a job's result files to a delivery agent through the results service.

`python -m pipeline_operators.register_results --agent ClaraSCU --data '["MYPACS","OTHER"]'` lists the
files under the operator's input, turns them into payload-relative uris (`operators/seg/output/seg.dcm`),
and registers ONE task per destination (`parameters` = `"MYPACS"` as JSON text, what Clara's SCU agent
expects). `--data` may also be a single JSON string (`'"MYPACS"'`), a bare name, or absent (agents such
as `renderserver` take no parameters: one task with empty parameters).

Where things come from (flags win over the environment the platform sets):
  input folder   --input DIR, else NVIDIA_CLARA_INPUTPATHS (`name:path` or plain paths, `;`-separated)
  payload root   --payload-root, else OPENCLARA_PAYLOAD_MOUNTS (in a container: mounted folder -> its place
                 in the payload), else OPENCLARA_PAYLOAD_PATH, else the folder above `operators/` or `input/`
  ids            NVIDIA_CLARA_JOBID (required), NVIDIA_CLARA_PAYLOADID, NVIDIA_CLARA_PIPELINEID
  service        --endpoint URL, else http://$CLARA_RESULTSSERVICE_SERVICE_HOST:$CLARA_RESULTSSERVICE_SERVICE_PORT
                 (https when CLARA_RESULTSSERVICE_SERVICE_SCHEME=https; verified against CLARA_TLS_CA_FILE,
                 for the name in CLARA_RESULTSSERVICE_TLS_SERVER_NAME when set: the platform sets all three)
While the service is unreachable (or answers 5xx) it retries with backoff for `--retry-seconds` (60),
then exits 2 with a message. Registration is idempotent on the service, so a retried job never
duplicates an export.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import structlog

from openclara.auth.credentials import OPERATORS, auth_headers
from openclara.backoff import exponential
from openclara.https import client_tls_from_env, server_name_hook, verify_for
from openclara.ports import RESULTS_PORT, RESULTS_URL
from openclara.tls import ClientTlsSettings
from pipeline_operators.entrypoint import run_operator
from pipeline_operators.environment import INPUT_PATHS, parse_paths
from pipeline_operators.errors import EnvironmentConfigError, OperatorError

log = structlog.get_logger()

DEFAULT_ENDPOINT = RESULTS_URL
PAYLOAD_PATH = "OPENCLARA_PAYLOAD_PATH"
PAYLOAD_MOUNTS = "OPENCLARA_PAYLOAD_MOUNTS"
SCHEME = "CLARA_RESULTSSERVICE_SERVICE_SCHEME"
SERVER_NAME = "CLARA_RESULTSSERVICE_TLS_SERVER_NAME"
_BARE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
# Folder names the platform puts directly under a payload root (platform_server/payloads/store.py).
_PAYLOAD_TOP = ("operators", "input")


class RegistrationError(OperatorError):
    """The results service refused the registration or stayed unreachable."""


@dataclass(frozen=True)
class JobIds:
    job_id: str
    payload_id: str
    pipeline_id: str


def destinations(data: str | None) -> list[str]:
    """`--data` -> the `parameters` JSON text of each task (one per destination)."""
    if data is None or not data.strip():
        return [""]
    try:
        value: Any = json.loads(data)
    except ValueError:
        if _BARE_NAME.match(data.strip()):
            return [json.dumps(data.strip())]
        raise EnvironmentConfigError(
            f"--data must be a JSON list of destinations like '[\"MYPACS\"]' or a JSON string, got {data!r}"
        ) from None
    if isinstance(value, list):
        if not value:
            raise EnvironmentConfigError("--data is an empty list: name at least one destination")
        return [json.dumps(item) for item in value]
    return [json.dumps(value)]


def payload_root(folder: Path, env: Mapping[str, str], explicit: Path | None = None) -> Path:
    """The job payload folder the uris are relative to."""
    if explicit is not None:
        return explicit.resolve()
    if env.get(PAYLOAD_PATH):
        return Path(env[PAYLOAD_PATH]).resolve()
    resolved = folder.resolve()
    for parent in (resolved, *resolved.parents):
        if parent.name in _PAYLOAD_TOP and parent.parent != parent:
            return parent.parent
    # Not inside a payload layout (e.g. run by hand): uris are relative to the input folder itself.
    return resolved


def payload_mounts(env: Mapping[str, str]) -> list[tuple[Path, str]]:
    """`OPENCLARA_PAYLOAD_MOUNTS` (`/input=operators/seg/output;...`): in a container, where each mounted
    folder sits in the job's payload. Longest container path first, so nested mounts win."""
    pairs = []
    for item in env.get(PAYLOAD_MOUNTS, "").split(";"):
        container, sep, relative = item.partition("=")
        if sep and container.startswith("/"):
            pairs.append((Path(container), relative.strip("/")))
    return sorted(pairs, key=lambda pair: -len(pair[0].parts))


def _uri(path: Path, root: Path, mounts: Sequence[tuple[Path, str]]) -> str:
    for container, relative in mounts:
        if path == container or container in path.parents:
            return "/".join(part for part in (relative, path.relative_to(container).as_posix()) if part)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        raise EnvironmentConfigError(f"{path} is outside the payload folder {root}") from None


def collect_uris(folders: Sequence[Path], root: Path, mounts: Sequence[tuple[Path, str]] = ()) -> list[str]:
    """Every regular file under `folders`, as sorted POSIX paths relative to the payload (`root`, or
    through `mounts` when the files are seen through container mounts)."""
    uris: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            raise EnvironmentConfigError(f"input folder does not exist: {folder}")
        base = folder if mounts else folder.resolve()
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            uris.append(_uri(path if mounts else path.resolve(), root, mounts))
    return uris


def results_endpoint(explicit: str | None, env: Mapping[str, str]) -> str:
    if explicit:
        return explicit.rstrip("/")
    host = env.get("CLARA_RESULTSSERVICE_SERVICE_HOST")
    if host:
        port = env.get("CLARA_RESULTSSERVICE_SERVICE_PORT", str(RESULTS_PORT))
        scheme = "https" if env.get(SCHEME, "").strip().lower() == "https" else "http"
        return f"{scheme}://{host}:{port}"
    return DEFAULT_ENDPOINT


def results_tls(env: Mapping[str, str], explicit_endpoint: bool = False) -> ClientTlsSettings:
    """How an https results service is verified: CLARA_TLS_CA_FILE (else the system's CAs), a client
    certificate from CLARA_TLS_CERT_FILE/KEY_FILE, and the name the platform's URL has (`SERVER_NAME`)
    unless --endpoint names the service itself."""
    try:
        return client_tls_from_env(env, None if explicit_endpoint else SERVER_NAME)
    except ValueError as exc:
        raise EnvironmentConfigError(str(exc)) from None


def job_ids(env: Mapping[str, str]) -> JobIds:
    job_id = env.get("NVIDIA_CLARA_JOBID", "").strip()
    if not job_id:
        raise EnvironmentConfigError("NVIDIA_CLARA_JOBID is not set: run this operator inside a job or set it")
    return JobIds(job_id, env.get("NVIDIA_CLARA_PAYLOADID", ""), env.get("NVIDIA_CLARA_PIPELINEID", ""))


class ResultsRegistrar:
    """POSTs registrations, retrying connection errors and 5xx with exponential backoff within a budget."""

    def __init__(
        self,
        endpoint: str,
        retry_seconds: float = 60.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        tls: ClientTlsSettings | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._retry_seconds = retry_seconds
        hooks = {"request": [server_name_hook(tls.server_name)]} if tls is not None and tls.server_name else {}
        # The platform hands operators their token in CLARA_API_TOKEN (the stack's "operators" credential).
        self._client = client or httpx.Client(timeout=10.0, headers=auth_headers(OPERATORS),
                                              verify=verify_for(endpoint, tls), event_hooks=hooks)
        self._sleep = sleep
        self._clock = clock

    def register(self, agent: str, body: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self._endpoint}/api/tasks/register/{agent}"
        deadline = self._clock() + self._retry_seconds
        retry = 0
        while True:
            problem = self._attempt(url, body)
            if isinstance(problem, dict):
                return problem
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise RegistrationError(
                    f"could not register results with {self._endpoint} within {self._retry_seconds:g} s: {problem}"
                )
            delay = exponential(retry, 0.5, 8.0)
            log.warning("register_results.retrying", endpoint=self._endpoint, error=problem, delay=delay)
            self._sleep(min(delay, remaining))
            retry += 1

    def _attempt(self, url: str, body: Mapping[str, Any]) -> dict[str, Any] | str:
        """The task on success, or the reason to retry; raises when retrying cannot help."""
        try:
            response = self._client.post(url, json=dict(body))
        except httpx.TransportError as exc:
            if _certificate_refused(exc):  # a wrong CA or name does not heal by waiting
                raise RegistrationError(
                    f"the results service's certificate was not accepted ({exc}); set CLARA_TLS_CA_FILE "
                    "(platform: results_service.ca_file) to the CA that signed it"
                ) from exc
            return f"service unreachable ({type(exc).__name__}: {exc})"
        if response.status_code >= 500:
            return f"service answered {response.status_code}: {_detail(response)}"
        if response.status_code >= 400:
            raise RegistrationError(
                f"results service refused the registration ({response.status_code}): {_detail(response)}"
            )
        task: dict[str, Any] = response.json()
        return task


def _certificate_refused(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except (ValueError, AttributeError):
        return response.text[:200]


def register_results(
    agent: str,
    data: str | None,
    inputs: Sequence[Path],
    env: Mapping[str, str],
    registrar: ResultsRegistrar,
    root: Path | None = None,
) -> list[dict[str, Any]]:
    """Register one task per destination; returns the tasks as the service answered them."""
    folders = list(inputs) or [item.path for item in parse_paths(env.get(INPUT_PATHS, ""))]
    if not folders:
        raise EnvironmentConfigError(f"no input folder: pass --input DIR or set {INPUT_PATHS}")
    params = destinations(data)
    ids = job_ids(env)
    mounts = [] if root is not None else payload_mounts(env)
    uris = collect_uris(folders, payload_root(folders[0], env, root), mounts)
    if not uris:
        raise EnvironmentConfigError(f"no files under {', '.join(map(str, folders))}: nothing to register")
    tasks = []
    for parameters in params:
        body = {
            "jobId": ids.job_id,
            "payloadId": ids.payload_id,
            "pipelineId": ids.pipeline_id,
            "parameters": parameters,
            "uris": uris,
        }
        task = registrar.register(agent, body)
        log.info(
            "register_results.registered",
            agent=agent,
            task_id=task.get("taskId"),
            parameters=parameters,
            files=len(uris),
            job_id=ids.job_id,
        )
        tasks.append(task)
    return tasks


@click.command()
@click.option("--agent", required=True, help="Delivery agent, e.g. ClaraSCU (DICOM adapter export).")
@click.option("--data", default=None, help='Destinations as JSON: \'["MYPACS","OTHER"]\' or \'"MYPACS"\'.')
@click.option(
    "--input",
    "inputs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder with the files to deliver (default: NVIDIA_CLARA_INPUTPATHS).",
)
@click.option(
    "--payload-root",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Job payload folder the uris are relative to (default: OPENCLARA_PAYLOAD_PATH or derived).",
)
@click.option("--endpoint", default=None, help="Results service URL (default: CLARA_RESULTSSERVICE_SERVICE_*).")
@click.option(
    "--retry-seconds",
    type=float,
    default=60.0,
    show_default=True,
    help="How long to keep retrying while the results service is unreachable.",
)
def main(
    agent: str,
    data: str | None,
    inputs: tuple[Path, ...],
    root: Path | None,
    endpoint: str | None,
    retry_seconds: float,
) -> None:
    """Register the files under the input folder as delivery tasks for AGENT, one per destination."""

    def body() -> None:
        env = dict(os.environ)
        tls = results_tls(env, explicit_endpoint=bool(endpoint))
        registrar = ResultsRegistrar(results_endpoint(endpoint, env), retry_seconds, tls=tls)
        for task in register_results(agent, data, inputs, env, registrar, root):
            click.echo(
                f"registered task {task.get('taskId')} for {agent} {task.get('parameters')} "
                f"({len(task.get('uris', []))} files)"
            )

    run_operator("register_results", body)


if __name__ == "__main__":
    main()
