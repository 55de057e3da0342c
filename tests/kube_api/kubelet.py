"""A scripted scheduler + kubelet: plays every created pod through the status a real node reports, following the
`PodScript` the test chose for it. No container runs; a script's `run` callable stands in for the process.

The script describes `spec.containers[0]`; any other container of the pod starts and ends with it, and only the
first one prints the script's log lines. Restarts are not emulated: every pod behaves as `restartPolicy: Never`.

Before the containers start, the first container's environment is resolved as the kubelet does (`value`, and
`valueFrom.secretKeyRef` read from the stored Secret): a Secret or key that is missing keeps the container waiting
in `CreateContainerConfigError` until it appears. `container_env` gives a script what its process would see.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import errno
import hashlib
import time
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tests.kube_api.store import Key, Store, now_rfc3339

if TYPE_CHECKING:
    from tests.kube_api.server import FakeKubernetes

NODE_NAME = "fake-node"
TERMINAL = ("Succeeded", "Failed")
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


@dataclass(frozen=True)
class PodScript:
    """What happens to one pod. The defaults: scheduled and started at once, exits 0 after 50 ms."""

    schedule_delay: float = 0.0  # seconds until the scheduler binds it to the node
    start_delay: float = 0.0  # seconds of ContainerCreating before the container runs
    unschedulable: str | None = None  # stays Pending, PodScheduled False/Unschedulable with this message
    waiting: tuple[str, str] | None = None  # (reason, message) the container stays waiting with
    waiting_sequence: tuple[tuple[str, str], ...] = ()  # shown in turn, `waiting_interval` apart; the last sticks
    waiting_interval: float = 0.05
    logs: tuple[str, ...] = ()  # lines printed while running, spread over `duration`
    run: Callable[[dict[str, Any]], int | None] | None = None  # the "process" (worker thread): its exit code
    exit_code: int = 0  # when there is no `run`, or it returned None
    duration: float = 0.05  # seconds from start to exit (at least as long as `run` takes)
    oom: bool = False  # terminated OOMKilled, exit code 137
    evict: str | None = None  # evicted `duration` after start with this message (`run` is not called)
    forever: bool = False  # runs until deleted (a service)
    ready_after: float = 0.0  # containers with a readinessProbe turn ready this long after start
    never_ready: bool = False  # ... or never

    @property
    def waits(self) -> tuple[tuple[str, str], ...]:
        return self.waiting_sequence or ((self.waiting,) if self.waiting else ())


class LogBuffer:
    """What one container printed: (time, line) pairs, and a way to follow it until the container ends."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []
        self.closed = False
        self._changed = asyncio.Event()

    def write(self, text: str) -> None:
        self.lines.extend((time.time(), line) for line in text.splitlines())
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, start: int) -> AsyncIterator[tuple[float, str]]:
        index = start
        while True:
            while index < len(self.lines):
                yield self.lines[index]
                index += 1
            if self.closed:
                return
            await self._changed.wait()


# Status changes: each takes a copy of the pod and edits it in place (see Store.update).


def _set_condition(pod: dict[str, Any], kind: str, value: bool, reason: str | None = None, message: str = "") -> None:
    conditions = pod["status"].setdefault("conditions", [])
    condition = next((c for c in conditions if c["type"] == kind), None)
    if condition is None:
        condition = {"type": kind}
        conditions.append(condition)
    status = "True" if value else "False"
    if condition.get("status") != status:
        condition["lastTransitionTime"] = now_rfc3339()
    condition |= {"status": status, "lastProbeTime": None}
    for field, text in (("reason", reason), ("message", message)):
        if text:
            condition[field] = text
        else:
            condition.pop(field, None)


def _set_readiness(pod: dict[str, Any]) -> None:
    statuses = pod["status"].get("containerStatuses", [])
    unready = [cs["name"] for cs in statuses if not cs["ready"]]
    if pod["status"]["phase"] in TERMINAL:
        reason = "PodCompleted" if pod["status"]["phase"] == "Succeeded" else "PodFailed"
        message = ""
    else:
        reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    for kind in ("Ready", "ContainersReady"):
        _set_condition(pod, kind, not unready, None if not unready else reason, "" if not unready else message)


def _unschedulable(pod: dict[str, Any], message: str) -> None:
    _set_condition(pod, "PodScheduled", False, "Unschedulable", message)


def _scheduled(pod: dict[str, Any]) -> None:
    pod["spec"]["nodeName"] = NODE_NAME
    _set_condition(pod, "PodScheduled", True)


