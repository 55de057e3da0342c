"""ConsoleService: `create_app(settings)` on an `HttpListener`, as one start()/stop() component."""

from __future__ import annotations

import structlog
import uvicorn

from console.app import create_app
from console.settings import ConsoleSettings
from openclara.http_listener import HttpListener

log = structlog.get_logger()


class ConsoleService:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                                access_log=False, proxy_headers=False, lifespan="on", timeout_graceful_shutdown=5)
        self._listener = HttpListener(config, "console")

    @property
    def port(self) -> int:
        return self._listener.port

    async def start(self) -> None:
        await self._listener.start()
        log.info("service.listening", url=self.url)

    @property
    def url(self) -> str:
        return self._listener.url()

    async def stop(self) -> None:
        await self._listener.stop()
