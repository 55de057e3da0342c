"""PayloadStore: atomic uploads, names, copying inputs, delete and metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from platform_server.domain import PayloadType
from platform_server.errors import Conflict, InvalidArgument, NotFound
from platform_server.payloads.store import PayloadStore


async def data(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk




async def test_upload_is_atomic_and_a_retry_replaces(store: PayloadStore) -> None:
    payload = await store.create(PayloadType.REUSABLE)
    assert (await store.upload(payload.payload_id, "a/b.bin", data(b"12", b"34"))).size == 4
    await store.upload(payload.payload_id, "a/b.bin", data(b"xyz"))
    assert [(f.name, f.size) for f in await store.files(payload.payload_id)] == [("a/b.bin", 3)]


async def test_failed_upload_leaves_nothing(store: PayloadStore) -> None:
    payload = await store.create(PayloadType.REUSABLE)

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await store.upload(payload.payload_id, "x.bin", broken())
    assert await store.files(payload.payload_id) == []
    assert list(store.folder(payload.payload_id).rglob("*")) == []


async def test_pipeline_payload_names(store: PayloadStore) -> None:
    payload = await store.create(PayloadType.PIPELINE, job_id="j" * 32)
    stored = await store.upload(payload.payload_id, "1.dcm", data(b"d"))
    assert stored.name == "input/1.dcm"
    _, chunks = await store.download(payload.payload_id, "input/1.dcm")
    assert b"".join([c async for c in chunks]) == b"d"
    _, chunks = await store.download(payload.payload_id, "1.dcm")  # input-relative also works
    assert b"".join([c async for c in chunks]) == b"d"
    with pytest.raises(NotFound, match="has no file 'operators/x/output/y'"):
        await store.download(payload.payload_id, "operators/x/output/y")
    with pytest.raises(InvalidArgument, match="contains '..'"):
        await store.download(payload.payload_id, "../../platform.db")


async def test_copy_inputs_in_order_and_collisions(store: PayloadStore) -> None:
    first = await store.create(PayloadType.REUSABLE)
    second = await store.create(PayloadType.REUSABLE)
    await store.upload(first.payload_id, "model/config.txt", data(b"a"))
    await store.upload(second.payload_id, "other.txt", data(b"b"))
    job = await store.create(PayloadType.PIPELINE, job_id="j" * 32)
    await store.copy_inputs([first.payload_id, second.payload_id], job.payload_id)
    assert [f.name for f in await store.files(job.payload_id)] == ["input/model/config.txt", "input/other.txt"]
    clash = await store.create(PayloadType.PIPELINE, job_id="k" * 32)
    collide = f"input payloads collide on file 'model/config.txt' \\(from payload {first.payload_id}"
    with pytest.raises(Conflict, match=collide):
        await store.copy_inputs([first.payload_id, first.payload_id], clash.payload_id)
    with pytest.raises(InvalidArgument, match="is not a reusable payload"):
        await store.copy_inputs([job.payload_id], clash.payload_id)


async def test_delete_and_metadata(store: PayloadStore) -> None:
    payload = await store.create(PayloadType.REUSABLE, metadata={"a": "1"})
    assert await store.add_metadata(payload.payload_id, {"A": "2", "b": "3"}) == {"A": "2", "b": "3"}
    assert await store.remove_metadata(payload.payload_id, ["B"]) == {"A": "2"}
    await store.delete(payload.payload_id)
    assert not store.folder(payload.payload_id).exists()
    with pytest.raises(NotFound, match=f"payload {payload.payload_id} does not exist"):
        await store.files(payload.payload_id)
