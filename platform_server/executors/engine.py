"""ContainerEngine: the Podman or Docker command line, driven asynchronously; every failure becomes EngineError.

Why the CLI and not the Docker Engine API: both engines ship the same `run/create/rm/inspect/pull`
command line, the CLI needs no daemon socket (Podman has none by default, and its API service would
be one more process to run and secure), and the engine's own error text reaches the user unchanged.
The cost is one short-lived process per call (about 30-80 ms here), which `docs/benchmarks-containers.md`
measures against Clara's start-up.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog

from platform_server.executors.base import ExecutorError

log = structlog.get_logger()
# Labels put on every container and pod we create: `reap` finds leftovers of a crashed platform by them.
JOB_LABEL = "org.openclara.job-id"
PLATFORM_LABEL = "org.openclara.platform"


class EngineError(ExecutorError):
    """The engine is missing, refused a command, or did not answer in time; the message says which."""


@dataclass(frozen=True)
class Completed:
    code: int
    stdout: str
    stderr: str

    @property
    def error(self) -> str:
        """The engine's own last error line (`Error: ...`), which is what a user needs to read."""
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error")]
        return (errors or lines or [f"exit code {self.code}"])[-1]


class ContainerEngine:
    """`podman` or `docker` with an optional environment (e.g. CONTAINERS_CONF) for every call."""

    def __init__(self, binary: str = "podman", env: Mapping[str, str] | None = None,
                 command_timeout: float = 120.0) -> None:
        self.binary = binary
        self.name = Path(binary).name
        self._env = {**os.environ, **(env or {})}
        self._timeout = command_timeout
        # Not the platform's own working folder: conmon leaves files (`oom`) where it is started.
        self.scratch = Path(tempfile.gettempdir())

    @property
    def is_podman(self) -> bool:
        return "podman" in self.name

    def path(self) -> str:
        found = shutil.which(self.binary)
        if found is None:
            raise EngineError(f"container engine {self.binary!r} is not installed or not on PATH "
                              "(executor.container.engine in config/platform-server.yaml; "
                              "Debian: apt-get install podman)")
        return found

    async def call(self, *args: str, timeout: float | None = None, check: bool = True,
                   cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Completed:
        """Run `<engine> args...` and collect its output; raise EngineError on failure when `check`.

        `env` is added to the engine's environment: `--env NAME` arguments take their values from there.
        """
        proc = await self._spawn(args, asyncio.subprocess.PIPE, cwd, env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout or self._timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise EngineError(f"`{self.name} {args[0]}` did not answer within {timeout or self._timeout:g} s") from None
        except asyncio.CancelledError:
            proc.kill()  # a cancelled job must not leave a `run --detach` or a pull going on
            raise
        done = Completed(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and done.code != 0:
            raise EngineError(f"`{self.name} {' '.join(args[:2])}` failed: {done.error}")
        return done

    async def attached(self, args: Sequence[str], sink: IO[bytes], cwd: Path | None = None,
                       env: Mapping[str, str] | None = None) -> asyncio.subprocess.Process:
        """Start `<engine> args...` with stdout and stderr going to `sink` (a container's log file).

        `cwd` matters for `run`: Podman's conmon writes a file named `oom` into its working folder when
        the container is killed for memory, and the executor reads it (cgroup v1 hides OOM kills).
        """
        return await self._spawn(args, sink, cwd, env)

    async def _spawn(self, args: Sequence[str], out: int | IO[bytes], cwd: Path | None = None,
                     env: Mapping[str, str] | None = None) -> asyncio.subprocess.Process:
        binary = self.path()
        stderr = asyncio.subprocess.STDOUT if out is not asyncio.subprocess.PIPE else asyncio.subprocess.PIPE
        try:
            return await asyncio.create_subprocess_exec(
                binary, *args, env={**self._env, **(env or {})}, cwd=cwd or self.scratch,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=stderr,
            )
        except OSError as exc:
            raise EngineError(f"cannot run {binary!r}: {exc.strerror or exc}") from exc

    async def image_exists(self, reference: str) -> bool:
        if self.is_podman:
            return (await self.call("image", "exists", reference, check=False)).code == 0
        return (await self.call("image", "inspect", "--format", "{{.Id}}", reference, check=False)).code == 0

    async def pull(self, reference: str, authfile: Path | None, timeout: float) -> None:
        args = ["pull", "--quiet"]
        with tempfile.TemporaryDirectory(prefix="openclara-auth-") as folder:
            if authfile is not None and self.is_podman:
                args += ["--authfile", str(authfile)]
            elif authfile is not None:
                # Docker only reads `config.json` from the folder given to --config.
                shutil.copyfile(authfile, Path(folder) / "config.json")
                args = ["--config", folder, *args]
            done = await self.call(*args, reference, timeout=timeout, check=False)
        if done.code != 0:
            raise EngineError(f"image {reference!r} is not on this machine and could not be pulled: {done.error}")
        log.info("executor.image.pulled", image=reference)

    async def inspect_state(self, name: str) -> tuple[int | None, bool]:
        """(exit code, OOM-killed) of a stopped container, or (None, False) when it is gone."""
        done = await self.call("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", name, check=False)
        fields = done.stdout.split()
        if done.code != 0 or len(fields) != 2:
            return None, False
        return int(fields[0]), fields[1] == "true"

    async def running(self, name: str) -> bool:
        done = await self.call("inspect", "--format", "{{.State.Running}}", name, check=False)
        return done.code == 0 and done.stdout.strip() == "true"

    async def stop(self, name: str, grace: float) -> None:
        await self.call("stop", "--time", str(max(0, round(grace))), name, check=False)

    async def remove(self, name: str) -> None:
        await self.call("rm", "--force", "--time", "0", name, check=False) if self.is_podman else \
            await self.call("rm", "--force", name, check=False)

    async def labelled(self, label: str, value: str) -> list[str]:
        """Names of containers (running or not) carrying label=value."""
        done = await self.call("ps", "--all", "--filter", f"label={label}={value}", "--format", "{{.Names}}",
                               check=False)
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    async def create_pod(self, name: str, labels: Mapping[str, str], network: str, ports: Sequence[int]) -> None:
        # --replace: a pod of the same name can only be a leftover of this job from before a crash.
        args = ["pod", "create", "--replace", "--name", name, "--network", network]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        for port in ports:
            args += ["--publish", f"127.0.0.1::{port}"]
        await self.call(*args)
        await self.call("pod", "start", name)

    async def pod_ports(self, pod: str) -> dict[int, int]:
        """Each published TCP port of the pod -> the loopback host port that forwards to it (two calls in all)."""
        infra = (await self.call("pod", "inspect", "--format", "{{.InfraContainerID}}", pod)).stdout.strip()
        ports: dict[int, int] = {}
        for line in (await self.call("port", infra)).stdout.splitlines():  # "8000/tcp -> 127.0.0.1:34817"
            inside, _, outside = line.partition(" -> ")
            number, _, protocol = inside.partition("/")
            if protocol == "tcp" and number.isdigit() and outside.rsplit(":", 1)[-1].isdigit():
                ports[int(number)] = int(outside.rsplit(":", 1)[-1])
        return ports

    async def remove_pod(self, name: str) -> None:
        await self.call("pod", "rm", "--force", "--time", "0", name, check=False)

    async def labelled_pods(self, label: str, value: str) -> list[str]:
        done = await self.call("pod", "ps", "--filter", f"label={label}={value}", "--format", "{{.Name}}",
                               check=False)
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]
