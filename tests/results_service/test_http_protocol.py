"""CoalescingTransport: one socket write per loop turn; nothing lost on close. And what it relies on in uvicorn."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from results_service.http_protocol import CoalescingProtocol, CoalescingTransport, protocol_class


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8088)}.get(name)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def _wrap(fake: FakeTransport) -> CoalescingTransport:
    return CoalescingTransport(fake)  # type: ignore[arg-type]


async def test_writes_of_one_turn_leave_as_one() -> None:
    fake = FakeTransport()
    transport = _wrap(fake)
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"{}")
    assert fake.writes == []
    await asyncio.sleep(0)
    assert fake.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]


async def test_close_flushes_first_and_other_calls_pass_through() -> None:
    fake = FakeTransport()
    transport = _wrap(fake)
    transport.write(b"bye")
    transport.close()
    assert fake.writes == [b"bye"] and fake.closed
    assert transport.get_extra_info("peername") == ("127.0.0.1", 50000)
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert fake.writes == [b"bye"]


async def test_nothing_is_written_to_a_closing_transport() -> None:
    fake = FakeTransport()
    transport = _wrap(fake)
    transport.write(b"late")
    fake.closed = True
    await asyncio.sleep(0)
    assert fake.writes == []


PARSERS = ["h11"] + (["httptools"] if importlib.util.find_spec("httptools") else [])


def test_protocol_class_wraps_the_chosen_parser_without_subclassing_it() -> None:
    cls = protocol_class("h11")
    assert issubclass(cls, CoalescingProtocol) and not issubclass(cls, H11Protocol)
    assert cls.inner_class is H11Protocol and cls.__name__ == "CoalescingH11Protocol"


def test_uvicorn_builds_its_protocol_with_keyword_arguments() -> None:
    """Pinned: `CoalescingProtocol.__init__` passes uvicorn's keyword arguments on (server.py create_protocol)."""
    source = inspect.getsource(uvicorn.Server.startup)
    assert "config.http_protocol_class(" in source
    for name in ("config", "server_state", "app_state", "_loop"):
        assert f"{name}=" in source
        assert name in inspect.signature(H11Protocol.__init__).parameters


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("close", [False, True])
async def test_uvicorn_writes_a_response_through_our_transport_in_one_write(parser: str, close: bool) -> None:
    """Pinned: uvicorn writes head and body through the transport of `connection_made`, in one loop turn, and
    closes that transport (not the socket's) after a `Connection: close` response."""
    config = uvicorn.Config(_app, http=protocol_class(parser), lifespan="off", log_config=None)
    config.load()
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    fake = FakeTransport()
    protocol.connection_made(fake)  # type: ignore[arg-type]
    header = b"connection: close\r\n" if close else b""
    protocol.data_received(b"GET / HTTP/1.1\r\nhost: x\r\n" + header + b"\r\n")
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(fake.writes) == 1
    assert fake.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and fake.writes[0].endswith(b"\r\n\r\n{}")
    assert fake.closed is close
    protocol.connection_lost(None)
