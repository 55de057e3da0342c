"""Composition root: settings -> database, stores, executor, scheduler, runner -> grpc.aio server.

`start()` opens the database, recovers jobs interrupted by a crash, starts the scheduler and binds
the gRPC port and the HTTP port of `/metrics` (`api/metrics_http.py`). `stop()` (SIGTERM, Ctrl-C or
Clara.Stop) stops accepting RPCs, lets running operators finish within `shutdown.drain_timeout`, then
cancels them; such jobs stay RUNNING in the database and are handled by the restart recovery (FAULTED
with a message, or queued again).
"""

from __future__ import annotations

import os
import signal
import ssl
from collections.abc import Callable
from pathlib import Path

import grpc
import structlog

from openclara.auth.audit import AuditLog
from openclara.auth.credentials import OPERATORS, credential
from openclara.auth.grpc_server import AuthInterceptor
from openclara.auth.roles import Role
from openclara.auth.tokens import TokenTable
from openclara.grpc_tls import server_credentials
from openclara.http_guards import AllowedHosts
from platform_api._generated.nvidia.clara.platform import (
    clara_pb2_grpc,
    jobs_pb2_grpc,
    models_pb2_grpc,
    payloads_pb2_grpc,
    pipelines_pb2_grpc,
)
from platform_api._generated.nvidia.clara.platform.node_monitor import metrics_pb2_grpc
from platform_api._generated.openclara.platform import local_files_pb2_grpc
from platform_server.api.access import audited_methods, method_roles
from platform_server.api.clara import ClaraServicer
from platform_server.api.jobs import JobsServicer
from platform_server.api.local_files import LocalFilesServicer
from platform_server.api.metrics_http import MetricsListener, metrics_app
from platform_server.api.models import ModelsServicer
from platform_server.api.monitor import MonitorServicer
from platform_server.api.payloads import PayloadsServicer
from platform_server.api.pipelines import PipelinesServicer
from platform_server.api.readings import Readings
from platform_server.db import PlatformDatabase
from platform_server.executors.base import Executor
from platform_server.executors.factory import make_executor
from platform_server.jobs.gpus import GpuPool
from platform_server.jobs.runner import JobRunner, RunnerConfig
from platform_server.jobs.scheduler import Scheduler
from platform_server.jobs.service import JobService
from platform_server.jobs.store import JobRepository
from platform_server.metrics import PlatformMetrics
from platform_server.models.repository import ModelRepository
from platform_server.node_metrics import NodeReader
from platform_server.payloads.local_files import LocalFiles
from platform_server.payloads.store import PayloadStore
from platform_server.pipelines.service import PipelineService
from platform_server.pipelines.store import PipelineRepository
from platform_server.settings import PlatformSettings

log = structlog.get_logger()
GRPC_STOP_GRACE = 5.0


def _signal_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


