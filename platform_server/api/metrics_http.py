"""MetricsListener: the platform's `GET /metrics` for Prometheus, on a small HTTP port beside the gRPC one.

Prometheus scrapes HTTP/1.1 and the Platform API is gRPC (HTTP/2) only, so the figures get their own
listener: uvicorn in the platform's event loop, serving one route behind the same guards as the REST
services (`HostAllowList`, then `TokenGate`: a `read-only` token, `Authorization: Bearer <token>`). With
`server.tls` set it serves HTTPS with the platform's own certificate. `bind` takes the port before anything
else starts, so a busy port stops the platform with a clear OSError as a busy gRPC port does; `start` serves
it once the API answers, so a client that reaches /metrics finds the API up too (the launcher's probe).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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
from openclara.http_listener import HttpListener
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


class MetricsListener:
    def __init__(self, app: Starlette, host: str, port: int, tls: ServerTlsSettings) -> None:
        self._host, self._port = host, port
        certificate = https_certificate(tls, "platform.metrics")  # unusable files raise here
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
                                proxy_headers=False, timeout_graceful_shutdown=STOP_GRACE,
                                ssl_context_factory=certificate.context_factory if certificate else None)
        self._listener = HttpListener(config, "platform.metrics", certificate)

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def url(self) -> str:
        return self._listener.url(PATH)

    def bind(self) -> None:
        """Take the port (not yet listening: connections are refused until `start`)."""
        try:
            self._listener.bind()
        except OSError as exc:
            raise OSError(f"metrics: cannot listen on {self._host}:{self._port}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Give the port back without ever serving (the platform did not start)."""
        self._listener.close()

    async def start(self) -> None:
        self.bind()
        await self._listener.start()
        log.info("platform.metrics.listening", url=self.url)

    async def stop(self) -> None:
        await self._listener.stop()
