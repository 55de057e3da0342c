"""uvicorn's HTTP protocol with one socket write per response instead of two.

uvicorn writes a response's status line and headers when the app sends `http.response.start`, and the
body on `http.response.body`: two `send()` system calls and two TCP segments, so the client also wakes
up twice. For this service's answers (a few hundred bytes each) the second write cost about as much as
our own handling of a lease request. `CoalescingTransport` collects what is written during one turn of
the event loop and writes it once at the start of the next (`call_soon`): a response whose parts are
sent back to back leaves as one segment, and nothing waits longer than that loop turn.

uvicorn has no hook for the transport its protocols write to. Its supported extension point is the
protocol class (`uvicorn.Config(http=<class>)`), so `protocol_class` hands it `CoalescingProtocol`: an
`asyncio.Protocol` that holds uvicorn's own protocol and passes every event on, giving it the wrapped
transport in `connection_made`. No uvicorn class is subclassed or changed here; what this relies on
(uvicorn builds `http` with keyword arguments, and writes a response through the transport it was given,
head and body in the same loop turn) is pinned by tests/results_service/test_http_protocol.py.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

from openclara.http_guards import bounded_headers


class CoalescingTransport:
    """Wraps an asyncio transport; `write` is deferred to the next loop turn, everything else passes through."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        # A response written just before close must still go out (close() sends buffered data first).
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingProtocol(asyncio.Protocol):
    """uvicorn's protocol (`inner_class`) behind a `CoalescingTransport`; every other event passes through."""

    inner_class: ClassVar[type[asyncio.Protocol]]

    def __init__(self, **kwargs: Any) -> None:
        self.inner = self.inner_class(**kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence the cast instead of a check.
        self.inner.connection_made(cast(asyncio.BaseTransport, CoalescingTransport(cast(asyncio.Transport, transport))))

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def protocol_class(parser: str) -> type[asyncio.Protocol]:
    """For `uvicorn.Config(http=...)`: uvicorn's protocol for `parser` ("auto", "h11", "httptools") with its
    request head bounded (`openclara.http_guards.bounded_headers`), writing through CoalescingTransport."""
    base = bounded_headers(import_from_string(HTTP_PROTOCOLS[parser]))
    return type(f"Coalescing{base.__name__}", (CoalescingProtocol,), {"inner_class": base})
