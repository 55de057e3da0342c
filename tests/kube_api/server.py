"""`FakeKubernetes`, the handle tests hold: the API served by uvicorn on 127.0.0.1 from a thread with its own
event loop, plus the knobs and helpers tests use."""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import uvicorn
import yaml
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from tests.kube_api.api import Api
from tests.kube_api.kubelet import Kubelet, PodScript
from tests.kube_api.status import REASONS, ApiFailure
from tests.kube_api.store import Store

T = TypeVar("T")


def _abort_connections(server: uvicorn.Server) -> None:
    for connection in list(server.server_state.connections):
        transport = getattr(connection, "transport", None)
        if transport is not None:
            transport.abort()


class _Server(uvicorn.Server):
    """uvicorn's server, stopped by an event rather than its 0.1 s polling loop and graceful wait: tests stop it
    at once. `ready` is set once it listens (or failed to)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stopping = asyncio.Event()
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        await self.stopping.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop like a killed apiserver: stop listening, drop connections, cancel requests in flight."""
        for server in self.servers:
            server.close()
        _abort_connections(self)
        requests = list(self.server_state.tasks)
        for task in requests:
            task.cancel()
        await asyncio.gather(*requests, return_exceptions=True)
        for server in self.servers:
            await server.wait_closed()


class FakeKubernetes:
    """A fake Kubernetes API server on 127.0.0.1 (see the package docstring). Use as a context manager, or through
    the `fake_kubernetes` fixture.

    Test-settable: `script` (pod dict -> PodScript), `volumes` (claim name -> host folder), `grace_cap` (seconds a
    graceful deletion waits at most), `deadline_scale` (factor on activeDeadlineSeconds).
    Recorded: `requests` ((method, decoded path?query) of every call), `delete_options` (each DeleteOptions read).
    """

    def __init__(self, *, grace_cap: float = 0.2, deadline_scale: float = 1.0, history: int = 1000) -> None:
        self.script: Callable[[dict[str, Any]], PodScript] = lambda pod: PodScript()
        self.volumes: dict[str, Path] = {}
        self.grace_cap = grace_cap
        self.deadline_scale = deadline_scale
        self.requests: list[tuple[str, str]] = []
        self.delete_options: list[dict[str, Any]] = []
        self.port = 0
        self.store = Store(history)
        self.kubelet = Kubelet(self.store, self)
        self._failures: list[tuple[str, str, ApiFailure]] = []  # (method, path substring, answer)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: _Server | None = None
        self._serving: concurrent.futures.Future[None] | None = None
        self._api = Api(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle

    def __enter__(self) -> FakeKubernetes:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Serve (again, on the same port after `stop()`); the first call also starts the loop thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run_loop, name="fake-kubernetes", daemon=True)
            self._thread.start()
        # IPPROTO_TCP spelled out: asyncio only sets TCP_NODELAY on such sockets, and without it every response
        # (headers and body written apart) waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi, interface="asgi3", lifespan="off", http="h11", ws="none", log_config=None, access_log=False,
            proxy_headers=False,
        )  # fmt: skip
        server = self._server = _Server(config)
        self._serving = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), self._loop)
        self._serving.add_done_callback(lambda _: server.ready.set())
        server.ready.wait(10)
        if not server.started:
            if self._serving.done():
                self._serving.result()  # raises what went wrong
            raise RuntimeError("the fake Kubernetes API server did not start")

    def stop(self) -> None:
        """Stop serving, as an API server restart does: open connections drop; objects and pods live on."""
        if self._server is None or self._serving is None:
            return
        server, self._server = self._server, None
        self._loop.call_soon_threadsafe(server.stopping.set)
        self._serving.result(timeout=10)

    def close(self) -> None:
        """Stop serving and end the loop thread (pods stop being played)."""
        self.stop()
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def reset_connections(self) -> None:
        """Drop every open connection (watches and log streams end without their last chunk), keep serving."""
        if self._server is not None:
            server = self._server
            self._call(lambda: _abort_connections(server))

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()

    def _call(self, function: Callable[[], T]) -> T:
        """Run `function` on the fake's loop thread (where the store lives) and return its result."""
        if threading.current_thread() is self._thread or self._thread is None:
            return function()
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(function())
            except BaseException as exc:
                result.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return result.result(timeout=10)

    # -- the ASGI entry: records requests and plays injected failures before the API sees them

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = unquote(scope["query_string"].decode("latin-1"))
            target = scope["path"] + (f"?{query}" if query else "")
            self.requests.append((scope["method"], target))
            failure = self._take_failure(scope["method"], target)
            if failure is not None:
                await JSONResponse(failure.status(), failure.code)(scope, receive, send)
                return
        await self._api.app(scope, receive, send)

    def fail_next(
        self, method: str, path_substring: str, status: int = 500, reason: str | None = None, message: str = ""
    ) -> None:
        """Answer the next `method` request whose path?query contains `path_substring` with this Status error."""
        reason = reason or REASONS.get(status, "Unknown")
        message = message or f"injected {status} {reason} for {method} {path_substring}"
        self._failures.append((method.upper(), path_substring, ApiFailure(status, reason, message, {})))

    def _take_failure(self, method: str, target: str) -> ApiFailure | None:
        for i, (wanted_method, substring, failure) in enumerate(self._failures):
            if wanted_method == method and substring in target:
                del self._failures[i]
                return failure
        return None

    # -- helpers for assertions

    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Copies of the stored pods (in `namespace`, or all)."""
        return self._call(lambda: copy.deepcopy(self.store.items_of("pods", namespace)))

    def services(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self._call(lambda: copy.deepcopy(self.store.items_of("services", namespace)))

    def secrets(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self._call(lambda: copy.deepcopy(self.store.items_of("secrets", namespace)))

    def add_claim(self, name: str, namespace: str, access_modes: tuple[str, ...] = ("ReadWriteMany",)) -> None:
        """A bound PersistentVolumeClaim, as a cluster admin or the Helm chart would have made it."""
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": name, "namespace": namespace},
                 "spec": {"accessModes": list(access_modes), "resources": {"requests": {"storage": "1Gi"}}},
                 "status": {"phase": "Bound", "accessModes": list(access_modes)}}
        self._call(lambda: self.store.create("persistentvolumeclaims", claim))

    def compact(self) -> None:
        """Drop the event history (etcd compaction): a watch resuming from an older resourceVersion gets 410."""
        self._call(self.store.compact)

    def kubeconfig(self, path: Path, namespace: str = "openclara") -> Path:
        """Write a kubeconfig for this server (plain http, a bearer token user) to `path`; returns `path`."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path
