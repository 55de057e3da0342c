"""CoalescingTransport: one socket write per loop turn; nothing lost on close."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

from results_service.http_protocol import CoalescingTransport, protocol_class


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

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


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
    assert transport.get_extra_info("peername") == "info:peername"
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert fake.writes == [b"bye"]


async def test_nothing_is_written_to_a_closing_transport() -> None:
    fake = FakeTransport()
    transport = _wrap(fake)
    transport.write(b"late")
    fake.closed = True
    await asyncio.sleep(0)
    assert fake.writes == []


def test_protocol_class_extends_the_chosen_parser() -> None:
    assert issubclass(protocol_class("h11"), H11Protocol)
    assert protocol_class("h11").__name__ == "CoalescingH11Protocol"
