"""`ApiServer`: uvicorn embedded in the adapter's event loop, with start()/stop(), the bound port and HTTPS."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

from openclara.http_guards import bounded_headers
from openclara.https import https_certificate
from openclara.tls import ServerTlsSettings


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The adapter owns SIGTERM/SIGINT (openclara.lifecycle); uvicorn must not replace the handlers.
        yield


class ApiServer:
    """Serves `app` on host:port (0 = any free port, see `bound_port`); HTTPS when `tls` is configured."""

    def __init__(self, app: FastAPI, host: str, port: int, tls: ServerTlsSettings | None = None) -> None:
        # The request head is bounded too: uvicorn's httptools protocol would hold a header of any length.
        protocol = bounded_headers(import_from_string(HTTP_PROTOCOLS["auto"]))
        # Unusable certificate files raise here (OSError, ssl.SSLError), before anything listens.
        self._certificate = https_certificate(tls or ServerTlsSettings(), "api")
        factory = self._certificate.context_factory if self._certificate is not None else None
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off", http=protocol,
            ssl_context_factory=factory,
        )
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def bound_port(self) -> int:
        if self._socket is None:
            return int(self._server.config.port)
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        # Bind here so "address in use" is an OSError for the caller (uvicorn would sys.exit in its task).
        config = self._server.config
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((config.host, config.port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self._socket = sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="api-server")
        while not self._server.started:
            if self._task.done():
                await self._task  # re-raise the bind error
                raise RuntimeError("the API server stopped during start-up")
            await asyncio.sleep(0.02)
        if self._certificate is not None:
            self._certificate.start()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._certificate is not None:
            await self._certificate.stop()
