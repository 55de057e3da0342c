"""ConsoleService: uvicorn serving `create_app(settings)`, as one start()/stop() component."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import structlog
import uvicorn

from console.app import create_app
from console.settings import ConsoleSettings

log = structlog.get_logger()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: `serve_until_signalled` owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ConsoleService:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                                access_log=False, proxy_headers=False, lifespan="on", timeout_graceful_shutdown=5)
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self.port = settings.port

    def _bind(self) -> socket.socket:
        """Bind here, not in uvicorn, so a busy port is an OSError the CLI can explain (uvicorn would exit)."""
        family, kind, proto, _, address = socket.getaddrinfo(self.settings.host, self.settings.port,
                                                             type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])
        sock.set_inheritable(True)
        return sock

    async def start(self) -> None:
        sock = self._bind()
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="uvicorn")
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError(f"the console could not start on {self.settings.host}:{self.port}")
            await asyncio.sleep(0.02)
        log.info("service.listening", url=self.url)

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
