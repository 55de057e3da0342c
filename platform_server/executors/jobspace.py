"""JobSpaces: the network each job's containers share, and how the containers go away after the job.

* A job with services (Podman, `network: pod`) gets one pod: operators and services share its
  network, so an operator reaches a service at `localhost:<port>`. The pod is made at the job's first
  container and removed, with everything in it, when the job ends.
* A job without services needs no shared network: each container gets its own slirp4netns network
  (`network: pod`) or the host's (`network: host`), which saves the pod's creation and removal
  (about 0.4 s of a job, docs/benchmarks-containers.md).
* Clean-up is off the job's critical path: a finished container, and at the end the pod, are removed
  in the background once the job has its result. Everything carries this platform's label, so what a
  crash leaves behind is removed at the next start (`sweep`), and a job's leftovers by `reap`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Literal

import structlog

from platform_server.executors.engine import JOB_LABEL, PLATFORM_LABEL, ContainerEngine

log = structlog.get_logger()
# slirp4netns with host loopback allowed: the container reaches the host's 127.0.0.1 at 10.0.2.2.
SLIRP_NETWORK = "slirp4netns:allow_host_loopback=true"


def pod_name(job_id: str) -> str:
    return f"openclara-{job_id[:12]}"


def container_name(job_id: str, role: str) -> str:
    return f"{pod_name(job_id)}-{role}"


class JobSpaces:
    def __init__(self, engine: ContainerEngine, mode: Literal["pod", "host"], platform_id: str) -> None:
        self.engine = engine
        self.mode = mode
        self.platform_id = platform_id
        self._ports: dict[str, tuple[int, ...]] = {}
        self._pods: dict[str, asyncio.Task[str]] = {}
        self._pending: dict[str, set[asyncio.Task[None]]] = {}
        self._services: dict[str, list[str]] = {}
        self._background: set[asyncio.Task[None]] = set()

    def labels(self, job_id: str, role: str) -> list[str]:
        return ["--label", f"{JOB_LABEL}={job_id}", "--label", f"{PLATFORM_LABEL}={self.platform_id}",
                "--label", f"org.openclara.role={role}"]

    def begin(self, job_id: str, service_ports: tuple[int, ...]) -> None:
        self._ports[job_id] = service_ports

    def uses_pod(self, job_id: str) -> bool:
        return self.mode == "pod" and bool(self._ports.get(job_id))

    async def network(self, job_id: str) -> list[str]:
        if self.mode == "host":
            return ["--network", "host"]
        if not self.uses_pod(job_id):
            return ["--network", SLIRP_NETWORK]
        if job_id not in self._pods:
            self._pods[job_id] = asyncio.create_task(self._create_pod(job_id))
        return ["--pod", await asyncio.shield(self._pods[job_id])]

    async def _create_pod(self, job_id: str) -> str:
        name = pod_name(job_id)
        labels = {JOB_LABEL: job_id, PLATFORM_LABEL: self.platform_id}
        await self.engine.create_pod(name, labels, SLIRP_NETWORK, self._ports.get(job_id, ()))
        return name

    def discard(self, job_id: str, name: str) -> None:
        """A container of the job has ended: remove it in the background (a pod removes its own at the end)."""
        if not self.uses_pod(job_id):
            self._pending.setdefault(job_id, set()).add(self._spawn(self.engine.remove(name)))

    def service(self, job_id: str, name: str) -> None:
        """A service container of the job: it runs until the job ends."""
        self._services.setdefault(job_id, []).append(name)

    def end(self, job_id: str) -> None:
        """The job has ended: stop and remove its services, containers and pod in the background."""
        pending = self._pending.pop(job_id, set())
        services = self._services.pop(job_id, [])
        pod = self._pods.pop(job_id, None)
        self._ports.pop(job_id, None)

        async def clean() -> None:
            await asyncio.gather(*pending, return_exceptions=True)
            if pod is not None:
                await asyncio.gather(pod, return_exceptions=True)
                await self.engine.remove_pod(pod_name(job_id))  # --force: with every container in it
            else:
                await asyncio.gather(*(self.engine.remove(name) for name in services))

        self._spawn(clean())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("executor.cleanup.failed", error=str(task.exception()))

    async def drain(self) -> None:
        """Wait for the background removals (platform shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def sweep(self) -> int:
        """At start: nothing runs yet, so every container and pod of this platform is a crash's leftover."""
        names = await self.engine.labelled(PLATFORM_LABEL, self.platform_id)
        pods = await self.engine.labelled_pods(PLATFORM_LABEL, self.platform_id)
        for pod in pods:
            await self.engine.remove_pod(pod)
        for name in names:
            await self.engine.remove(name)
        if names or pods:
            log.warning("executor.container.swept", containers=len(names), pods=len(pods))
        return len(names)

    async def reap(self, job_id: str) -> int:
        """Remove the containers and the pod of `job_id`; return how many operator or service containers."""
        names = [n for n in await self.engine.labelled(JOB_LABEL, job_id) if n.startswith(pod_name(job_id) + "-")]
        for pod in await self.engine.labelled_pods(JOB_LABEL, job_id):
            await self.engine.remove_pod(pod)
        for name in names:
            await self.engine.remove(name)
            log.warning("executor.container.reaped", job_id=job_id, container=name)
        return len(names)