def _accepted(pod: dict[str, Any]) -> None:
    """The kubelet takes the pod: start time, addresses, conditions, every container ContainerCreating."""
    status = pod["status"]
    status |= {"hostIP": "10.0.0.10", "hostIPs": [{"ip": "10.0.0.10"}], "startTime": now_rfc3339()}
    status["containerStatuses"] = [
        {
            "name": container["name"], "image": container["image"], "imageID": "", "ready": False,
            "restartCount": 0, "started": False, "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
        }
        for container in pod["spec"]["containers"]
    ]  # fmt: skip
    _set_condition(pod, "PodReadyToStartContainers", False)
    _set_condition(pod, "Initialized", True)
    _set_readiness(pod)
    status["conditions"].sort(key=lambda condition: condition["type"] == "PodScheduled")


def _waiting(pod: dict[str, Any], reason: str, message: str) -> None:
    for cs in pod["status"]["containerStatuses"]:
        cs["state"] = {"waiting": {"reason": reason, "message": message}}


def _started(pod: dict[str, Any]) -> None:
    status = pod["status"]
    status |= {"phase": "Running", "podIP": "10.244.0.10", "podIPs": [{"ip": "10.244.0.10"}]}
    probed = {c["name"] for c in pod["spec"]["containers"] if c.get("readinessProbe")}
    for cs in status["containerStatuses"]:
        digest = hashlib.sha256(f"{pod['metadata']['uid']}/{cs['name']}".encode()).hexdigest()
        cs |= {"containerID": f"containerd://{digest}", "imageID": f"{cs['image']}@sha256:{digest}"}
        cs |= {"state": {"running": {"startedAt": now_rfc3339()}}, "started": True, "ready": cs["name"] not in probed}
    _set_condition(pod, "PodReadyToStartContainers", True)
    _set_readiness(pod)


def _ready(pod: dict[str, Any]) -> None:
    for cs in pod["status"]["containerStatuses"]:
        cs["ready"] = "running" in cs["state"]
    _set_readiness(pod)


def _terminated(
    pod: dict[str, Any], exit_code: int, reason: str, pod_reason: str | None, message: str | None, disrupted: bool
) -> None:
    """Running containers end with `exit_code`/`reason`; the pod turns Succeeded or Failed."""
    status = pod["status"]
    for cs in status.get("containerStatuses", []):
        running = cs["state"].get("running")
        if running is not None:
            ended = {"exitCode": exit_code, "reason": reason, "startedAt": running["startedAt"]}
            ended |= {"finishedAt": now_rfc3339(), "containerID": cs["containerID"]}
            cs |= {"state": {"terminated": ended}, "ready": False, "started": False}
    codes = [cs["state"].get("terminated", {}).get("exitCode") for cs in status.get("containerStatuses", [])]
    status["phase"] = "Succeeded" if pod_reason is None and codes and all(c == 0 for c in codes) else "Failed"
    if pod_reason:
        status |= {"reason": pod_reason, "message": message}
    if disrupted:
        _set_condition(pod, "DisruptionTarget", True, "TerminationByKubelet", message or "")
    _set_readiness(pod)
    _set_condition(pod, "PodReadyToStartContainers", False)


def _call_script(run: Callable[[dict[str, Any]], int | None], pod: dict[str, Any]) -> tuple[int | None, str]:
    """Run the script's process in a worker thread: (exit code, traceback printed on failure)."""
    try:
        return run(pod), ""
    except Exception:
        return 1, traceback.format_exc()


