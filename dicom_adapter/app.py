"""`Adapter`: the composition root. Settings -> SQLite -> registry -> spool/SCP -> assembler -> submitter
-> export agent -> REST API, each with async start()/stop().

Only wiring lives here: each object is built complete, in dependency order, and handed what it uses.
Start order recovers before listening: the spool is reconciled with the database
(`storage/reconciliation.py`), then the SCP accepts associations.
Stop order drains: the SCP stops accepting and finishes open associations, every acknowledged instance
is recorded, then the workers stop (their progress is in SQLite) and the API goes last.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from dicom_adapter.api import ApiDependencies, create_app
from dicom_adapter.api.server import ApiServer
from dicom_adapter.config.registry import AeRegistry
from dicom_adapter.config.seed import apply_seed, parse_seed
from dicom_adapter.db import AdapterDatabase, AssociationRepository, ConfigRepository, PayloadRepository
from dicom_adapter.db.history import AssociationHistory
from dicom_adapter.errors import ListenError
from dicom_adapter.export.agent import ExportAgent
from dicom_adapter.export.download import PlatformPayloads
from dicom_adapter.export.poller import ResultsClient
from dicom_adapter.export.progress import ProgressRepository
from dicom_adapter.export.transport import TlsTargets
from dicom_adapter.export.verification import echo
from dicom_adapter.metrics import AdapterMetrics
from dicom_adapter.models import DestinationAeTitle
from dicom_adapter.payloads.assembler import PayloadAssembler
from dicom_adapter.payloads.intake import Intake
from dicom_adapter.payloads.jobs import JobPlatform
from dicom_adapter.payloads.platform_gateway import PlatformGateway, platform_client
from dicom_adapter.payloads.submitter import PayloadSubmitter
from dicom_adapter.scp.server import StoreScp
from dicom_adapter.settings import AdapterSettings
from dicom_adapter.storage.reconciliation import Reconciliation
from dicom_adapter.storage.spool import Spool

log = structlog.get_logger()

HAND_OFF_MARGIN_SECONDS = 0.25  # a group closing this soon keeps the spare pool's top-up waiting


class Adapter:
    """The whole DICOM adapter in one process."""

    def __init__(self, settings: AdapterSettings, platform: JobPlatform | None = None) -> None:
        self.settings = settings
        self.metrics = AdapterMetrics()
        self.database = AdapterDatabase(settings.database.resolved_path())
        self.config = ConfigRepository(self.database)
        self.payloads = PayloadRepository(self.database)
        self.associations = AssociationRepository(self.database)
        self.registry = AeRegistry(self.config, reject_unknown_sources=settings.scp.reject_unknown_sources)
        self.gateway = PlatformGateway(
            settings.platform.endpoint, settings.platform.call_timeout_seconds, settings.platform.tls,
            link=settings.platform.local_files,
        )
        self.spool = Spool.from_settings(settings.storage)
        self.metrics.watch_spares(lambda: len(self.spool.spares), lambda: self.spool.spares.made_on_demand)
        self.submitter = PayloadSubmitter(
            self.payloads,
            platform or self.gateway,
            self.spool,
            settings.platform,
            registry=self.registry,
            metrics=self.metrics,
        )
        self.assembler = PayloadAssembler(
            self.payloads,
            self.registry,
            self.spool,
            self.submitter.submit,
            minimum_timeout=settings.grouping.minimum_timeout_seconds,
            # Made next: a study must not close while one of its instances is still arriving.
            in_progress=lambda: self.scp.instances_in_progress(),
        )
        # Spare files are made when idle, which is when a study's grouping timeout ends: not then.
        self.spool.spares.busy = lambda: self.submitter.working or self.assembler.due_within(HAND_OFF_MARGIN_SECONDS)
        self.history = AssociationHistory(self.associations)
        intake = Intake(self.assembler, self.history, self.metrics)
        self.scp = StoreScp(settings.scp, settings.storage, self.spool, self.registry, intake)
        self.metrics.watch_disk(self.scp.disk.usage)
        self.reconciliation = Reconciliation(
            self.spool, self.payloads, self.assembler, self.submitter.submit, self.registry.group_tag
        )
        self.export: ExportAgent | None = None
        app = create_app(self._api_dependencies(), settings.api, settings.auth)
        self.api = ApiServer(app, settings.api.host, settings.api.port, settings.api.tls)
        self._services: dict[str, str] = {}
        self._ready = False

    def _api_dependencies(self) -> ApiDependencies:
        export = self.settings.export
        echo_tls = TlsTargets(export.tls)  # the C-ECHO reaches a destination the way the export SCU does

        async def echo_destination(destination: DestinationAeTitle) -> Any:
            return await echo(destination, export.ae_title, export.connect_timeout_seconds, tls=echo_tls)

        return ApiDependencies(
            config=self.config,
            registry=self.registry,
            payloads=self.payloads,
            associations=self.associations,
            metrics=self.metrics,
            status=self.status,
            ready=lambda: self._ready,
            echo=echo_destination,
            pipelines=self.gateway,
            minimum_timeout=self.settings.grouping.minimum_timeout_seconds,
            retry_payload=self.submitter.retry,
            redrive_faulted=self.submitter.redrive_faulted,
        )

    def status(self) -> dict[str, Any]:
        return {
            "activeDimseConnections": self.scp.active_associations,
            "services": dict(self._services),
            "openPayloads": self.assembler.open_payloads,
            "pendingSubmissions": self.submitter.pending,
            "spareFiles": len(self.spool.spares),
        }

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            # Undo what started (aiosqlite's thread would otherwise keep the process alive).
            await self.stop()
            raise

    async def _start(self) -> None:
        seed = parse_seed(self.settings)
        await self.database.start()
        await apply_seed(seed, self.config)
        await self.registry.start()
        await self.gateway.start()
        await self.history.start()
        await self.reconciliation.run()
        await self.assembler.start()
        await self.submitter.start()
        self._services.update({"Assembler": "Running", "JobSubmission": "Running"})
        scp, api = self.settings.scp, self.settings.api
        try:
            await self.scp.start()
        except OSError as exc:
            raise ListenError("DICOM port", scp.host, scp.port, "scp.port / CLARA_DICOM_SCP__PORT", exc) from exc
        self._services["ScpService"] = "Running"
        await self._start_export()
        try:
            await self.api.start()
        except OSError as exc:
            raise ListenError("REST API port", api.host, api.port, "api.port / CLARA_DICOM_API__PORT", exc) from exc
        self._services["Api"] = "Running"
        self._ready = True
        log.info(
            "adapter.started",
            dicom_port=None if self.settings.scp.tls.required else self.scp.bound_port,
            dicom_tls_port=self.scp.bound_tls_port if self.settings.scp.tls.port is not None else None,
            api_port=self.api.bound_port,
            platform=self.settings.platform.endpoint,
        )

    async def stop(self) -> None:
        self._ready = False
        await self._stop("ScpService", self.scp.stop())
        await self._stop("Assembler", self.assembler.stop())
        await self.history.stop()
        if self.export is not None:
            await self._stop("ExportService", self.export.stop())
        await self._stop("JobSubmission", self.submitter.stop())
        await self.registry.stop()
        await self.gateway.stop()
        await self._stop("Api", self.api.stop())
        await self.database.stop()

    async def _stop(self, name: str, stopping: Any) -> None:
        try:
            await asyncio.wait_for(stopping, self.settings.shutdown_timeout_seconds)
        except Exception:
            log.exception("adapter.stop_failed", service=name)
        self._services[name] = "Stopped"

    async def _start_export(self) -> None:
        if not self.settings.export.enabled:
            return
        export, platform, results = self.settings.export, self.settings.platform, self.settings.results
        self.export = ExportAgent(
            export,
            self.registry,
            progress=ProgressRepository.from_settings(export),
            payloads=PlatformPayloads(platform_client(platform.endpoint, platform.tls), platform.link_from),
            results=ResultsClient(results.endpoint, export.ae_title, export.http_timeout_seconds, tls=results.tls),
        )
        await self.export.start()
        self._services["ExportService"] = "Running"
