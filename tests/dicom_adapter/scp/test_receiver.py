"""InstanceReceiver: fragments are queued and written in batches (os.pwritev), inline or by a writer
thread; the file is byte-exact either way."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import xxhash

from dicom_adapter.dicom.errors import TruncatedDataSetError
from dicom_adapter.scp import receiver as receiver_module
from dicom_adapter.scp.errors import InstanceMismatchError
from dicom_adapter.scp.receiver import InstanceReceiver
from dicom_adapter.storage.completion import read_completion
from dicom_adapter.storage.errors import OutOfResourcesError
from dicom_adapter.storage.instance_file import FileMeta
from dicom_adapter.storage.spool import Spool
from tests.dicom_adapter.scp.datasets import encode, make_ct


def _receiver(tmp_path: Path, writer: ThreadPoolExecutor | None = None):
    spool = Spool(tmp_path)
    spool.prepare()
    ds = make_ct(size=256)  # ~131 KB of pixels
    meta = FileMeta(
        sop_class_uid=ds.SOPClassUID,
        sop_instance_uid=ds.SOPInstanceUID,
        transfer_syntax="1.2.840.10008.1.2.1",
        implementation_class_uid="1.2.3",
        implementation_version_name="TEST",
        calling_ae_title="STORESCU",
        called_ae_title="CLARA",
        sending_address="dicom://10.0.0.7:4242",
    )
    return spool, InstanceReceiver(spool, meta, writer), encode(ds)


def _commit(spool: Spool, receiver: InstanceReceiver):
    instance = asyncio.run(receiver.commit(spool.association_dir("CLARA", "a1"), "10.0.0.7", "a1", (), inline=True))
    receiver.place()
    return instance


@pytest.fixture
def writer():
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.mark.parametrize("threaded", [False, True], ids=["inline", "writer thread"])
@pytest.mark.parametrize("fragment", [7, 1000, 16372, 1 << 20])
def test_fragments_of_any_size_make_the_same_file(tmp_path, fragment, threaded, writer):
    """7-byte fragments exceed the writev part limit many times over; 1 MB ones exceed the batch size."""
    spool, receiver, data = _receiver(tmp_path, writer if threaded else None)
    data = data * 5  # ~660 KB: two batches for the writer, the rest inline
    for offset in range(0, len(data), fragment):
        receiver.write(data[offset : offset + fragment])
    instance = _commit(spool, receiver)
    content = instance.path.read_bytes()
    assert content.endswith(data)
    assert len(content) == instance.size
    record = read_completion(instance.path)
    assert record is not None and record.length == len(data) and record.checksum == xxhash.xxh3_64_intdigest(data)


def test_a_short_writev_is_completed(tmp_path, monkeypatch):
    """The kernel may write less than asked; the rest follows with plain writes."""
    real = os.pwritev

    def short_writev(fd: int, buffers, offset: int) -> int:
        first = bytes(buffers[0])
        return real(fd, [first[: max(1, len(first) // 2)]], offset)

    monkeypatch.setattr(receiver_module.os, "pwritev", short_writev)
    spool, receiver, data = _receiver(tmp_path)
    for offset in range(0, len(data), 16372):
        receiver.write(data[offset : offset + 16372])
    assert _commit(spool, receiver).path.read_bytes().endswith(data)


@pytest.mark.parametrize("threaded", [False, True], ids=["inline", "writer thread"])
def test_a_failed_write_is_reported_at_commit_with_its_reason(tmp_path, monkeypatch, threaded, writer):
    def full(fd: int, buffers, offset: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(receiver_module.os, "pwritev", full)
    spool, receiver, data = _receiver(tmp_path, writer if threaded else None)
    temp = receiver._temp
    for _ in range(3):  # past a batch: the writer thread's write fails
        receiver.write(data)
    with pytest.raises(OutOfResourcesError, match="disk full while writing the spool file"):
        _commit(spool, receiver)
    assert receiver.size == 3 * len(data)
    assert temp is not None and not temp.exists()  # the partial file is gone


def test_the_writer_takes_full_batches_and_the_association_waits_when_it_is_behind(tmp_path, writer, monkeypatch):
    """Batches go to the writer thread, at most _IN_FLIGHT at once; commit writes the rest inline and
    waits for them; discard waits too, so no descriptor closes under a write."""
    spool, receiver, data = _receiver(tmp_path, writer)
    release = threading.Event()
    threads: list[str] = []
    real = os.pwritev

    def slow(fd: int, buffers, offset: int) -> int:
        threads.append(threading.current_thread().name)
        if threading.current_thread() is not threading.main_thread():
            release.wait(10)
        return real(fd, buffers, offset)

    monkeypatch.setattr(receiver_module.os, "pwritev", slow)
    big = data * 12  # ~1.6 MB: 6 batches
    chunks = [big[offset : offset + 16372] for offset in range(0, len(big), 16372)]

    async def receive() -> None:
        waited = 0
        for chunk in chunks:
            receiver.write(chunk)
            if receiver.backlogged:
                waited += 1
                asyncio.get_running_loop().call_later(0.05, release.set)
                await receiver.drain()
        assert waited >= 1  # the association waited while the writer held _IN_FLIGHT batches

    asyncio.run(receive())
    instance = _commit(spool, receiver)
    assert instance.path.read_bytes().endswith(big)
    assert threads.count("MainThread") == 1  # only the last batch inline (the writer's may start after it)
    assert len(threads) > receiver_module._IN_FLIGHT


def test_discard_waits_for_the_writer(tmp_path, writer, monkeypatch):
    spool, receiver, data = _receiver(tmp_path, writer)
    started, release = threading.Event(), threading.Event()
    real = os.pwritev
    landed: list[int] = []

    def slow(fd: int, buffers, offset: int) -> int:
        started.set()
        release.wait(10)
        done = real(fd, buffers, offset)
        landed.append(done)
        return done

    monkeypatch.setattr(receiver_module.os, "pwritev", slow)
    for _ in range(3):
        receiver.write(data)
    assert started.wait(10)
    temp = receiver._temp
    threading.Timer(0.1, release.set).start()
    receiver.discard()
    assert landed and temp is not None and not temp.exists()


def test_a_truncated_data_set_is_refused_before_the_flush_and_its_file_removed(tmp_path):
    spool, receiver, data = _receiver(tmp_path)
    receiver.write(data[:-5120])
    temp = receiver._temp
    with pytest.raises(TruncatedDataSetError, match=r"element \(7FE0,0010\) is 5120 bytes longer"):
        _commit(spool, receiver)
    assert temp is not None and not temp.exists()
    assert list(tmp_path.rglob("*.dcm")) == []


def test_a_data_set_naming_another_instance_is_refused(tmp_path):
    spool, receiver, _ = _receiver(tmp_path)
    receiver.write(encode(make_ct(size=256)))  # another SOP Instance UID than the meta's (the command's)
    with pytest.raises(InstanceMismatchError):
        _commit(spool, receiver)
    assert list(tmp_path.rglob("*.dcm")) == []


def test_a_long_header_is_checked_from_the_file(tmp_path):
    """More than the 64 KB kept in memory before the UIDs: the header and the structure come from the file."""
    spool, receiver, _ = _receiver(tmp_path)
    ds = make_ct(size=256, sop=receiver.meta.sop_instance_uid)
    ds.add_new(0x00090010, "LO", "PROBE")
    ds.add_new(0x00091001, "OB", bytes(100_000))  # group 0009: before the Study UID
    data = encode(ds)
    for offset in range(0, len(data), 16372):
        receiver.write(data[offset : offset + 16372])
    assert _commit(spool, receiver).path.read_bytes().endswith(data)


def test_a_failed_batch_is_reported_once_not_as_an_unretrieved_exception(tmp_path, writer, monkeypatch):
    real = os.pwritev

    def full(fd: int, buffers, offset: int) -> int:  # the writer's batches fail while commit waits for them
        if threading.current_thread() is threading.main_thread():
            return real(fd, buffers, offset)
        time.sleep(0.05)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(receiver_module.os, "pwritev", full)
    spool, receiver, data = _receiver(tmp_path, writer)
    reported: list[str] = []

    async def receive() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context["message"]))
        for _ in range(3):
            receiver.write(data)
        failed = None
        try:
            await receiver.commit(spool.association_dir("CLARA", "a1"), "10.0.0.7", "a1", ())
        except OutOfResourcesError as exc:
            failed = type(exc)  # not the exception itself: its traceback would keep the futures alive
        assert failed is OutOfResourcesError
        gc.collect()  # an unretrieved exception is reported when its future is collected
        await asyncio.sleep(0)

    asyncio.run(receive())
    assert reported == []


def test_discard_does_not_wait_for_batches_the_writer_has_not_started(tmp_path, monkeypatch):
    """The pool is shared: a batch queued behind another association's is cancelled, not waited for."""
    with ThreadPoolExecutor(1) as pool:
        release = threading.Event()
        pool.submit(release.wait, 10)  # another association's slow batch holds the only thread
        spool, receiver, data = _receiver(tmp_path, pool)
        for _ in range(3):
            receiver.write(data)  # one batch queued behind it
        temp = receiver._temp
        receiver.discard()  # returns at once: the queued batch never touches the descriptor
        assert temp is not None and not temp.exists()
        release.set()
