"""`StoreScp`: one listening socket, an `Association` task per connection, limits, start and stop."""

from __future__ import annotations

import asyncio
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from dicom_adapter.scp.association import Association
from dicom_adapter.scp.connections import EVICTED, STOPPING, Connections
from dicom_adapter.scp.runtime import ScpRuntime
from dicom_adapter.storage.disk import DiskGuard
from openclara.tls import CertificateReloader, server_context

if TYPE_CHECKING:
    from dicom_adapter.scp.config import ScpSettings
    from dicom_adapter.scp.ports import AeTitleLookup, InstanceSink
    from dicom_adapter.storage.settings import StorageSettings
    from dicom_adapter.storage.spool import Spool

log = structlog.get_logger()

# StreamReader buffer limit: reading pauses when 2x this is buffered, which bounds the memory of a
# connection whatever the PDU size; large enough that each read hands over hundreds of KB at once.
# 512 KB, not 1 MB: 1 MB reads (and a 2 MB buffer) left the heap 12 MB larger after a 2 GB study (glibc
# serves them from the heap once its mmap threshold has risen), peak RSS 102-103 MB against 98-99;
# the same throughput in an interleaved A/B, 256 KB was 10 % slower on one association.
_READ_LIMIT = 1 << 19
SPOOL_WRITERS = 2


class StoreScp:
    """The adapter's DICOM front door: C-ECHO and C-STORE for every configured Clara AE title."""

    def __init__(
        self,
        settings: ScpSettings,
        storage: StorageSettings,
        spool: Spool,
        registry: AeTitleLookup,
        sink: InstanceSink,
    ) -> None:
        self._settings = settings
        self.spool = spool  # built by the caller: the assembler and the submitter share it
        self.disk = DiskGuard(self.spool.root, storage.watermark_percent, storage.reserve_space_gb)
        self.connections = Connections(settings.max_pending_connections)
        self._writer: ThreadPoolExecutor | None = None  # made by start, shut down by stop
        self._runtime = ScpRuntime(settings, registry, sink, self.spool, self.disk, self.connections)
        self._server: asyncio.Server | None = None  # plain TCP (None with scp.tls.required)
        self._tls_server: asyncio.Server | None = None
        self._reloader: CertificateReloader | None = None
        self._tasks: set[asyncio.Task[object]] = set()  # every connection, pending ones included (for stop)

    @property
    def bound_port(self) -> int:
        """The plain port actually listened on (settings.port may be 0)."""
        return _port(self._server)

    @property
    def bound_tls_port(self) -> int:
        """The DICOM TLS port actually listened on (scp.tls.port may be 0)."""
        return _port(self._tls_server)

    def instances_in_progress(self) -> list[tuple[str, float]]:
        """(called AE title, monotonic start) of each instance whose data set is arriving now."""
        return self.connections.receiving()

    @property
    def active_associations(self) -> int:
        """Connections that sent an A-ASSOCIATE-RQ and were not rejected (what `maximum_associations` limits)."""
        return self.connections.associations

    @property
    def pending_connections(self) -> int:
        """Connections with no association: A-ASSOCIATE-RQ not received yet, or rejected and lingering."""
        return self.connections.pending

    async def start(self) -> None:
        """Prepare the spool (recovering what a crash left in `.incoming/`) and its spare files, then listen.

        The first start of a new spool makes `spare_files` empty files (~0.3-1 s for 2,048 here);
        later starts find them in place."""
        await asyncio.to_thread(self.spool.prepare)
        await asyncio.to_thread(self.spool.spares.fill)
        # Threads start at the first full batch and stay; two: the cores this is measured on (see receiver.py).
        self._writer = ThreadPoolExecutor(max_workers=SPOOL_WRITERS, thread_name_prefix="spool-writer")
        self._runtime = replace(self._runtime, writer=self._writer)
        tls = self._settings.tls
        if not tls.required:
            self._server = await self._listen(self._settings.port, None)
        if tls.port is not None:
            context = server_context(tls)
            self._reloader = CertificateReloader(context, tls, "scp")
            self._reloader.start()
            self._tls_server = await self._listen(tls.port, context)
        log.info(
            "scp.started",
            host=self._settings.host,
            port=self.bound_port if self._server is not None else None,
            tls_port=self.bound_tls_port if self._tls_server is not None else None,
            client_certificates=tls.client_ca_file is not None,
            spool=str(self.spool.root),
            max_pdu_length=self._settings.max_pdu_length,
        )

    async def _listen(self, port: int, context: ssl.SSLContext | None) -> asyncio.Server:
        """Both listeners share one connection handler: TLS is below the upper layer, not a second one."""
        return await asyncio.start_server(
            self._on_connection,
            self._settings.host,
            port,
            limit=_READ_LIMIT,
            backlog=max(128, (self._settings.maximum_associations + self._settings.max_pending_connections) * 2),
            ssl=context,
            ssl_handshake_timeout=self._settings.association_request_timeout if context is not None else None,
        )

    async def stop(self) -> None:
        """Stop accepting, let open associations finish for stop_timeout, then abort the rest."""
        servers = [server for server in (self._server, self._tls_server) if server is not None]
        if not servers:
            return
        for server in servers:
            server.close()
        if self._reloader is not None:
            await self._reloader.stop()
        for connection in self.connections.take_pending():
            connection.evict(STOPPING)  # no association to finish: closed at once, not after stop_timeout
        pending = set(self._tasks)
        if pending:
            log.info("scp.stopping", associations=len(pending), timeout=self._settings.stop_timeout)
            _, pending = await asyncio.wait(pending, timeout=self._settings.stop_timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self._server = self._tls_server = None
        if self._writer is not None:
            self._writer.shutdown(wait=False)  # every association ended: nothing is in flight
            self._writer = None
        await self.spool.spares.aclose()
        log.info("scp.stopped", aborted=len(pending))

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        association = Association(self._runtime, reader, writer)
        try:
            evicted = self.connections.opened(association)
            if evicted is not None:
                evicted.evict(EVICTED)  # the oldest pending connection: see connections.py for why
            sock = writer.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                # Responses are one small PDU: with Nagle on, each would wait for a delayed ACK.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await association.run()
        except asyncio.CancelledError:
            pass  # stop() aborted it; the association reported itself already
        except Exception:
            log.exception("scp.connection.failed")
        finally:
            self.connections.closed(association)
            self._tasks.discard(task)


def _port(server: asyncio.Server | None) -> int:
    if server is None or not server.sockets:
        raise RuntimeError("StoreScp is not started (or that listener is not configured)")
    return int(server.sockets[0].getsockname()[1])
