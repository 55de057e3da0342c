"""MetricsListener: the platform's `GET /metrics` for Prometheus, on a small HTTP port beside the gRPC one.

Prometheus scrapes HTTP/1.1 and the Platform API is gRPC (HTTP/2) only, so the figures get their own
listener: uvicorn in the platform's event loop, serving one route behind the same guards as the REST
services (`HostAllowList`, then `TokenGate`: a `read-only` token, `Authorization: Bearer <token>`). With
`server.tls` set it serves HTTPS with the platform's own certificate. `bind` takes the port before anything
else starts, so a busy port stops the platform with a clear OSError as a busy gRPC port does; `start` serves
it once the API answers, so a client that reaches /metrics finds the API up too (the launcher's probe).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openclara.auth.audit import AuditLog
from openclara.auth.rest import TokenGate
from openclara.auth.roles import Role
from openclara.auth.tokens import TokenTable
from openclara.http_guards import AllowedHosts, HostAllowList
from openclara.https import https_certificate
from openclara.metrics import CONTENT_TYPE, PATH
from openclara.tls import ServerTlsSettings

log = structlog.get_logger()
STOP_GRACE = 2


def required_role(method: str, path: str) -> Role | None:
    """Every path needs a caller with a role: the figures name pipelines' operators and the node's disks."""
    return Role.READ_ONLY


def metrics_app(render: Callable[[], Awaitable[bytes]], table: TokenTable, audit: AuditLog,
                allowed: AllowedHosts) -> Starlette:
    async def metrics(request: Request) -> Response:
        return Response(await render(), media_type=CONTENT_TYPE)

    app = Starlette(routes=[Route(PATH, metrics, methods=["GET"])])
    # The last added runs first: the Host check, then the caller's token.
    app.add_middleware(TokenGate, table=table, rule=required_role, audit=audit)
    app.add_middleware(HostAllowList, allowed=allowed)
    return app


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the platform's `serve_until_signalled` owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MetricsListener:
    def __init__(self, app: Starlette, host: str, port: int, tls: ServerTlsSettings) -> None:
        self._host, self._port = host, port
        self._certificate = https_certificate(tls, "platform.metrics")  # unusable files raise here
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
                                proxy_headers=False, timeout_graceful_shutdown=STOP_GRACE,
                                ssl_context_factory=self._certificate.context_factory if self._certificate else None)
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self._certificate is not None else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self.port}{PATH}"

    def bind(self) -> None:
        """Take the port (not yet listening: connections are refused until `start`)."""
        family, kind, proto, _, address = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            raise OSError(f"metrics: cannot listen on {self._host}:{self._port}: {exc.strerror or exc}") from exc
        self.port = sock.getsockname()[1]
        self._socket = sock

    def close(self) -> None:
        """Give the port back without ever serving (the platform did not start)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def start(self) -> None:
        if self._socket is None:
            self.bind()
        assert self._socket is not None
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="platform.metrics")
        while not self._server.started:
            if self._task.done():
                await self._task
                raise OSError(f"metrics: could not serve on {self._host}:{self._port}")
            await asyncio.sleep(0.01)
        if self._certificate is not None:
            self._certificate.start()
        log.info("platform.metrics.listening", url=self.url)

    async def stop(self) -> None:
        if self._task is None:
            self.close()
            return
        self._server.should_exit = True
        await self._task
        self._task = None
        self._socket = None
        if self._certificate is not None:
            await self._certificate.stop()
