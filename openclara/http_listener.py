"""`HttpListener`: uvicorn inside a service's own event loop, as one bind()/start()/stop() component.

Every HTTP port of the stack runs through it (the results service, the adapter's REST API, the console,
the platform's /metrics); each builds its own `uvicorn.Config` (app, protocol, drain time, TLS context):

    bind()   take the port here, not in uvicorn: a busy port is an OSError the caller can explain
             (uvicorn would log and exit its task); nothing is served yet, connections are refused
    start()  uvicorn serves the bound socket; returns once it accepts (or raises what stopped it),
             then starts renewing the HTTPS certificate, if any
    stop()   uvicorn stops accepting, lets requests in flight finish (the config's graceful timeout)
             and runs the lifespan shutdown; the certificate's reloader stops

uvicorn's own SIGTERM/SIGINT handlers are off: `openclara.lifecycle.serve_until_signalled` owns them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from openclara.https import HttpsCertificate


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpListener:
    """Serves `config.app` on `config.host:config.port` (0 = any free port); HTTPS with `certificate`."""

    def __init__(self, config: uvicorn.Config, name: str, certificate: HttpsCertificate | None = None) -> None:
        self._config = config
        self._name = name  # the serving task's name
        self._certificate = certificate
        self._server = _Server(config)
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port once bound (the free one picked for port 0), else the configured one."""
        return int(self._socket.getsockname()[1]) if self._socket is not None else int(self._config.port)

    @property
    def scheme(self) -> str:
        return "https" if self._certificate is not None else "http"

    def url(self, path: str = "") -> str:
        host = self._config.host
        return f"{self.scheme}://{f'[{host}]' if ':' in host else host}:{self.port}{path}"

    def bind(self) -> None:
        """Take the port; raises the OSError of a busy port or an address this machine does not have."""
        if self._socket is not None:
            return
        family, kind, proto, _, address = socket.getaddrinfo(self._config.host, self._config.port,
                                                             type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self._socket = sock

    def close(self) -> None:
        """Give the port back without ever serving (the service did not start)."""
        if self._socket is not None and self._task is None:
            self._socket.close()
            self._socket = None

    async def start(self) -> None:
        self.bind()
        assert self._socket is not None
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name=self._name)
        while not self._server.started:
            if self._task.done():
                await self._task  # the error that stopped uvicorn (a lifespan failure), if it raised one
                raise OSError(f"{self._name}: could not serve on {self._config.host}:{self.port}")
            await asyncio.sleep(0.01)
        if self._certificate is not None:
            self._certificate.start()

    async def stop(self) -> None:
        if self._task is None:
            self.close()
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._certificate is not None:
            await self._certificate.stop()
