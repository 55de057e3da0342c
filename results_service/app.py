"""Composition root: settings -> database, queue, sweeper, cleanup -> FastAPI app -> uvicorn server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

import structlog
import uvicorn
from fastapi import FastAPI

from openclara import swagger_ui
from openclara.auth.audit import AuditLog
from openclara.auth.rest import TokenGate, auth_responses
from openclara.http_guards import AllowedHosts, BodyLimit, HostAllowList, openapi_responses
from openclara.http_listener import HttpListener
from openclara.https import https_certificate
from results_service.api import problems, routes_health, routes_tasks
from results_service.api.access import required_role
from results_service.api.hot_routes import HotRoutes
from results_service.cleanup import PayloadCleaner, PayloadDeleter
from results_service.db import CHECKPOINT_INTERVAL_SECONDS, ResultsDatabase
from results_service.http_protocol import protocol_class
from results_service.metrics import Metrics
from results_service.payload_deleter import PlatformPayloadDeleter
from results_service.periodic import PeriodicTask
from results_service.queue import TaskQueue
from results_service.repository import TaskRepository
from results_service.settings import ResultsSettings

log = structlog.get_logger()


def create_app(
    settings: ResultsSettings,
    deleter: PayloadDeleter | None = None,
    clock: Callable[[], float] = time.time,
    fast_path: bool = True,
) -> FastAPI:
    """The ASGI app; its lifespan opens the database and runs the lease sweeper and the payload cleanup.

    `fast_path=False` leaves out `HotRoutes`, so tests can check that both paths answer alike.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = ResultsDatabase(settings.database.path, settings.database.synchronous)
        await db.open()
        repo = TaskRepository(db)
        metrics = Metrics()
        queue = TaskQueue(repo, settings.lease, settings.retry, metrics, clock)
        app.state.queue, app.state.metrics = queue, metrics
        loops = [
            PeriodicTask("lease-sweeper", settings.lease.sweep_interval_seconds, queue.expire),
            PeriodicTask("wal-checkpoint", CHECKPOINT_INTERVAL_SECONDS, db.checkpoint),
        ]
        own_deleter = None
        if settings.cleanup.enabled:
            target = deleter
            if target is None:
                target = own_deleter = PlatformPayloadDeleter(settings.platform_endpoint, tls=settings.platform_tls)
            cleaner = PayloadCleaner(repo, target, settings.cleanup, metrics, clock)
            loops.append(PeriodicTask("payload-cleanup", settings.cleanup.interval_seconds, cleaner.run_once))
        for loop in loops:
            await loop.start()
        try:
            yield
        finally:
            for loop in loops:
                await loop.stop()
            if own_deleter is not None:
                await own_deleter.close()
            await db.close()

    app = FastAPI(
        title="openclara results service",
        version="0.1.0",
        description="Clara-compatible task queue: pipelines register results for agents, agents lease and report.",
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hook re-checks the providers on every request (~20 us); we export none.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        responses={**openapi_responses(), **auth_responses()},
        docs_url=None,  # swagger_ui.install: Swagger UI from the package, not a CDN
        redoc_url=None,
    )
    swagger_ui.install(app)
    problems.install(app)
    app.include_router(routes_tasks.router)
    app.include_router(routes_health.router)
    # The last added runs first: Host check, the caller's token, then the body limit, then the hot routes
    # (which therefore see only callers with a role and bodies that are already bounded), then FastAPI.
    if fast_path:
        app.add_middleware(HotRoutes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TokenGate, table=settings.auth.table(), rule=required_role,
                       audit=AuditLog(settings.auth.audit_path, "results"))
    app.add_middleware(HostAllowList, allowed=AllowedHosts(settings.host, settings.allowed_hosts))
    return app


class ResultsService:
    """The whole service as one start()/stop() component: uvicorn serving `create_app(settings)`."""

    def __init__(self, settings: ResultsSettings, deleter: PayloadDeleter | None = None) -> None:
        self.settings = settings
        # Unusable certificate files raise here (OSError, ssl.SSLError), before anything listens.
        self._certificate = https_certificate(settings.tls, "results.api")
        config = uvicorn.Config(
            create_app(settings, deleter),
            host=settings.host,
            port=settings.port,
            log_config=None,
            # An access line per request would cost more than the request itself; events log what matters.
            access_log=False,
            http=protocol_class(settings.http_parser),
            # Nothing here reads the client address; X-Forwarded-* parsing would cost every request.
            proxy_headers=False,
            lifespan="on",
            timeout_graceful_shutdown=int(settings.drain_timeout_seconds),
            ssl_context_factory=self._certificate.context_factory if self._certificate else None,
        )
        self._listener = HttpListener(config, "uvicorn", self._certificate)

    async def start(self) -> None:
        # Open the database once before uvicorn: a failure inside its lifespan would surface as two
        # tracebacks; here it is one StoreUnavailable the CLI turns into one line.
        probe = ResultsDatabase(self.settings.database.path, self.settings.database.synchronous)
        await probe.open()
        await probe.close()
        await self._listener.start()
        tls = self.settings.tls
        log.info("service.listening", url=self.url,
                 tls="off" if not tls.enabled else "mutual" if tls.client_ca_file is not None else "on")

    @property
    def url(self) -> str:
        return self._listener.url()

    async def stop(self) -> None:
        # uvicorn stops accepting, lets in-flight requests finish (drain timeout), then runs lifespan shutdown.
        await self._listener.stop()
