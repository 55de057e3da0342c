"""JobServices: the services (e.g. Triton) of one running job, started once, shared, stopped with the job.

An operator that lists a service waits until the service answers on every `connections.http` port,
then gets one environment variable per connection (`NVIDIA_CLARA_TRTISURI=localhost:8000`). Two
operators listing the same service share one instance (the definition checks they define it alike).
A service's GPUs are taken from the pool when it starts and given back when the job ends.

The service sees `NVIDIA_CLARA_SERVICE_DATA_PATH`, under which `models/` holds the platform's model
repository (`clara create model`), so Clara's Triton command
`trtserver --model-store=$(NVIDIA_CLARA_SERVICE_DATA_PATH)/models` serves it unchanged. `$(VAR)` in a
service's command is expanded from the service's environment (`$$(VAR)` keeps a literal `$(VAR)`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from platform_server.executors.base import Executor, ExecutorError, Mount, ResourceRequest, ServiceRun
from platform_server.jobs.gpus import GpuPool
from platform_server.pipelines.spec import ServiceSpec

log = structlog.get_logger()
SERVICE_DATA_PATH = "/clara/service-data"
_VAR = re.compile(r"\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes-style `$(VAR)`: replaced when VAR is set, left as is otherwise; `$$(` escapes."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$(":
            return "$("
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR.sub(sub, text)


def service_ports(services: Iterable[ServiceSpec]) -> tuple[int, ...]:
    return tuple(sorted({c.port for s in services for c in s.connections}))


@dataclass(frozen=True)
class ServiceContext:
    job_id: str
    log_root: Path
    models_root: Path
    ready_timeout: float
    pull_secrets: tuple[str, ...] = ()


@dataclass
class JobServices:
    """Starts each service of one job at most once; `close` gives its GPUs back."""

    executor: Executor
    gpus: GpuPool
    context: ServiceContext
    _started: dict[str, asyncio.Task[Mapping[int, str]]] = field(default_factory=dict)
    _gpu_ids: list[tuple[int, ...]] = field(default_factory=list)

    async def environment(self, services: Iterable[ServiceSpec], models: tuple[str, ...]) -> dict[str, str]:
        """Start what is not running yet, wait until it answers; return the connection variables."""
        env: dict[str, str] = {}
        for spec in services:
            if spec.name not in self._started:
                self._started[spec.name] = asyncio.create_task(self._start(spec, models))
            addresses = await asyncio.shield(self._started[spec.name])
            env.update({c.name: addresses[c.port] for c in spec.connections})
        return env

    async def _start(self, spec: ServiceSpec, models: tuple[str, ...]) -> Mapping[int, str]:
        gpu_ids = await self.gpus.acquire(spec.requests.gpu, f"service {spec.name}")
        self._gpu_ids.append(gpu_ids)
        run = self._service_run(spec, models, gpu_ids)
        log.info("job.service.starting", job_id=self.context.job_id, service=spec.name, image=run.image)
        try:
            return await self.executor.start_service(run)
        except ExecutorError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported as the operator's failure, not a platform crash
            raise ExecutorError(f"service {spec.name!r} could not be started: {type(exc).__name__}: {exc}") from exc

    def _service_run(self, spec: ServiceSpec, models: tuple[str, ...], gpu_ids: tuple[int, ...]) -> ServiceRun:
        ctx = self.context
        env = {**spec.variables, "NVIDIA_CLARA_SERVICE_DATA_PATH": SERVICE_DATA_PATH,
               "NVIDIA_CLARA_JOBID": ctx.job_id}
        return ServiceRun(
            job_id=ctx.job_id, name=spec.name, image=spec.reference,
            command=tuple(expand(arg, env) for arg in spec.command), env=env,
            ports=tuple(c.port for c in spec.connections), log_path=ctx.log_root / f"service-{spec.name}.log",
            ready_timeout=ctx.ready_timeout, mounts=model_mounts(ctx.models_root, models),
            resources=ResourceRequest(cpu=spec.requests.cpu, gpu=spec.requests.gpu,
                                      memory_mb=spec.requests.memory, gpu_ids=gpu_ids),
            pull_secrets=ctx.pull_secrets,
        )

    async def close(self) -> None:
        for task in self._started.values():
            task.cancel()
        await asyncio.gather(*self._started.values(), return_exceptions=True)
        for ids in self._gpu_ids:
            await self.gpus.release(ids)
        self._gpu_ids.clear()


def model_mounts(root: Path, names: tuple[str, ...]) -> tuple[Mount, ...]:
    """The named models (all models when none is named), read-only under the service data path."""
    if not root.is_dir():
        return ()
    chosen = names or tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    return tuple(Mount(f"model-{name}", f"{SERVICE_DATA_PATH}/models/{name}", root / name, True)
                 for name in chosen if (root / name).is_dir())
