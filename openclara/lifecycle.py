"""Run a long-lived component until SIGTERM or SIGINT, then drain it and stop.

Every service of the stack holds patient data in files it creates (spool, payloads, operator outputs and
logs, databases): each process creates them readable by its own user only, whatever umask it inherited.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from typing import Protocol

import structlog

log = structlog.get_logger()


class Service(Protocol):
    """Anything with async start/stop; `stop` drains in-flight work within its own timeout."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


PRIVATE_UMASK = 0o077  # files 0600, folders 0700


async def serve_until_signalled(service: Service, name: str) -> None:
    """Start `service` (files it creates private to its user), wait for SIGTERM/SIGINT, then stop it."""
    os.umask(PRIVATE_UMASK)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    # What start made (modules, settings, apps, channels: ~100,000 objects in the adapter) lives as long as
    # the process: frozen, no full collection walks it again. One such collection (30 ms) landed in the
    # hand-off of a study, between its last instance and its job starting, and delayed it by as much.
    gc.collect()  # what start left for the collector is freed now, not frozen for ever
    gc.freeze()
    log.info("service.started", service=name)
    try:
        await stop.wait()
        log.info("service.stopping", service=name)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await service.stop()
        log.info("service.stopped", service=name)
