"""ContainerExecutor: each operator runs as a Podman or Docker container; services run beside them.

Per operator: the image (pulled when missing, with the pipeline's `pull-secrets` resolved from
`executor.container.pull_secrets`), its entrypoint or the declared `command`, inputs bind-mounted
**read-only** and outputs read-write at the declared paths, the model repository read-only, the same
`NVIDIA_CLARA_*` environment as the local executor (with container paths), `requests` as limits
(`--cpus`, `--memory`) and GPUs (`devices.py`). Its output goes to the operator's log file (ReadLogs),
its exit code and OOM kill into the result. The exit code comes from `run` itself; only a failed
container is inspected (for an OOM kill). Images known to be present are not asked about again.

Network and clean-up are `jobspace.py`'s: a job with services gets one Podman pod (operators reach
services at `localhost:<port>`), a job without gets a slirp4netns network per container; either way
the host's loopback services (results service, Platform API) are at 10.0.2.2, so nothing has to
listen on a public address. `network: host` shares the host's network (Docker's only mode here).
Containers and pods are removed in the background once the job has its result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import structlog

from platform_server.executors.base import (
    ExecutorError,
    Mount,
    OperatorResult,
    OperatorRun,
    Outcome,
    ResourceRequest,
    ServiceRun,
    tail,
)
from platform_server.executors.devices import gpu_arguments
from platform_server.executors.engine import ContainerEngine, EngineError
from platform_server.executors.environment import HOST_ADDRESS_KEYS, container_environment
from platform_server.executors.failures import failure_reason, not_started
from platform_server.executors.jobspace import JobSpaces, container_name, pod_name
from platform_server.executors.probe import wait_until_answering

log = structlog.get_logger()
SLIRP_HOST_GATEWAY = "10.0.2.2"  # the host's loopback, seen from a slirp4netns network
# What conmon writes into its working folder when the container was killed for memory.
OOM_MARK = "oom"
# `podman run`/`docker run` exit with 125 when the engine itself failed, before the container ran.
ENGINE_ERROR = 125
# registry[:port]/path/name[:tag][@digest]; never starting with "-".
IMAGE_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")


@dataclasses.dataclass(frozen=True)
class ContainerOptions:
    network: Literal["pod", "host"] = "pod"
    gpu_mode: Literal["cdi", "gpus"] = "cdi"
    kill_grace: float = 1.0
    tail_lines: int = 20
    pull_timeout: float = 1800.0
    pull_secrets: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    platform_id: str = "openclara"  # labels this platform's containers (one engine may serve several)


class ContainerExecutor:
    def __init__(self, engine: ContainerEngine, options: ContainerOptions) -> None:
        self.engine = engine
        self.options = options
        self.spaces = JobSpaces(engine, options.network, options.platform_id)
        self._images: set[str] = set()  # known to be present: a removed image shows up as a run failure
        self._pulls: dict[str, asyncio.Lock] = {}
        self._followers: set[asyncio.Task[None]] = set()

    async def check(self) -> str:
        """The engine's version; EngineError with the engine's own words when it cannot run containers."""
        done = await self.engine.call("version", "--format", "{{.Client.Version}}", timeout=30, check=False)
        if done.code != 0:
            raise EngineError(f"container engine {self.engine.binary!r} does not work: {done.error}")
        return done.stdout.strip()

    async def start(self) -> str:
        """Check the engine, then remove what a crashed run left (nothing of this platform runs yet)."""
        version = await self.check()
        await self.sweep()
        return f"{self.engine.name} {version} containers, network {self.options.network}"

    async def sweep(self) -> int:
        """Remove what a crashed run of this platform left (called at start, before any job runs)."""
        return await self.spaces.sweep()

    async def close(self) -> None:
        """Wait for the background clean-up of ended jobs."""
        await self.spaces.drain()

    # ---- job life cycle -------------------------------------------------------------------------

    async def begin_job(self, job_id: str, service_ports: tuple[int, ...]) -> None:
        self.spaces.begin(job_id, service_ports)

    async def end_job(self, job_id: str) -> None:
        self.spaces.end(job_id)

    async def reap(self, job_id: str, work_dir: Path) -> int:
        """Remove the containers and the pod of `job_id` left by a crashed platform; return how many."""
        return await self.spaces.reap(job_id)

    # ---- operators --------------------------------------------------------------------------------

    async def run(self, run: OperatorRun) -> OperatorResult:
        name = container_name(run.job_id, run.operator)
        try:
            await self._ensure_image(run.image, run.pull_secrets)
            args, env = await self._run_args(run)
            run.log_path.parent.mkdir(parents=True, exist_ok=True)
            run.work_dir.mkdir(parents=True, exist_ok=True)
            (run.work_dir / OOM_MARK).unlink(missing_ok=True)
            with run.log_path.open("ab") as sink:
                proc = await self.engine.attached(["run", "--name", name, *args], sink, cwd=run.work_dir, env=env)
        except (ExecutorError, OSError) as exc:
            return not_started(run, str(exc))
        log.info("executor.container.started", job_id=run.job_id, operator=run.operator, container=name)
        try:
            result = await self._wait(run, name, proc)
        finally:
            self.spaces.discard(run.job_id, name)
        if result.outcome == Outcome.NOT_STARTED:
            self._images.discard(run.image)  # perhaps removed since we last looked: check again next time
        return result

    async def _run_args(self, run: OperatorRun) -> tuple[list[str], dict[str, str]]:
        mounts = (*run.inputs, *run.extra_mounts, *run.outputs)
        for mount in mounts:
            if not mount.read_only:
                mount.host_path.mkdir(parents=True, exist_ok=True)
            if not mount.host_path.exists():
                raise ExecutorError(f"operator {run.operator!r}: the folder for {mount.container_path} "
                                    f"({mount.label}) does not exist")
        env = self._environment(run.env, run.inputs, run.outputs, run.extra_mounts)
        args = await self._container_args(run.job_id, "operator", mounts, env, run.resources)
        return [*args, run.image, *run.command], env

    async def _container_args(self, job_id: str, role: str, mounts: tuple[Mount, ...], env: Mapping[str, str],
                              resources: ResourceRequest) -> list[str]:
        """What operators and services share: labels, network, mounts, environment names, limits, GPUs."""
        args = ["--pull", "never", *self.spaces.labels(job_id, role), *await self.spaces.network(job_id)]
        for mount in mounts:
            args += ["--volume", f"{mount.host_path}:{mount.container_path}:{'ro' if mount.read_only else 'rw'}"]
        args += [*_env_names(env), *_limits(resources.cpu, resources.memory_mb)]
        return [*args, *gpu_arguments(resources.gpu_ids, self.options.gpu_mode)]

    def _environment(self, env: Mapping[str, str], inputs: tuple[Mount, ...] = (),
                     outputs: tuple[Mount, ...] = (), extra: tuple[Mount, ...] = ()) -> dict[str, str]:
        hosts = dict.fromkeys(HOST_ADDRESS_KEYS, SLIRP_HOST_GATEWAY) if self.options.network == "pod" else {}
        return container_environment(env, inputs, outputs, extra, hosts)

    async def _wait(self, run: OperatorRun, name: str, proc: asyncio.subprocess.Process) -> OperatorResult:
        try:
            await asyncio.wait_for(proc.wait(), timeout=run.timeout)
        except TimeoutError:
            await self._stop(name, proc)
            reason = f"operator {run.operator!r} timed out after {run.timeout:g} s and was stopped"
            return OperatorResult(Outcome.TIMED_OUT, None, tail(run.log_path, self.options.tail_lines), reason)
        except asyncio.CancelledError:
            await asyncio.shield(self._stop(name, proc))
            raise
        lines = tail(run.log_path, self.options.tail_lines)
        if proc.returncode == 0:  # `run` exits with the container's code: nothing more to ask
            return OperatorResult(Outcome.COMPLETED, 0, lines)
        code = proc.returncode or 1
        state, flagged = await self.engine.inspect_state(name)
        if code == ENGINE_ERROR and state != ENGINE_ERROR:
            # The engine failed before the container ran (a bad mount or option, a runtime error); a
            # container it created but never started reports exit code 0, which must not read as success.
            why = lines[-1] if lines else f"exit code {code}"
            reason = f"{self.engine.name} could not start operator {run.operator!r}: {why}"
            return OperatorResult(Outcome.NOT_STARTED, code, lines, reason)
        oom = flagged or (run.work_dir / OOM_MARK).exists()
        return OperatorResult(Outcome.FAILED, code, lines, failure_reason(run, code, oom, lines))

    async def _stop(self, name: str, proc: asyncio.subprocess.Process) -> None:
        await self.engine.stop(name, self.options.kill_grace)
        try:
            await asyncio.wait_for(proc.wait(), timeout=5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            await self.engine.remove(name)  # created after our `stop`: conmon would keep it running

    async def _ensure_image(self, image: str, pull_secrets: tuple[str, ...]) -> None:
        if image in self._images:
            return
        if not IMAGE_REFERENCE.match(image):
            # It goes on the engine's command line: `--privileged` must never be read as an option.
            raise ExecutorError(f"{image!r} is not an image reference (registry/name:tag or name@sha256:...)")
        async with self._pulls.setdefault(image, asyncio.Lock()):  # one pull per image, not one per operator
            if image in self._images:
                return
            if not await self.engine.image_exists(image):
                authfile, note = self._authfile(pull_secrets)
                try:
                    await self.engine.pull(image, authfile, self.options.pull_timeout)
                except EngineError as exc:
                    raise ExecutorError(f"{exc}{note}") from exc
            self._images.add(image)

    def _authfile(self, pull_secrets: tuple[str, ...]) -> tuple[Path | None, str]:
        for secret in pull_secrets:
            if secret in self.options.pull_secrets:
                return self.options.pull_secrets[secret], ""
        if pull_secrets:
            names = ", ".join(pull_secrets)
            return None, (f" (the pipeline's pull-secrets {names} are not configured: "
                          "map them to auth files in executor.container.pull_secrets)")
        return None, ""

    # ---- services ---------------------------------------------------------------------------------

    async def start_service(self, run: ServiceRun) -> Mapping[int, str]:
        await self._ensure_image(run.image, run.pull_secrets)
        name = container_name(run.job_id, f"service-{run.name}")
        env = self._environment(run.env)
        args = await self._container_args(run.job_id, "service", run.mounts, env, run.resources)
        run.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.spaces.service(run.job_id, name)  # before it exists: a cancel mid-start still removes it
        done = await self.engine.call("run", "--detach", "--name", name, *args, run.image, *run.command,
                                      check=False, cwd=run.log_path.parent, env=env)
        if done.code != 0:
            raise ExecutorError(f"service {run.name!r} could not be started: {done.error}")
        log.info("executor.service.started", job_id=run.job_id, service=run.name, container=name)
        self._follow_logs(name, run.log_path)
        published = {p: p for p in run.ports}
        if self.options.network != "host" and run.ports:
            published = await self.engine.pod_ports(pod_name(run.job_id))
        for port in run.ports:
            if port not in published:
                raise ExecutorError(f"service {run.name!r}: the job's pod publishes no host port for {port}")
            await self._wait_ready(run, name, port, published[port])
        return {port: f"localhost:{port}" for port in run.ports}

    async def _wait_ready(self, run: ServiceRun, name: str, port: int, host_port: int) -> None:
        answered = await wait_until_answering(f"http://127.0.0.1:{host_port}/", run.ready_timeout,
                                              lambda: self.engine.running(name))
        if answered:
            return
        running = await self.engine.running(name)
        await asyncio.sleep(0.2)  # let the log follower write what the service printed last
        lines = tail(run.log_path, self.options.tail_lines)
        why = (f"did not answer HTTP on port {port} within {run.ready_timeout:g} s" if running
               else f"exited before it answered on port {port}")
        shown = "".join(f"\n  {line}" for line in lines)
        raise ExecutorError(f"service {run.name!r} ({run.image}) {why}"
                            + (f"; its last log lines:{shown}" if lines else ""))

    def _follow_logs(self, name: str, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)

        async def follow() -> None:
            with log_path.open("ab") as sink:
                try:
                    proc = await self.engine.attached(["logs", "--follow", name], sink)
                except ExecutorError:
                    return  # the engine vanished: the readiness probe reports the service as not answering
                await proc.wait()

        task = asyncio.get_running_loop().create_task(follow())
        self._followers.add(task)  # `logs --follow` ends by itself when the container is removed
        task.add_done_callback(self._followers.discard)


def _env_names(env: Mapping[str, str]) -> list[str]:
    """`--env NAME` without the value: the engine takes it from its own environment, so values (which
    may be credentials) never appear on a command line that `ps` shows every local user."""
    return [arg for key in env for arg in ("--env", key)]


def _limits(cpu: float, memory_mb: int) -> list[str]:
    args = []
    if cpu > 0:
        args += ["--cpus", f"{cpu:g}"]
    if memory_mb > 0:
        args += ["--memory", f"{memory_mb}m"]
    return args
