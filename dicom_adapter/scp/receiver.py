"""One C-STORE data set streamed from P-DATA fragments into a spool temp file, then committed.

The checksum (XXH3-64) of the data set is computed while it streams; at commit the completion record
(length, checksum, association id: `storage.completion`) is written into the file meta before the one `fdatasync`.

Memory per instance is the first `HEAD_LIMIT` bytes (kept to read the UIDs) plus the write queue
(under `_BATCH` bytes and one fragment) and at most `_IN_FLIGHT` batches being written: a 2 GB
instance costs the same as a 2 KB one.

With a `writer` (the SCP's thread pool), full batches are written there, at their offsets, while the
event loop goes on receiving: copying into the page cache is half the CPU an instance costs, and a
thread (the GIL released in the write) puts it on the second core. The last batch of each instance,
all of a small one, is written inline at commit (no thread hand-off), which then waits for the batches
still in flight before its one flush. The file is never closed while a write is in flight.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING

from dicom_adapter.models import StoredInstance
from dicom_adapter.scp.checks import check_data_set, check_identity
from dicom_adapter.scp.status import StoreFailure
from dicom_adapter.storage.completion import RECORD_SIZE, encode_record, new_checksum
from dicom_adapter.storage.errors import OutOfResourcesError, StoreError, StoreProcessingError
from dicom_adapter.storage.instance_file import FileMeta, Header, encode_file_meta, read_header, read_header_file
from dicom_adapter.storage.spool import instance_file_name

if TYPE_CHECKING:
    from dicom_adapter.storage.spool import Spool

HEAD_LIMIT = 64 * 1024  # CT/MR headers are 2-10 KB; longer ones fall back to reading the file
# Fragments are queued and leave in one os.writev per this many bytes: storescu sends 16 KB PDUs, and
# 16 KB writes cost ~1.7x the kernel time per byte of 256 KB ones (ext4 per-call overhead, measured).
_BATCH = 256 * 1024
_BATCH_PARTS = 512  # and at most this many fragments per writev (IOV_MAX is 1024 on Linux)
_WRITEBACK = 256 * 1024  # ask the disk to start writing every this many bytes (see Spool.start_writeback)
_IN_FLIGHT = 4  # batches written by the writer thread at once per instance: then the association waits
# Checking that the elements fill the data set exactly reads element headers back from the file only past
# the head; for an instance larger than this (many encapsulated frames: a read per frame), in a thread.
_WALK_IN_THREAD = 16 * 1024 * 1024
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def _store_error(exc: OSError, action: str) -> StoreError:
    if exc.errno in _NO_SPACE:
        return OutOfResourcesError(f"disk full while {action}")
    return StoreProcessingError(f"{action}: {exc.strerror}")


class InstanceReceiver:
    """Writes one data set; after the first failure it only counts bytes (the PDVs must be drained)."""

    def __init__(self, spool: Spool, meta: FileMeta, writer: Executor | None = None) -> None:
        self.meta = meta
        self.size = 0
        self.error: StoreError | None = None
        self._spool = spool
        self._head = bytearray()
        meta_bytes = encode_file_meta(meta)
        self._meta_length = len(meta_bytes)
        self._queue: list[bytes | memoryview] = [meta_bytes]  # written by the next os.writev; the meta rides first
        self._queued = self._meta_length
        self._temp: Path | None = None
        self._fd: int | None = None
        self._written = 0  # bytes in the file so far, or handed to the writer
        self._flushed = 0  # bytes handed to start_writeback (inline writes)
        self._writer = writer
        self._in_flight: list[concurrent.futures.Future[None]] = []  # batches the writer has
        self._checksum = new_checksum()  # of the data set bytes so far
        self._final: Path | None = None  # set by commit()
        try:
            self._temp, self._fd = spool.create_temp()
        except OSError as exc:
            self.error = _store_error(exc, "creating the spool file")

    def write(self, chunk: bytes | memoryview) -> None:
        """Append one fragment (or part of one) to the file."""
        self.size += len(chunk)
        if self.error is not None:
            return
        self._checksum.update(chunk)
        if len(self._head) < HEAD_LIMIT:
            self._head += chunk[: HEAD_LIMIT - len(self._head)]
        self._queue.append(chunk)
        self._queued += len(chunk)
        if self._queued >= _BATCH or len(self._queue) >= _BATCH_PARTS:
            self._write_queue()

    @property
    def backlogged(self) -> bool:
        """Whether the writer has `_IN_FLIGHT` batches of this instance: `drain()` before the next fragment."""
        return len(self._in_flight) >= _IN_FLIGHT

    async def drain(self) -> None:
        """Wait until the writer has fewer than `_IN_FLIGHT` batches (an error shows at commit)."""
        while self.backlogged:
            await _landed(self._in_flight[:1])
            self._reap()

    def _write_queue(self, inline: bool = False) -> None:
        """Write the queued fragments at their offset: in the writer thread, or here when `inline`."""
        assert self._fd is not None
        queue, size, offset = self._queue, self._queued, self._written
        self._queue, self._queued = [], 0
        self._written += size
        if self._writer is not None and not inline:
            self._in_flight.append(self._writer.submit(_write_at, self._spool, self._fd, queue, size, offset))
            self._reap()
            return
        try:
            _write_at(None, self._fd, queue, size, offset)
            if self._writer is None and self._written - self._flushed >= _WRITEBACK:  # else: commit's flush is next
                self._spool.start_writeback(self._fd, self._flushed, self._written - self._flushed)
                self._flushed = self._written
        except OSError as exc:
            self.error = _store_error(exc, "writing the spool file")
            self.discard()

    def _reap(self) -> None:
        """Forget finished batches; the first failed one fails the instance (its file discarded)."""
        while self._in_flight and self._in_flight[0].done():
            exc = self._in_flight.pop(0).exception()
            if isinstance(exc, OSError):
                if self.error is None:
                    self.error = _store_error(exc, "writing the spool file")
                    self.discard()
            elif exc is not None:
                raise exc

    async def _written_out(self) -> None:
        """Every batch handed to the writer has landed (or failed: `error`)."""
        if self._in_flight:
            await _landed(self._in_flight)
            self._reap()

    async def commit(
        self, directory: Path, calling_host: str, association_id: str, extra: tuple[int, ...], inline: bool = False
    ) -> StoredInstance:
        """Check the header, write the completion record, make the file durable (one flush), describe
        it (under its final name, which `place()` gives it once the response is out). Raises StoreError or
        DataSetError (`status.StoreFailure`)."""
        if self.error is None and self._queue:
            self._write_queue(inline=True)  # the rest (for an empty data set, the meta alone)
        await self._written_out()
        if self.error is not None:
            raise self.error
        assert self._fd is not None and self._temp is not None
        try:
            header = await self._check(extra)
        except StoreFailure:
            self.discard()
            raise
        received_at = time.time_ns()
        record = encode_record(self.size, self._checksum.intdigest(), received_at, association_id)
        try:
            os.pwrite(self._fd, record, self._meta_length - RECORD_SIZE)
        except OSError as exc:
            self.discard()
            raise _store_error(exc, "completing the spool file") from exc
        fd, self._fd = self._fd, None
        try:
            # Alone, blocking the loop for the flush is cheapest (waking a thread costs a GIL hand-off);
            # with other associations open, a thread lets them go on receiving meanwhile.
            self._spool.flush(fd) if inline else await asyncio.to_thread(self._spool.flush, fd)
        except OSError as exc:
            self.discard()
            raise _store_error(exc, "flushing the spool file") from exc
        self._final = directory / instance_file_name(self.meta.sop_instance_uid)
        return StoredInstance(
            path=self._final,
            called_ae_title=self.meta.called_ae_title,
            calling_ae_title=self.meta.calling_ae_title,
            calling_host=calling_host,
            association_id=association_id,
            sop_class_uid=self.meta.sop_class_uid,
            sop_instance_uid=header.sop_instance_uid,
            study_instance_uid=header.study_instance_uid,
            series_instance_uid=header.series_instance_uid,
            transfer_syntax=self.meta.transfer_syntax,
            size=self._meta_length + self.size,
            received_at=received_at / 1e9,
            extra_tags=header.extra_tags,
        )

    async def _check(self, extra: tuple[int, ...]) -> Header:
        """The header, once the data set is known whole (no element runs past its end) and names the
        instance the command named. Raises StoreError or DataSetError."""
        head = bytes(self._head)
        syntax = self.meta.transfer_syntax
        header = read_header(head, len(head) == self.size, syntax, extra)
        if header is None:
            assert self._temp is not None
            header = await asyncio.to_thread(read_header_file, self._temp, extra)
        if self.size > _WALK_IN_THREAD:
            await asyncio.to_thread(check_data_set, head, self.size, self._read_at, syntax, header.walked)
        else:
            check_data_set(head, self.size, self._read_at, syntax, header.walked)
        check_identity(header, self.meta.sop_class_uid, self.meta.sop_instance_uid)
        return header

    def _read_at(self, offset: int, count: int) -> bytes:
        """Data set bytes back from the spool file (all written by now: commit() emptied the queue)."""
        assert self._fd is not None
        try:
            return os.pread(self._fd, count, self._meta_length + offset)
        except OSError as exc:
            raise _store_error(exc, "reading the spool file back") from exc

    def place(self) -> Path:
        """Rename the committed (durable) file to its final name, and return the name used (a re-sent
        instance gets one of its own): after the response, since a crash before the rename reaches the
        disk is recovered at restart. Raises OSError."""
        assert self._temp is not None and self._final is not None
        temp, self._temp = self._temp, None
        return self._spool.place(temp, self._final)

    def discard(self) -> None:
        """Remove the partial file (abort, failure); safe to call twice. Waits for the writer's batches
        first (a few hundred KB at most): the descriptor must not close, and be reused, under a write."""
        if self._in_flight:
            # Batches not started yet never touch the descriptor: only those being written are waited for
            # (the pool is shared: the queue may hold other associations' batches ahead of them).
            running = [future for future in self._in_flight if not future.cancel()]
            concurrent.futures.wait(running)
            self._in_flight = []
        if self._temp is not None:
            self._spool.discard(self._temp, self._fd)
        self._temp, self._fd = None, None


async def _landed(futures: Sequence[concurrent.futures.Future[None]]) -> None:
    """Wait for the writer's `futures` without raising: `_reap` reads their outcome (and the wrappers'
    exceptions are read here, so the loop does not report them as never retrieved)."""
    wrappers = [asyncio.wrap_future(future) for future in futures]
    await asyncio.wait(wrappers)
    for wrapper in wrappers:
        if not wrapper.cancelled():
            wrapper.exception()


def _write_at(spool: Spool | None, fd: int, queue: Sequence[bytes | memoryview], size: int, offset: int) -> None:
    """Write `queue` (`size` bytes) at `offset`; with `spool` (in the writer thread) hint writeback of it."""
    done = os.pwritev(fd, queue, offset)
    if done < size:  # a short write: the rest one piece at a time
        view = memoryview(b"".join(queue))[done:]
        while view:
            view = view[os.pwrite(fd, view, offset + done) :]
            done = size - len(view)
    if spool is not None and size >= _WRITEBACK:
        spool.start_writeback(fd, offset, size)
