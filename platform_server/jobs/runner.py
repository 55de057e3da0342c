"""JobRunner: runs one started job's operators in dependency order and records every transition.

Independent branches run in parallel; the first failing operator faults the job, stops the
operators still running and leaves the rest PENDING. A cancelled run is recorded as CANCELED,
unless the platform is shutting down: then the job stays RUNNING in the database and the restart
recovery of `jobs/service.py` decides (FAULTED with a message, or queued again).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from openclara.auth.credentials import ENV_TOKEN
from openclara.https import ENV_CA_FILE
from platform_server.domain import Job, JobState, JobStatus, OperatorDetail, OperatorStatus, now
from platform_server.errors import PlatformServerError, ResourceExhausted
from platform_server.executors.base import (
    RESULTS_CA_LABEL,
    Executor,
    Mount,
    OperatorResult,
    OperatorRun,
    Outcome,
    ResourceRequest,
)
from platform_server.jobs.gpus import GpuPool
from platform_server.jobs.services import JobServices, ServiceContext, service_ports
from platform_server.jobs.store import JobRepository
from platform_server.metrics import PlatformMetrics
from platform_server.models.repository import ModelRepository
from platform_server.payloads.store import PayloadStore
from platform_server.pipelines.definition import OperatorSpec, PipelineDefinition, parse, resolve
from platform_server.pipelines.typed_io import io_environment

log = structlog.get_logger()
PAYLOAD_MOUNTS = "OPENCLARA_PAYLOAD_MOUNTS"
# Where containers see the model repository; the container executor rewrites the host folder in the environment.
MODELS_PATH = "/clara/models"
# Where containers see the results service's CA file (rewritten the same way in CLARA_TLS_CA_FILE).
RESULTS_CA_PATH = "/clara/tls/results-ca.crt"
# With an https results service: the scheme, and the name its certificate carries (a container dials another
# address for the same service, see executors/environment.py).
RESULTS_SCHEME = "CLARA_RESULTSSERVICE_SERVICE_SCHEME"
RESULTS_SERVER_NAME = "CLARA_RESULTSSERVICE_TLS_SERVER_NAME"


@dataclass(frozen=True)
class RunnerConfig:
    work_root: Path
    log_root: Path
    platform_host: str
    platform_port: int
    results_url: str
    default_timeout: float
    service_ready_timeout: float = 300.0
    # Given to operators as CLARA_API_TOKEN: register-results and Platform API calls from inside a pipeline.
    operator_token: str | None = None
    # The CA of an https results service, given to operators as CLARA_TLS_CA_FILE (a read-only mount).
    results_ca_file: Path | None = None


class JobRunner:
    def __init__(self, jobs: JobRepository, payloads: PayloadStore, models: ModelRepository, executor: Executor,
                 gpus: GpuPool, config: RunnerConfig, metrics: PlatformMetrics | None = None) -> None:
        self._jobs = jobs
        self._payloads = payloads
        self._models = models
        self._executor = executor
        self._gpus = gpus
        self._config = config
        self._metrics = metrics or PlatformMetrics()
        self.shutting_down = False
        self._cancel_reasons: dict[str, str] = {}

    def log_path(self, job_id: str, operator: str) -> Path:
        return self._config.log_root / job_id / f"{operator}.log"

    async def reap(self, job_id: str) -> int:
        """Stop operators of a job that outlived a crashed platform."""
        return await self._executor.reap(job_id, self._config.work_root / job_id)

    def note_cancel(self, job_id: str, reason: str) -> None:
        self._cancel_reasons[job_id] = reason

    async def run(self, job_id: str) -> None:
        job = await self._jobs.get(job_id)
        if job.state != JobState.PENDING:
            return
        job.state, job.started = JobState.RUNNING, now()
        job.operators = [OperatorDetail(op.name, created=now()) for op in parse(job.definition).operators]
        await self._jobs.save(job)
        self._metrics.job_started(job.priority, job.started - (job.queued or job.started))
        log.info("job.started", job_id=job_id, pipeline_id=job.pipeline_id)
        try:
            definition = resolve(parse(job.definition), job.variables)
            failure = await self._run_job(job, definition)
        except asyncio.CancelledError:
            if not self.shutting_down:
                reason = self._cancel_reasons.pop(job_id, "") or "no reason given"
                await self._finish(job, JobStatus.CANCELED, [f"job canceled: {reason}"])
            raise
        except PlatformServerError as exc:
            failure = [str(exc)]
        except Exception as exc:  # noqa: BLE001 - a job must never stay RUNNING because of a platform bug
            log.exception("job.runner.failed", job_id=job_id)
            self._metrics.internal_error()
            failure = [f"internal error while running the job: {type(exc).__name__}: {exc}"]
        await self._finish(job, JobStatus.FAULTED if failure else JobStatus.HEALTHY, failure)

    async def _finish(self, job: Job, status: JobStatus, messages: list[str]) -> None:
        job.state, job.status, job.stopped = JobState.STOPPED, status, now()
        job.messages.extend(messages)
        await self._jobs.save(job)
        took = round(job.stopped - (job.started or job.stopped), 3)
        self._metrics.job_stopped(status.name, took)
        log.info("job.stopped", job_id=job.job_id, status=status.name, seconds=took)

    async def _run_job(self, job: Job, definition: PipelineDefinition) -> list[str]:
        """The job's operators with its services around them; services stop when the job ends."""
        self._check_gpus(definition)
        services = JobServices(self._executor, self._gpus, ServiceContext(
            job.job_id, self._config.log_root / job.job_id, self._models.root,
            self._config.service_ready_timeout, definition.pull_secrets))
        await self._executor.begin_job(job.job_id, service_ports(s for op in definition.operators for s in op.services))
        try:
            return await self._run_dag(job, definition, services)
        finally:
            await asyncio.shield(self._end_job(job.job_id, services))

    def _check_gpus(self, definition: PipelineDefinition) -> None:
        """Services keep their GPUs until the job ends: if the rest cannot serve an operator, fault now
        instead of waiting for ever."""
        services = {s.name: s.requests.gpu for op in definition.operators for s in op.services}
        largest = max((op.requests.gpu for op in definition.operators), default=0)
        needed = sum(services.values()) + largest
        # Without services the GPU pool itself refuses an operator asking for more than there is.
        if sum(services.values()) and needed > self._gpus.total:
            raise ResourceExhausted(
                f"the job needs {needed} GPU(s) at once ({sum(services.values())} for its services while they run, "
                f"{largest} for its largest operator) but the platform has {self._gpus.total} "
                "(scheduler.gpus in config/platform-server.yaml)")

    async def _end_job(self, job_id: str, services: JobServices) -> None:
        await services.close()
        await self._executor.end_job(job_id)

    async def _run_dag(self, job: Job, definition: PipelineDefinition, services: JobServices) -> list[str]:
        """Run every operator whose inputs are complete; return failure messages (empty = success)."""
        dag = definition.dag
        tasks: dict[str, asyncio.Task[OperatorResult]] = {}
        completed: set[str] = set()
        try:
            while True:
                for name in dag.order():
                    if name not in tasks and all(p in completed for p in dag.parents[name]):
                        operator = definition.operator(name)
                        tasks[name] = asyncio.create_task(self._run_operator(job, operator, definition, services))
                active = {t for t in tasks.values() if not t.done()}
                if not active:
                    return []
                done, _ = await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                for name, task in tasks.items():
                    if task in done:
                        result = task.result()
                        if not result.ok:
                            return _failure_messages(name, result)
                        completed.add(name)
        finally:
            await _cancel_all(t for t in tasks.values() if not t.done())

    async def _run_operator(self, job: Job, op: OperatorSpec, definition: PipelineDefinition,
                            services: JobServices) -> OperatorResult:
        detail = next(d for d in job.operators if d.name == op.name)
        try:
            run = await self._operator_run(job, op, definition)
            if op.services:
                connections = await services.environment(op.services, op.models)
                run = dataclasses.replace(run, env={**run.env, **connections})
            gpu_ids = await self._gpus.acquire(op.requests.gpu, op.name)
        except PlatformServerError as exc:
            detail.status, detail.stopped = OperatorStatus.FAULTED, now()
            await self._jobs.save(job)
            self._metrics.operator_stopped(op.name, Outcome.NOT_STARTED.value, None)
            return OperatorResult(Outcome.NOT_STARTED, None, (), str(exc))
        try:
            detail.status, detail.started = OperatorStatus.RUNNING, now()
            await self._jobs.save(job)
            result = await self._executor.run(_with_gpus(run, gpu_ids))
        except asyncio.CancelledError:
            detail.status, detail.stopped = OperatorStatus.FAULTED, now()
            raise
        finally:
            await self._gpus.release(gpu_ids)
        detail.status = OperatorStatus.COMPLETED if result.ok else OperatorStatus.FAULTED
        detail.stopped, detail.exit_code = now(), result.exit_code
        await self._jobs.save(job)
        took = detail.stopped - (detail.started or detail.stopped)
        self._metrics.operator_stopped(op.name, result.outcome.value, took)
        log.info("job.operator.stopped", job_id=job.job_id, operator=op.name, outcome=result.outcome.value,
                 exit_code=result.exit_code)
        return result

    async def _operator_run(self, job: Job, op: OperatorSpec, definition: PipelineDefinition) -> OperatorRun:
        payloads = self._payloads
        inputs = []
        for item in op.inputs:
            if item.source is None:
                inputs.append(Mount(item.name or "payload", item.path, payloads.input_dir(job.payload_id), True))
            else:
                output = item.name or _only_output(job, item.source)
                host = payloads.output_dir(job.payload_id, item.source, output)
                inputs.append(Mount(item.name or item.source, item.path, host, True))
        outputs = [Mount(o.name, o.path, payloads.output_dir(job.payload_id, op.name, o.name), False)
                   for o in op.outputs]
        env = {**await self._environment(job, op), **io_environment(op),
               PAYLOAD_MOUNTS: self._payload_mounts(job, (*inputs, *outputs))}
        return OperatorRun(
            job_id=job.job_id, operator=op.name, image=op.reference,
            command=op.command, inputs=tuple(inputs), outputs=tuple(outputs), env=env,
            work_dir=self._config.work_root / job.job_id / op.name, log_path=self.log_path(job.job_id, op.name),
            timeout=op.timeout or self._config.default_timeout,
            resources=ResourceRequest(cpu=op.requests.cpu, gpu=op.requests.gpu, memory_mb=op.requests.memory),
            extra_mounts=(*self._model_mounts(), *self._ca_mounts()), pull_secrets=definition.pull_secrets,
        )

    def _payload_mounts(self, job: Job, mounts: Iterable[Mount]) -> str:
        """`container_path=payload-relative path` pairs: how register-results names files in a container."""
        root = self._payloads.folder(job.payload_id)
        return ";".join(f"{m.container_path}={m.host_path.relative_to(root).as_posix()}" for m in mounts)

    def _model_mounts(self) -> tuple[Mount, ...]:
        root = self._models.root
        return (Mount("models", MODELS_PATH, root, True),) if root.is_dir() else ()

    def _ca_mounts(self) -> tuple[Mount, ...]:
        ca_file = self._results_ca_file()
        return (Mount(RESULTS_CA_LABEL, RESULTS_CA_PATH, ca_file, True),) if ca_file is not None else ()

    def _results_ca_file(self) -> Path | None:
        """The CA file operators get: only for an https results service (absolute: containers mount it)."""
        ca_file = self._config.results_ca_file
        if ca_file is None or urlsplit(self._config.results_url).scheme != "https":
            return None
        return ca_file.resolve()

    async def _environment(self, job: Job, op: OperatorSpec) -> dict[str, str]:
        models = [f"{name}:{self._models.folder((await self._models.by_name(name)).name)}" for name in op.models]
        results = urlsplit(self._config.results_url)
        return {
            **op.variables,
            "NVIDIA_CLARA_JOBID": job.job_id,
            "NVIDIA_CLARA_JOBNAME": job.name,
            "NVIDIA_CLARA_PAYLOADID": job.payload_id,
            "NVIDIA_CLARA_PIPELINEID": job.pipeline_id,
            "NVIDIA_CLARA_STAGENAME": op.name,
            "NVIDIA_CLARA_JOBPRIORITY": job.priority.name,
            "NVIDIA_CLARA_MODEL_REPOSITORY": str(self._models.root),
            "NVIDIA_CLARA_MODELS": ";".join(models),
            "OPENCLARA_PAYLOAD_PATH": str(self._payloads.folder(job.payload_id)),
            "CLARA_SERVICE_HOST": self._config.platform_host,
            "CLARA_SERVICE_PORT_API": str(self._config.platform_port),
            "CLARA_RESULTSSERVICE_SERVICE_HOST": results.hostname or "127.0.0.1",
            "CLARA_RESULTSSERVICE_SERVICE_PORT": str(results.port or (443 if results.scheme == "https" else 80)),
            **({ENV_TOKEN: self._config.operator_token} if self._config.operator_token else {}),
            **self._results_tls(),
        }

    def _results_tls(self) -> dict[str, str]:
        """What register-results needs to reach an https results service: nothing for plain http."""
        results = urlsplit(self._config.results_url)
        if results.scheme != "https":
            return {}
        env = {RESULTS_SCHEME: "https", RESULTS_SERVER_NAME: results.hostname or "127.0.0.1"}
        if (ca_file := self._results_ca_file()) is not None:
            env[ENV_CA_FILE] = str(ca_file)
        return env


def _only_output(job: Job, operator: str) -> str:
    spec = parse(job.definition).operator(operator)
    return spec.outputs[0].name


def _with_gpus(run: OperatorRun, gpu_ids: tuple[int, ...]) -> OperatorRun:
    return dataclasses.replace(run, resources=dataclasses.replace(run.resources, gpu_ids=gpu_ids)) if gpu_ids else run


def _failure_messages(name: str, result: OperatorResult) -> list[str]:
    messages = [result.reason or f"operator {name!r} failed"]
    if result.last_lines:
        messages.append(f"last {len(result.last_lines)} log line(s) of operator {name!r}:")
        messages.extend(f"  {line}" for line in result.last_lines)
    return messages


async def _cancel_all(tasks: Iterable[asyncio.Task[OperatorResult]]) -> None:
    pending = list(tasks)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
