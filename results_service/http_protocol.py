"""uvicorn's HTTP protocol with one socket write per response instead of two.

uvicorn writes a response's status line and headers when the app sends `http.response.start`, and the
body on `http.response.body`: two `send()` system calls and two TCP segments, so the client also wakes
up twice. For this service's answers (a few hundred bytes each) the second write cost about as much as
our own handling of a lease request. `CoalescingTransport` collects what is written during one turn of
the event loop and writes it once at the start of the next (`call_soon`): a response whose parts are
sent back to back leaves as one segment, and nothing waits longer than that loop turn.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

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


def protocol_class(parser: str) -> type[asyncio.Protocol]:
    """uvicorn's protocol class for `parser` ("auto", "h11", "httptools"), writing through CoalescingTransport,
    with the request head bounded (`openclara.http_guards.bounded_headers`)."""
    base: type[asyncio.Protocol] = import_from_string(HTTP_PROTOCOLS[parser])

    class Coalescing(base):  # type: ignore[valid-type, misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # uvloop's transports do not subclass asyncio.Transport, hence the cast instead of a check.
            super().connection_made(CoalescingTransport(cast(asyncio.Transport, transport)))

    Coalescing.__name__ = Coalescing.__qualname__ = f"Coalescing{base.__name__}"
    return bounded_headers(Coalescing)
