"""The Kubernetes API as the executor uses it: one connection, errors mapped once, logs copied into files.

`connect` reads the platform's credentials (the pod's service account in a cluster, a kubeconfig file
otherwise) through `lightkube`, a small typed async client on httpx. `KubeApi` wraps the calls the
executor makes (create, get, watch, delete by name or label, logs; Pods, Services and Secrets) so that
every API or network failure reaches the executor as one `ExecutorError` with the API server's own
message, and a missing object is not an error where gone is what was wanted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import structlog
from lightkube import ApiError, AsyncClient, ConfigError, KubeConfig
from lightkube.codecs import from_dict
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod, Secret, Service
from lightkube.types import CascadeType, OnErrorAction, OnErrorResult

from openclara.backoff import exponential
from platform_server.executors.base import ExecutorError

log = structlog.get_logger()
_Kind = TypeVar("_Kind", Pod, PersistentVolumeClaim)
# What the executor creates and deletes; deleted by label in this order (pods before the Secret they read).
_Made = type[Pod] | type[Service] | type[Secret]
_KINDS: dict[str, _Made] = {"Service": Service, "Pod": Pod, "Secret": Secret}
_T = TypeVar("_T")
NOT_FOUND = 404
CONFLICT = 409
# A watch that loses its connection (API server restart, network blip) is re-opened from the last
# resourceVersion it saw, this many times in a row, waiting 0.25, 0.5, 1, 2, 4, 5, 5 … s in between.
WATCH_RETRIES = 12


@dataclass(frozen=True)
class LogCopy:
    lines: int
    complete: bool


@dataclass(frozen=True)
class KubeConnection:
    """An API client bound to the namespace the platform works in, and the server it talks to."""

    client: AsyncClient
    namespace: str
    server: str


def connect(kubeconfig: Path | None, namespace: str | None) -> KubeConnection:
    """The API server and namespace: in a pod its service account, else `kubeconfig` or $KUBECONFIG."""
    try:
        config = KubeConfig.from_file(kubeconfig) if kubeconfig is not None else KubeConfig.from_env()
        single = config.get()
        if single is None:
            raise ConfigError("the configuration names no current context")
    except (ConfigError, OSError, ValueError) as exc:
        raise ExecutorError(f"no Kubernetes configuration: {exc} (run the platform in a pod with a service account, "
                            "or set executor.kubernetes.kubeconfig / $KUBECONFIG)") from exc
    chosen = namespace or single.namespace or "default"
    client = AsyncClient(config, namespace=chosen, field_manager="openclara", trust_env=False)
    return KubeConnection(client, chosen, single.cluster.server)


def describe(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.status.code} {exc.status.reason}: {exc.status.message}"
    return f"{type(exc).__name__}: {exc}"


class KubeApi:
    def __init__(self, connection: KubeConnection) -> None:
        self.client = connection.client
        self.namespace = connection.namespace

    async def create(self, manifest: Mapping[str, Any]) -> Any:
        """Create the object; an object of that name left by an earlier attempt is deleted first."""
        obj = from_dict(dict(manifest))
        kind = _KINDS[manifest["kind"]]
        for _ in range(40):
            try:
                return await self.client.create(obj)
            except ApiError as exc:
                if exc.status.code != CONFLICT:
                    raise _error(f"creating {manifest['kind']} {manifest['metadata']['name']}", exc) from exc
            except httpx2.HTTPError as exc:
                raise _error(f"creating {manifest['kind']} {manifest['metadata']['name']}", exc) from exc
            await self.delete(kind, manifest["metadata"]["name"], grace=0)
            await asyncio.sleep(0.25)  # deletion is asynchronous: the old one goes once its containers stop
        raise ExecutorError(f"{manifest['kind']} {manifest['metadata']['name']} exists and would not go away")

    async def claim_access(self, name: str) -> tuple[str, ...] | None:
        """The access modes of claim `name` (bound ones from its status), None when it does not exist."""
        claim = await self._get(PersistentVolumeClaim, name)
        if claim is None:
            return None
        modes = (claim.status.accessModes if claim.status is not None else None) or (
            claim.spec.accessModes if claim.spec is not None else None) or []
        return tuple(modes)

    async def get_pod(self, name: str) -> Pod | None:
        return await self._get(Pod, name)

    async def _get(self, kind: type[_Kind], name: str) -> _Kind | None:
        return await _unless_gone(f"reading {kind.__name__.lower()} {name}", self.client.get(kind, name))

    async def watch_pod(self, name: str, resource_version: str | None) -> AsyncIterator[tuple[str, Pod]]:
        """ADDED/MODIFIED/DELETED events of one pod, across API server restarts.

        lightkube re-opens a watch the server closed and, through `_retry_transport`, one that broke
        mid-stream; a refused reconnection it raises, so that is retried here, from the last version seen.
        """
        version, attempt = resource_version, 0
        while True:
            try:
                async for event, pod in self.client.watch(Pod, fields={"metadata.name": name},
                                                          resource_version=version, on_error=_retry_transport):
                    attempt = 0
                    version = pod.metadata.resourceVersion if pod.metadata is not None else version
                    yield event, pod
                return
            except httpx2.TransportError as exc:
                attempt += 1
                if attempt > WATCH_RETRIES:
                    raise _error(f"watching pod {name}", exc) from exc
                log.warning("executor.kubernetes.watch_retry", pod=name, attempt=attempt, error=describe(exc))
                await asyncio.sleep(_backoff(attempt))
            except httpx2.HTTPError as exc:
                raise _error(f"watching pod {name}", exc) from exc

    async def delete(self, kind: _Made, name: str, grace: float | None = None) -> bool:
        """Delete (foreground: dependants first); False when it was already gone."""

        async def deleted() -> bool:
            await self.client.delete(kind, name, grace_period=None if grace is None else int(grace),
                                     cascade=CascadeType.FOREGROUND)
            return True

        return bool(await _unless_gone(f"deleting {kind.__name__.lower()} {name}", deleted()))

    async def delete_labelled(self, labels: Mapping[str, str], grace: float = 0) -> int:
        """Delete every service, pod and Secret carrying `labels`; return how many pods there were."""
        found: dict[_Made, list[str]] = {}
        for kind in _KINDS.values():
            try:
                found[kind] = [obj.metadata.name async for obj in self.client.list(kind, labels=dict(labels))
                               if obj.metadata is not None and obj.metadata.name]
            except httpx2.HTTPError as exc:
                raise _error(f"listing {kind.__name__.lower()}s labelled {_selector(labels)}", exc) from exc
        for kind, names in found.items():
            for name in names:
                await self.delete(kind, name, grace if kind is Pod else None)
        return len(found[Pod])

    async def copy_log(self, name: str, container: str, path: Path, follow: bool, skip_lines: int = 0) -> LogCopy:
        """Append the container's log to `path`, following it until the container ends; never raises."""
        seen = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as sink:
            try:
                async for line in self.client.log(name, container=container, follow=follow):
                    seen += 1
                    if seen > skip_lines:
                        sink.write(line.encode("utf-8", errors="replace"))
                        sink.flush()
            except (httpx2.HTTPError, RuntimeError) as exc:
                # RuntimeError: lightkube 1.0.1 reads a refused follow request (container not started yet)
                # synchronously from an async stream instead of raising ApiError.
                log.warning("executor.kubernetes.log_interrupted", pod=name, error=describe(exc))
                return LogCopy(seen, complete=False)
        return LogCopy(seen, complete=True)

    async def tail_log(self, name: str, container: str, lines: int) -> tuple[str, ...]:
        try:
            text = [line.rstrip("\n") async for line in self.client.log(name, container=container, tail_lines=lines)]
        except httpx2.HTTPError:
            return ()
        return tuple(text[-lines:])

    async def close(self) -> None:
        await self.client.close()


