"""Length limits of payload file names (issue #11): checked before any file-system work, with the reason,
never echoing the name; and the servicers' error edge never sends or logs megabytes."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from openclara.logs import MAX_TRACEBACK_CHARS, LogFormat, configure_logging
from openclara.payload_names import MAX_DEPTH, MAX_NAME_BYTES, MAX_SEGMENT_BYTES
from platform_server.api.edge import MAX_MESSAGE_CHARS, failed, unary
from platform_server.domain import PayloadType
from platform_server.errors import InvalidArgument
from platform_server.payloads import names
from platform_server.payloads.store import PayloadStore

PROBE = "d/" * 2000 + "f"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (PROBE, "file name is 4001 bytes long; at most 1024 bytes are allowed"),
        ("a" * (MAX_NAME_BYTES + 1), "file name is 1025 bytes long"),
        ("é" * 513, "file name is 1026 bytes long"),  # bytes, not characters: 513 characters, 1026 bytes
        ("d/" * MAX_DEPTH + "f", "file name has 33 '/'-separated levels; at most 32 are allowed"),
        ("a/" + "b" * (MAX_SEGMENT_BYTES + 1), "level 2 of the file name is 256 bytes long; at most 255 bytes"),
        ("ü" * 128, "level 1 of the file name is 256 bytes long"),
    ],
)
def test_too_long_or_too_deep_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        names.check(name)
    assert reason in str(caught.value)
    assert name not in str(caught.value)  # neither megabytes nor patient identifiers go back into messages


def test_names_at_the_limits_are_accepted() -> None:
    deepest = "/".join(["d"] * (MAX_DEPTH - 1) + ["f.dcm"])
    longest_segment = "a/" + "b" * MAX_SEGMENT_BYTES
    longest = "/".join(["c" * 200] * 5) + "/" + "e" * (MAX_NAME_BYTES - 1005)
    for name in (deepest, longest_segment, longest):
        assert str(names.check(name)) == name
    assert len(longest.encode()) == MAX_NAME_BYTES




async def _chunks() -> AsyncIterator[bytes]:
    yield b"x"


async def test_the_probe_name_creates_no_folder_and_fails_at_once(store: PayloadStore) -> None:
    payload = await store.create(PayloadType.REUSABLE)
    before = sorted(store.root.rglob("*"))
    started = time.monotonic()
    with pytest.raises(InvalidArgument, match="at most 1024 bytes"):
        await store.upload(payload.payload_id, PROBE, _chunks())
    assert time.monotonic() - started < 0.5
    assert sorted(store.root.rglob("*")) == before
    for deep in (PROBE, "d/" * 40 + "f"):
        with pytest.raises(InvalidArgument):
            await store.download(payload.payload_id, deep)
        with pytest.raises(InvalidArgument):
            await store.remove(payload.payload_id, deep)


def test_error_headers_are_bounded() -> None:
    header = failed(InvalidArgument("x" * 5_000_000))
    assert header.code == -2
    assert len(header.messages[0]) < MAX_MESSAGE_CHARS + 100
    internal = failed(FileNotFoundError(2, "No such file or directory", "/p/" + "d/" * 100_000))
    assert internal.code == -1
    assert len(internal.messages[0]) < MAX_MESSAGE_CHARS + 100


def _recursion_error_with_a_long_chain() -> RecursionError:
    """What `Path.mkdir(parents=True)` raised for the probe: every level's FileNotFoundError chained."""

    def make(level: int) -> None:
        try:
            raise FileNotFoundError(2, "No such file or directory", "/data/" + "d/" * 2000)
        except FileNotFoundError:
            make(level + 1)

    try:
        make(0)
    except RecursionError as exc:
        return exc
    raise AssertionError("no RecursionError")


@pytest.fixture
def root_handler() -> Iterator[None]:
    yield
    configure_logging("INFO", "console")  # back to stderr for the tests after this one


@pytest.mark.parametrize("fmt", ["console", "json"])
async def test_an_unexpected_error_with_a_huge_chain_is_logged_briefly(fmt: LogFormat, root_handler: None) -> None:
    """The servicers' boundary logs the traceback; a chain of ~1,000 exceptions took minutes and 5 MB before."""
    configure_logging("INFO", fmt)
    log_stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(log_stream)
    error = _recursion_error_with_a_long_chain()

    class Servicer:
        @unary(dict)
        async def Upload(self, request: object, context: object) -> object:
            raise error

    started = time.monotonic()
    response = await Servicer().Upload(None, None)
    assert time.monotonic() - started < 10.0  # minutes before the fix; 10 s leaves room for a loaded machine
    assert response["header"].code == -1
    text = log_stream.getvalue()
    assert "api.request.failed" in text and "RecursionError" in text
    assert "older chained exceptions left out" in text
    assert len(text) < MAX_TRACEBACK_CHARS + 2_000
