"""KubernetesExecutor: each operator runs as a Pod on the cluster, each service as a Pod behind a Service.

Per operator (`run`): the Pod of `pods.py` is created, watched until it ends, and deleted in the
background once the job has the result. Its log is copied from `pods/log` into the operator's log
file while it runs, so ReadLogs and `clara logs` work as with the other executors. How it ended comes
from the Pod's status (`podstatus.py`): exit code, OOMKilled, Evicted, DeadlineExceeded (the pod's
`activeDeadlineSeconds` is the operator's timeout, counted by the kubelet from the pod's start,
image pull included). A pod no node can take fails after `schedule_timeout`; an image that cannot be
pulled (ImagePullBackOff) fails at once with the kubelet's message. Cancelling deletes the pod.

Per service (`start_service`): a ClusterIP Service and the Pod it selects; the service counts as
started when the Pod is Ready (its first port accepts connections). Operators get `<service>:<port>`.

Per job, when its environment holds credentials (the operators' API token): one Secret, created before
the job's first pod and read by every pod of the job through `secretKeyRef` (`pods.job_secret`), so the
token is not in any pod spec. Concurrent operators of a job wait for the same creation.

Everything the executor creates carries `openclara/platform=<platform id>` and `openclara/job-id`:
`end_job` and `reap` delete a job's objects by label (Services, Pods, then the Secret), `start` (after
a platform crash) deletes whatever of this platform's is left, as no job runs yet. The Secret has no
ownerReference: the pods it serves are bare, come and go one operator at a time, and none of them
outlives the job, so no object the garbage collector could follow lives exactly as long as the job.

The platform's GPU pool only caps how many GPUs the platform asks for at once; the device plugin picks the GPUs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import structlog
from lightkube.resources.core_v1 import Pod

from platform_server.executors.base import (
    ExecutorError,
    Mount,
    OperatorResult,
    OperatorRun,
    Outcome,
    ServiceRun,
    tail,
)
from platform_server.executors.environment import PLATFORM_HOST_KEY, container_environment
from platform_server.executors.failures import failure_reason, not_started
from platform_server.executors.kubeclient import KubeApi, KubeConnection, LogCopy
from platform_server.executors.pods import (
    OPERATOR_CONTAINER,
    PLATFORM_LABEL,
    SERVICE_CONTAINER,
    PodOptions,
    cluster_service,
    job_labels,
    job_secret,
    operator_mounts,
    operator_pod,
    secret_values,
    service_name,
    service_pod,
)
from platform_server.executors.podstatus import IMAGE_REASONS, PodView, view

log = structlog.get_logger()
LOG_DRAIN = 5.0  # seconds the log copy may take to catch up after the container ended


@dataclasses.dataclass(frozen=True)
class KubernetesOptions:
    pods: PodOptions
    platform_host: str | None = None
    schedule_timeout: float = 600.0
    tail_lines: int = 20


@dataclasses.dataclass(frozen=True)
class _JobSecret:
    values: Mapping[str, str]
    created: asyncio.Task[object]


class KubernetesExecutor:
    def __init__(self, connect: Callable[[], KubeConnection], options: KubernetesOptions) -> None:
        self._connect = connect
        self.options = options
        self._api: KubeApi | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._followers: dict[str, list[asyncio.Task[LogCopy]]] = {}
        self._secrets: dict[str, _JobSecret] = {}  # job id -> its Secret, once asked for

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            raise ExecutorError("the Kubernetes executor was not started")
        return self._api

    # ---- platform life cycle ----------------------------------------------------------------------

    async def start(self) -> str:
        """Connect, prove the service account may manage pods, and remove what a crashed run left."""
        connection = self._connect()
        self._api = KubeApi(connection)
        self.options = dataclasses.replace(
            self.options, pods=dataclasses.replace(self.options.pods, namespace=connection.namespace))
        await self._check_claims()
        removed = await self.api.delete_labelled({PLATFORM_LABEL: self.options.pods.platform_id})
        if removed:
            log.warning("executor.kubernetes.swept", pods=removed, namespace=connection.namespace)
        return f"Kubernetes at {connection.server}, namespace {connection.namespace}"

    async def _check_claims(self) -> None:
        """A missing shared claim would leave every operator pod Pending: refuse to start instead."""
        for claim in self.options.pods.claims:
            modes = await self.api.claim_access(claim.claim)
            if modes is None:
                raise ExecutorError(f"executor.kubernetes.volumes: claim {claim.claim!r} does not exist in namespace "
                                    f"{self.api.namespace!r}")
            if "ReadWriteMany" not in modes:
                # Operators on other nodes cannot mount it; fine on a one-node cluster, so only a warning.
                log.warning("executor.kubernetes.claim_not_shared", claim=claim.claim, access_modes=list(modes))

    async def close(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=30)
        for tasks in self._followers.values():
            for task in tasks:
                task.cancel()
        if self._api is not None:
            await self._api.close()

    # ---- job life cycle ---------------------------------------------------------------------------

    async def begin_job(self, job_id: str, service_ports: tuple[int, ...]) -> None:
        return None

    async def end_job(self, job_id: str) -> None:
        """Delete the job's services in the background: the job's result does not wait for it."""
        for task in self._followers.pop(job_id, []):
            task.cancel()
        secret = self._secrets.pop(job_id, None)
        self._in_background(self._delete_job(job_id, secret), f"end of job {job_id}")

    async def reap(self, job_id: str, work_dir: Path) -> int:
        return await self.api.delete_labelled(job_labels(self.options.pods, job_id))

    async def _delete_job(self, job_id: str, secret: _JobSecret | None) -> None:
        if secret is not None:  # a creation still under way (its operator was cancelled) must not outlive this
            await asyncio.wait([secret.created])
        await self.api.delete_labelled(job_labels(self.options.pods, job_id), self.options.pods.kill_grace)

    async def _job_secret(self, job_id: str, env: Mapping[str, str], mounts: Sequence[Mount]) -> None:
        """Make sure the job's Secret holds the credentials of `env` and the `SECRET_FILES` of `mounts` before
        a pod that reads them is created."""
        values = await asyncio.to_thread(secret_values, env, mounts)
        if not values:
            return
        known = self._secrets.get(job_id)
        if known is not None and known.values != values:
            raise ExecutorError(f"job {job_id}: its operators were given different credentials ("
                                f"{', '.join(sorted(values))}); one job has one Secret")
        if known is None or (known.created.done() and (known.created.cancelled() or known.created.exception())):
            manifest = job_secret(job_id, values, self.options.pods)
            known = self._secrets[job_id] = _JobSecret(values, asyncio.create_task(self.api.create(manifest)))
            log.info("executor.kubernetes.creating_secret", job_id=job_id, secret=manifest["metadata"]["name"])
        await asyncio.shield(known.created)  # a cancelled operator leaves it to the others (and to end_job)

    # ---- operators --------------------------------------------------------------------------------

    async def run(self, run: OperatorRun) -> OperatorResult:
        try:
            env = self._environment(run)
            manifest = operator_pod(run, env, self.options.pods)
            for mount in run.outputs:  # made by the platform: the operator's user may not create folders there
                mount.host_path.mkdir(parents=True, exist_ok=True)
            run.log_path.parent.mkdir(parents=True, exist_ok=True)
            await self._job_secret(run.job_id, env, operator_mounts(run))
            created = await self.api.create(manifest)
        except (ExecutorError, OSError) as exc:
            return not_started(run, str(exc))
        name = manifest["metadata"]["name"]
        log.info("executor.kubernetes.created", job_id=run.job_id, operator=run.operator, pod=name)
        try:
            result = await self._follow(run, name, created.metadata.resourceVersion)
        except asyncio.CancelledError:
            await asyncio.shield(self._delete_pod(name, self.options.pods.kill_grace))
            raise
        self._in_background(self._delete_pod(name, 0), f"pod {name}")  # the result does not wait for it
        return result

    async def _follow(self, run: OperatorRun, name: str, version: str | None) -> OperatorResult:
        """Watch the pod until it ends; copy its log meanwhile. Client-side deadlines back up the kubelet's."""
        copier: asyncio.Task[LogCopy] | None = None
        deadline = time.monotonic() + self.options.schedule_timeout
        last = PodView(phase="Pending", started=False, ready=False, deleting=False)
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + self._budget(run)):
                async for event, pod in self._events(name, version, deadline):
                    last = view(pod, OPERATOR_CONTAINER) if event != "DELETED" else dataclasses.replace(
                        last, deleting=True)
                    if last.started and copier is None:
                        copier = asyncio.create_task(self.api.copy_log(name, OPERATOR_CONTAINER, run.log_path, True))
                    result = self._decide(run, event, last)
                    if result is not None:
                        return await self._with_log(run, name, copier, result, last.terminated_reason == "OOMKilled")
        except TimeoutError:
            reason = f"operator {run.operator!r} timed out after {run.timeout:g} s and was stopped"
            return await self._with_log(run, name, copier, OperatorResult(Outcome.TIMED_OUT, None, (), reason))
        except _Unscheduled as exc:
            return not_started(run, f"operator {run.operator!r}: no node could run its pod within "
                                    f"{self.options.schedule_timeout:g} s: {exc}")
        except ExecutorError as exc:
            return await self._with_log(run, name, copier, OperatorResult(Outcome.FAILED, None, (), str(exc)))
        finally:
            if copier is not None and not copier.done():
                copier.cancel()
        reason = f"operator {run.operator!r}: the watch of pod {name} ended before the pod did"
        return OperatorResult(Outcome.FAILED, None, (), reason)

    def _budget(self, run: OperatorRun) -> float:
        # The kubelet stops the pod at activeDeadlineSeconds; this only matters when it cannot (node lost).
        return self.options.schedule_timeout + math.ceil(run.timeout) + 30

    async def _events(self, name: str, version: str | None, deadline: float) -> AsyncIterator[tuple[str, Pod]]:
        """The pod's watch events; raises _Unscheduled when it is still unscheduled at `deadline`."""
        unschedulable = ""
        events = self.api.watch_pod(name, version).__aiter__()
        while True:
            wait = deadline - time.monotonic() if unschedulable else None
            try:
                event, pod = await asyncio.wait_for(events.__anext__(), wait)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise _Unscheduled(unschedulable) from None
            current = view(pod, OPERATOR_CONTAINER)
            if current.unschedulable and not unschedulable:
                log.warning("executor.kubernetes.unschedulable", pod=name, message=current.unschedulable)
            unschedulable = current.unschedulable if not current.started and current.phase == "Pending" else ""
            yield event, pod

    def _decide(self, run: OperatorRun, event: str, pod: PodView) -> OperatorResult | None:
        """The operator's result once the pod says it ended (or never will start); None while it runs."""
        op = repr(run.operator)
        if event == "DELETED" and not pod.ended:
            return OperatorResult(Outcome.FAILED, None, (), f"operator {op}: its pod was deleted while it ran")
        if pod.never_starts:
            what = "its image cannot be pulled" if pod.waiting_reason in IMAGE_REASONS else "it cannot be started"
            reason = (f"operator {op} ({run.image}): {what}: {pod.waiting_reason}"
                      + (f": {pod.waiting_message}" if pod.waiting_message else ""))
            return OperatorResult(Outcome.NOT_STARTED, None, (reason,), reason)
        if not pod.ended:
            return None
        if pod.phase == "Succeeded":
            return OperatorResult(Outcome.COMPLETED, 0)
        if pod.reason == "DeadlineExceeded":
            reason = f"operator {op} timed out after {math.ceil(run.timeout)} s and was stopped"
            return OperatorResult(Outcome.TIMED_OUT, pod.exit_code, (), reason)
        if pod.reason == "Evicted":
            reason = f"operator {op}: its pod was evicted from its node: {pod.message or 'no reason given'}"
            return OperatorResult(Outcome.FAILED, pod.exit_code, (), reason)
        code = pod.exit_code if pod.exit_code is not None else 1
        return OperatorResult(Outcome.FAILED, code, (), "")  # the reason needs the log: _with_log

    async def _with_log(self, run: OperatorRun, name: str, copier: asyncio.Task[LogCopy] | None,
                        result: OperatorResult, oom: bool = False) -> OperatorResult:
        """Let the log copy catch up (or fetch what it missed), then add the last lines and the reason."""
        if result.outcome == Outcome.NOT_STARTED:
            return not_started(run, result.reason)
        copied = LogCopy(0, complete=False)
        if copier is not None:
            try:
                copied = await asyncio.wait_for(asyncio.shield(copier), LOG_DRAIN)
            except TimeoutError:
                copier.cancel()
        if not copied.complete:
            await self.api.copy_log(name, OPERATOR_CONTAINER, run.log_path, follow=False, skip_lines=copied.lines)
        lines = tail(run.log_path, self.options.tail_lines)
        reason = result.reason
        if not reason:
            reason = failure_reason(run, result.exit_code if result.exit_code is not None else 1, oom, lines)
        return dataclasses.replace(result, last_lines=lines, reason=reason)

    def _environment(self, run: OperatorRun) -> dict[str, str]:
        hosts = {PLATFORM_HOST_KEY: self.options.platform_host} if self.options.platform_host else {}
        return container_environment(run.env, run.inputs, run.outputs, run.extra_mounts, hosts)

    async def _delete_pod(self, name: str, grace: float) -> None:
        try:
            await self.api.delete(Pod, name, grace)
        except ExecutorError as exc:
            log.warning("executor.kubernetes.delete_failed", pod=name, error=str(exc))

    # ---- services ---------------------------------------------------------------------------------

    async def start_service(self, run: ServiceRun) -> Mapping[int, str]:
        env = container_environment(run.env, extra=run.mounts)
        pod = service_pod(run, env, self.options.pods)
        name = service_name(run)
        await self._job_secret(run.job_id, env, run.mounts)
        await self.api.create(cluster_service(run, self.options.pods))
        created = await self.api.create(pod)
        log.info("executor.kubernetes.service_created", job_id=run.job_id, service=run.name, pod=name)
        copier: asyncio.Task[LogCopy] | None = None
        try:
            async with asyncio.timeout(run.ready_timeout):
                async for event, found in self.api.watch_pod(name, created.metadata.resourceVersion):
                    state = view(found, SERVICE_CONTAINER)
                    if state.started and copier is None:
                        copier = asyncio.create_task(self.api.copy_log(name, SERVICE_CONTAINER, run.log_path, True))
                        self._followers.setdefault(run.job_id, []).append(copier)
                    problem = _service_problem(event, state)
                    if problem:
                        raise ExecutorError(await self._service_failure(run, name, problem))
                    if state.ready:
                        return {port: f"{name}:{port}" for port in run.ports}
        except TimeoutError:
            why = f"was not ready (port {run.ports[0] if run.ports else '?'}) within {run.ready_timeout:g} s"
            raise ExecutorError(await self._service_failure(run, name, why)) from None
        raise ExecutorError(await self._service_failure(run, name, "its pod's watch ended"))

    async def _service_failure(self, run: ServiceRun, name: str, why: str) -> str:
        lines = await self.api.tail_log(name, SERVICE_CONTAINER, self.options.tail_lines)
        shown = "".join(f"\n  {line}" for line in lines)
        return f"service {run.name!r} ({run.image}) {why}" + (f"; its last log lines:{shown}" if lines else "")

    def _in_background(self, work: Awaitable[None], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except ExecutorError as exc:
                log.warning("executor.kubernetes.cleanup_failed", what=what, error=str(exc))

        task = asyncio.get_running_loop().create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class _Unscheduled(Exception):
    """The pod was still waiting for a node when `schedule_timeout` ran out."""


def _service_problem(event: str, state: PodView) -> str:
    if event == "DELETED":
        return "was deleted before it was ready"
    if state.never_starts:
        return f"cannot start: {state.waiting_reason}" + (f": {state.waiting_message}" if state.waiting_message else "")
    if state.ended:
        return f"exited (code {state.exit_code}) before it was ready"
    return ""