class Kubelet:
    """Plays each pod as one asyncio task on the fake's loop, plus timers for deadlines, readiness and deletion."""

    def __init__(self, store: Store, fake: FakeKubernetes) -> None:
        self.store = store
        self.fake = fake
        self.logs: dict[str, dict[str, LogBuffer]] = {}  # pod uid -> container -> what it printed
        self.tasks: dict[str, dict[str, asyncio.Task[None]]] = {}  # pod uid -> role -> task
        self.environments: dict[str, dict[str, str]] = {}  # pod uid -> its first container's env at start

    def admit(self, pod: dict[str, Any]) -> None:
        """A pod was created: play it."""
        key: Key = ("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        uid = pod["metadata"]["uid"]
        self.logs[uid] = {c["name"]: LogBuffer() for c in pod["spec"]["containers"]}
        script = self.fake.script(copy.deepcopy(pod))
        self._spawn(uid, "play", self._play(key, uid, script))

    def delete(self, key: Key, uid: str, delay: float) -> None:
        """A graceful deletion began: stop what has not started now, kill the rest after `delay`, then remove."""
        pod = self.store.objects.get(key)
        if pod is not None and pod["status"]["phase"] != "Running":
            self._cancel(uid, "play")
        self._spawn(uid, "delete", self._finish_deletion(key, uid, delay))

    def forget(self, uid: str) -> None:
        """The pod is gone from the API: stop playing it and end its log streams."""
        for task in self.tasks.pop(uid, {}).values():
            if task is not asyncio.current_task():
                task.cancel()
        for buffer in self.logs.pop(uid, {}).values():
            buffer.close()
        self.environments.pop(uid, None)

    def log(self, uid: str, container: str) -> LogBuffer:
        return self.logs.get(uid, {}).get(container) or LogBuffer()

    def terminate(self, key: Key, uid: str, exit_code: int = 137, reason: str = "Error", **why: Any) -> None:
        """End the pod's containers (by default as SIGKILL does); `why`: pod_reason, message, disrupted."""
        pod = self.store.objects.get(key)
        if pod is None or pod["status"]["phase"] in TERMINAL:
            return
        for role in ("play", "ready", "deadline"):
            self._cancel(uid, role)
        why = {"pod_reason": None, "message": None, "disrupted": False} | why
        self.store.update(key, uid, partial(_terminated, exit_code=exit_code, reason=reason, **why))
        for buffer in self.logs.get(uid, {}).values():
            buffer.close()

    def _spawn(self, uid: str, role: str, work: Any) -> None:
        self.tasks.setdefault(uid, {})[role] = asyncio.get_running_loop().create_task(work)

    def _cancel(self, uid: str, role: str) -> None:
        task = self.tasks.get(uid, {}).pop(role, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _play(self, key: Key, uid: str, script: PodScript) -> None:
        update = partial(self.store.update, key, uid)
        await asyncio.sleep(script.schedule_delay)
        if script.unschedulable:
            update(partial(_unschedulable, message=script.unschedulable))
            return
        update(_scheduled)
        pod = update(_accepted)
        if pod is None:
            return
        self._arm_deadline(key, uid, pod)
        for reason, message in script.waits:
            await asyncio.sleep(script.waiting_interval)
            update(partial(_waiting, reason=reason, message=message))
        if script.waits:
            return  # the last reason sticks, as ImagePullBackOff does until the pod is deleted
        await asyncio.sleep(script.start_delay)
        if not await self._environment(key, uid, pod, script.waiting_interval):
            return
        pod = update(_started)
        if pod is None:
            return
        if any(c.get("readinessProbe") for c in pod["spec"]["containers"]) and not script.never_ready:
            self._spawn(uid, "ready", self._ready_later(key, uid, script.ready_after))
        if script.evict:
            await self._print(uid, pod, script)
            self.terminate(key, uid, pod_reason="Evicted", message=script.evict, disrupted=True)
            return
        exit_code = await self._run(uid, pod, script)
        if script.oom:
            self.terminate(key, uid, 137, "OOMKilled")
        else:
            self.terminate(key, uid, exit_code, "Completed" if exit_code == 0 else "Error")

    async def _environment(self, key: Key, uid: str, pod: dict[str, Any], retry: float) -> bool:
        """Resolve the first container's env; while a Secret it reads is missing, wait in CreateContainerConfigError.
        False when the pod went away meanwhile."""
        shown = ""
        while True:
            env, problem = self._resolve(pod["metadata"]["namespace"], pod["spec"]["containers"][0].get("env") or [])
            if not problem:
                self.environments[uid] = env
                return True
            if problem != shown:
                shown = problem
                if (
                    self.store.update(key, uid, partial(_waiting, reason="CreateContainerConfigError", message=problem))
                    is None
                ):
                    return False
            await asyncio.sleep(retry)

    def _resolve(self, namespace: str, entries: list[dict[str, Any]]) -> tuple[dict[str, str], str]:
        """(name -> value, "") or ({}, the kubelet's message for the first reference it cannot resolve)."""
        env: dict[str, str] = {}
        for entry in entries:
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref is None:
                env[entry["name"]] = str(entry.get("value", ""))
                continue
            secret = self.store.objects.get(("secrets", namespace, ref["name"]))
            data = (secret or {}).get("data") or {}
            if ref["key"] in data:
                env[entry["name"]] = base64.b64decode(data[ref["key"]]).decode()
            elif ref.get("optional"):
                continue
            elif secret is None:
                return {}, f'secret "{ref["name"]}" not found'
            else:
                return {}, f"couldn't find key {ref['key']} in Secret {namespace}/{ref['name']}"
        return env, ""

    async def _print(self, uid: str, pod: dict[str, Any], script: PodScript) -> None:
        """Print the script's lines evenly over its duration."""
        buffer = self.log(uid, pod["spec"]["containers"][0]["name"])
        step = script.duration / (len(script.logs) + 1)
        for line in script.logs:
            await asyncio.sleep(step)
            buffer.write(line)
        await asyncio.sleep(step)

    async def _run(self, uid: str, pod: dict[str, Any], script: PodScript) -> int:
        # The script gets its own copy: the stored dict is shared with published events.
        process = partial(_call_script, script.run, copy.deepcopy(pod)) if script.run else None
        work = asyncio.create_task(asyncio.to_thread(process)) if process else None
        await self._print(uid, pod, script)
        if script.forever:
            await asyncio.get_running_loop().create_future()  # until the pod is deleted
        if work is None:
            return script.exit_code
        exit_code, printed = await work
        if printed:
            self.log(uid, pod["spec"]["containers"][0]["name"]).write(printed)
        return script.exit_code if exit_code is None else exit_code

    async def _ready_later(self, key: Key, uid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        pod = self.store.objects.get(key)
        if pod is not None and pod["status"]["phase"] == "Running":
            self.store.update(key, uid, _ready)

    def _arm_deadline(self, key: Key, uid: str, pod: dict[str, Any]) -> None:
        """spec.activeDeadlineSeconds counts from status.startTime, which was just set."""
        seconds = pod["spec"].get("activeDeadlineSeconds")
        if seconds is not None:
            self._spawn(uid, "deadline", self._deadline(key, uid, seconds * self.fake.deadline_scale))

    async def _deadline(self, key: Key, uid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self.terminate(key, uid, pod_reason="DeadlineExceeded", message=DEADLINE_MESSAGE)

    async def _finish_deletion(self, key: Key, uid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        pod = self.store.objects.get(key)
        if pod is not None and pod["spec"].get("nodeName"):
            self.terminate(key, uid)  # what still runs after the grace period gets SIGKILL
        # The garbage collector drops a foregroundDeletion finalizer at once: a pod has no dependents.
        self.forget(uid)
        self.store.remove(key, uid)


def mounted_path(fake: FakeKubernetes, pod: dict[str, Any], container_path: str) -> tuple[Path, bool]:
    """Where `container_path` of the pod's first container lives on this host, and whether it is mounted read-only:
    through its volumeMounts (mountPath, subPath, readOnly) to a persistentVolumeClaim (via `fake.volumes`,
    claim name -> host folder) or a hostPath volume."""
    path = PurePosixPath(container_path)
    mounts = pod["spec"]["containers"][0].get("volumeMounts") or []
    for mount in sorted(mounts, key=lambda m: len(m["mountPath"]), reverse=True):
        mount_path = PurePosixPath(mount["mountPath"])
        if path != mount_path and mount_path not in path.parents:
            continue
        volume = next(v for v in pod["spec"].get("volumes", []) if v["name"] == mount["name"])
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]
            if claim["claimName"] not in fake.volumes:
                raise LookupError(f"claim {claim['claimName']!r} has no folder in fake.volumes")
            root = fake.volumes[claim["claimName"]]
            read_only = bool(mount.get("readOnly") or claim.get("readOnly"))
        elif "hostPath" in volume:
            root, read_only = Path(volume["hostPath"]["path"]), bool(mount.get("readOnly"))
        else:
            raise LookupError(f"volume {volume['name']!r} is neither a persistentVolumeClaim nor a hostPath")
        return root / mount.get("subPath", "") / path.relative_to(mount_path), read_only
    raise FileNotFoundError(errno.ENOENT, "not on any volume mount of the pod", container_path)


def container_env(fake: FakeKubernetes, pod: dict[str, Any]) -> dict[str, str]:
    """The environment the pod's first container started with, Secret references resolved (for a script's `run`)."""
    return fake._call(lambda: dict(fake.kubelet.environments[pod["metadata"]["uid"]]))


def write_file(fake: FakeKubernetes, pod: dict[str, Any], container_path: str, data: str | bytes) -> Path:
    """Write `data` at `container_path` as the container would: EROFS on a read-only mount."""
    host, read_only = mounted_path(fake, pod, container_path)
    if read_only:
        raise OSError(errno.EROFS, "Read-only file system", container_path)
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_bytes(data.encode() if isinstance(data, str) else data)
    return host