class PlatformServer:
    """The whole platform in one process; `port` is the bound port once started (useful with port 0)."""

    def __init__(self, settings: PlatformSettings, executor: Executor | None = None,
                 request_stop: Callable[[], None] = _signal_self) -> None:
        self.settings = settings
        data = settings.data_dir
        self.db = PlatformDatabase(data / "platform.db")
        self.payloads = PayloadStore(self.db, settings.payloads_dir)
        self.models = ModelRepository(self.db, settings.models_dir)
        self.jobs = JobRepository(self.db)
        self.pipelines = PipelineRepository(self.db)
        self._executor = executor or make_executor(settings)
        self._request_stop = request_stop
        self._server: grpc.aio.Server | None = None
        self._scheduler: Scheduler | None = None
        self._runner: JobRunner | None = None
        self._metrics_listener: MetricsListener | None = None
        self.metrics = PlatformMetrics(settings.scheduler.max_concurrent_jobs)
        self.port = 0
        self.metrics_port = 0

    async def start(self) -> None:
        s = self.settings
        # Nothing runs yet: what carries this platform's label is a crash's leftover, removed here.
        described = await self._executor.start()
        log.info("platform.executor", kind=s.executor.kind, runs=described)
        await self.db.start()
        await self.payloads.start()
        await self.models.start()
        options = [("grpc.max_receive_message_length", s.server.max_message_mb * 1024 * 1024),
                   ("grpc.max_send_message_length", s.server.max_message_mb * 1024 * 1024),
                   # gRPC sets SO_REUSEPORT by default: a second platform on the same port would silently
                   # share the traffic with the first. Refuse to start instead.
                   ("grpc.so_reuseport", 0)]
        # One table and one audit log for both doors (gRPC and /metrics): one credentials read, one key cache.
        table, audit = s.auth.table(), AuditLog(s.auth.audit_path, "platform")
        self._server = grpc.aio.server(options=options, interceptors=[self._authenticator(table, audit)])
        try:
            self.port = self._listen(self._server)
        except OSError:
            await self.db.stop()
            raise
        if self.port == 0:
            await self.db.stop()
            raise OSError(f"cannot listen on {s.endpoint}: the port is in use or the address is not available")
        self._runner = JobRunner(self.jobs, self.payloads, self.models, self._executor, GpuPool(s.gpu_count()),
                                 self._runner_config(), self.metrics)
        self._scheduler = Scheduler(s.scheduler.max_concurrent_jobs, self._runner.run)
        readings = Readings(self.metrics, self.jobs, self._scheduler, NodeReader(self._volumes()))
        try:
            self._bind_metrics(readings, table, audit)
        except OSError:
            await self.db.stop()
            raise
        service = JobService(self.jobs, self.pipelines, self.payloads, self._scheduler, self._runner,
                             s.jobs.requeue_running_on_restart)
        await service.recover()
        self._add_servicers(self._server, service, readings, table.enabled)
        await self._scheduler.start()
        await self._server.start()
        if self._metrics_listener is not None:
            await self._metrics_listener.start()
        log.info("platform.ready", endpoint=f"{s.server.host}:{self.port}", data_dir=str(s.data_dir),
                 max_concurrent_jobs=s.scheduler.max_concurrent_jobs, tls=self._tls_mode())

    def _volumes(self) -> dict[str, Path]:
        s = self.settings
        return {"data": s.data_dir, "payloads": s.payloads_dir, "models": s.models_dir}

    def _bind_metrics(self, readings: Readings, table: TokenTable, audit: AuditLog) -> None:
        s = self.settings
        if not s.metrics.enabled:
            return
        app = metrics_app(readings.render, table, audit, AllowedHosts(s.metrics_host, s.metrics.allowed_hosts))
        listener = MetricsListener(app, s.metrics_host, s.metrics_port, s.server.tls)
        listener.bind()
        self._metrics_listener = listener
        self.metrics_port = listener.port

    def _listen(self, server: grpc.aio.Server) -> int:
        """Bind the one port: TLS when configured (then no plain port at all), else plain; 0 = not bound."""
        s = self.settings
        tls = s.server.tls
        try:
            credentials = server_credentials(tls, "platform") if tls.enabled else None
        except (OSError, ssl.SSLError) as exc:  # before anything listens: the message names the files
            raise OSError(f"server.tls: cannot use {tls.cert_file} with {tls.key_file}: {exc}") from exc
        try:
            if credentials is not None:
                return int(server.add_secure_port(s.endpoint, credentials))
            return int(server.add_insecure_port(s.endpoint))
        except RuntimeError:
            return 0

    def _tls_mode(self) -> str:
        tls = self.settings.server.tls
        return "off" if not tls.enabled else "mutual" if tls.client_ca_file is not None else "on"

    def _authenticator(self, table: TokenTable, audit: AuditLog) -> AuthInterceptor:
        """Every call needs a token (the stack's credentials file is made at the first start) or a trusted address."""
        return AuthInterceptor(table, method_roles(), Role.ADMIN, audit, audited_methods())

    def _runner_config(self) -> RunnerConfig:
        s = self.settings
        host = "127.0.0.1" if s.server.host in ("0.0.0.0", "::", "") else s.server.host
        return RunnerConfig(
            work_root=s.data_dir / "work", log_root=s.data_dir / "logs", platform_host=host,
            platform_port=self.port, results_url=s.results_service.url, results_ca_file=s.results_service.ca_file,
            default_timeout=s.executor.default_timeout,
            service_ready_timeout=s.executor.service_ready_timeout, operator_token=credential(OPERATORS),
        )

    def _add_servicers(self, server: grpc.aio.Server, jobs: JobService, readings: Readings,
                       authenticated: bool) -> None:
        clara_pb2_grpc.add_ClaraServicer_to_server(ClaraServicer(self._request_stop, readings.gpus), server)
        jobs_pb2_grpc.add_JobsServicer_to_server(JobsServicer(jobs), server)
        payloads_pb2_grpc.add_PayloadsServicer_to_server(PayloadsServicer(self.payloads, self.metrics), server)
        pipelines_pb2_grpc.add_PipelinesServicer_to_server(PipelinesServicer(PipelineService(self.pipelines)), server)
        models_pb2_grpc.add_ModelsServicer_to_server(ModelsServicer(self.models), server)
        metrics_pb2_grpc.add_MonitorServicer_to_server(MonitorServicer(readings), server)
        local = self.settings.local_files
        if local.enabled:  # else UNIMPLEMENTED: callers upload and download as they would from Clara
            files = LocalFiles(self.payloads, local.sources)
            local_files_pb2_grpc.add_LocalFilesServicer_to_server(
                LocalFilesServicer(files, local.callers, self.metrics, authenticated), server)

    async def stop(self) -> None:
        if self._metrics_listener is not None:
            await self._metrics_listener.stop()
        if self._server is not None:
            await self._server.stop(GRPC_STOP_GRACE)
        if self._scheduler is not None and self._runner is not None:
            self._runner.shutting_down = True
            await self._scheduler.stop(self.settings.shutdown.drain_timeout)
        await self._executor.close()
        await self.db.stop()