def _retry_transport(exc: Exception, attempt: int) -> OnErrorResult:
    """Reconnect a watch after a lost connection or a 5xx; an API error such as 403 or 404 is final."""
    if attempt > WATCH_RETRIES:
        return OnErrorResult(OnErrorAction.RAISE)
    if isinstance(exc, ApiError) and exc.status.code not in (410, 500, 502, 503, 504):
        return OnErrorResult(OnErrorAction.RAISE)
    if isinstance(exc, ApiError | httpx2.TransportError):
        log.warning("executor.kubernetes.watch_retry", attempt=attempt, error=describe(exc))
        return OnErrorResult(OnErrorAction.RETRY, sleep=_backoff(attempt))
    return OnErrorResult(OnErrorAction.RAISE)


async def _unless_gone(action: str, call: Awaitable[_T]) -> _T | None:
    """`call`'s result; None when the object does not exist (404); any other failure as one ExecutorError."""
    try:
        return await call
    except ApiError as exc:
        if exc.status.code == NOT_FOUND:
            return None
        raise _error(action, exc) from exc
    except httpx2.HTTPError as exc:
        raise _error(action, exc) from exc


def _backoff(attempt: int) -> float:
    return exponential(attempt - 1, 0.25, 5.0)


def _selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items())


def _error(action: str, exc: Exception) -> ExecutorError:
    return ExecutorError(f"Kubernetes API: {action} failed: {describe(exc)}")
