"""SparePool: empty files made ahead, never while a burst is received unless the pool runs low."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from dicom_adapter.storage import spares
from dicom_adapter.storage.spares import BATCH, LOW, SparePool
from dicom_adapter.storage.spool import Spool


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _pool(tmp_path: Path, target: int, clock: list[float] | None = None) -> SparePool:
    now = clock if clock is not None else [0.0]
    return SparePool(tmp_path, target, fsync=True, quiet=0.05, clock=lambda: now[0])


def test_fill_makes_target_empty_files_and_holds_no_descriptors(tmp_path):
    before = _open_fds()
    pool = _pool(tmp_path, 150)
    pool.fill()
    assert len(pool) == 150 and len(list(tmp_path.iterdir())) == 150
    assert all(p.stat().st_size == 0 for p in tmp_path.iterdir())
    assert _open_fds() == before
    path, fd = pool.take()
    os.write(fd, b"data")
    os.close(fd)
    assert path.read_bytes() == b"data" and len(pool) == 149 and pool.made_on_demand == 0


def test_an_empty_pool_makes_one_file_on_the_spot_and_counts_it(tmp_path):
    pool = _pool(tmp_path, 0)
    path, fd = pool.take()
    os.close(fd)
    assert path.exists() and pool.made_on_demand == 1


def test_a_spare_deleted_behind_the_pools_back_is_skipped(tmp_path):
    pool = _pool(tmp_path, 2)
    pool.fill()
    for path in tmp_path.iterdir():
        path.unlink()
        break
    path, fd = pool.take()
    os.close(fd)
    assert path.exists() and pool.made_on_demand == 0


async def test_below_the_low_mark_a_batch_is_made_at_once(tmp_path):
    clock = [100.0]
    pool = _pool(tmp_path, 1000, clock)
    pool.fill()
    for _ in range(1000 - LOW):
        os.close(pool.take()[1])
    pool.refill_soon()  # exactly LOW left, spares just taken: nothing now, a top-up once quiet
    assert pool._task is None and pool._timer is not None
    os.close(pool.take()[1])
    pool._timer.cancel()
    pool._timer = None
    pool.refill_soon()
    assert pool._task is not None
    await pool._task
    assert len(pool) == LOW - 1 + BATCH  # one batch: spares were taken less than `quiet` ago


async def test_once_quiet_the_pool_is_topped_up_and_stops_while_spares_are_taken(tmp_path):
    clock = [100.0]
    pool = _pool(tmp_path, 6 * BATCH, clock)
    pool.fill()
    for _ in range(4 * BATCH):
        os.close(pool.take()[1])  # a burst at t=100: 2 batches left, above LOW
    make = pool.make
    batches = []

    def make_while_a_burst_starts(count: int) -> list[Path]:
        batches.append(count)
        if len(batches) == 1:
            os.close(pool.take()[1])  # a C-STORE arrives during the first batch
        return make(count)

    pool.make = make_while_a_burst_starts  # type: ignore[method-assign]
    pool.refill_soon()
    assert pool._task is None  # not quiet yet (the clock has not moved)
    clock[0] += 1.0  # quiet now
    while not batches:
        await asyncio.sleep(0.01)
    assert pool._task is not None
    await pool._task
    assert batches == [BATCH]  # stopped: a spare was taken during the batch
    clock[0] += 1.0
    while len(pool) < 6 * BATCH:  # the timer set when it stopped tops the pool up once quiet again
        await asyncio.sleep(0.01)
    assert batches == [BATCH, BATCH, BATCH, BATCH, 1]  # 3 batches + 1 missing after the second burst


async def _held_by_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy: list[bool], clock: list[float]
                        ) -> SparePool:
    """A pool of 3 batches with 2 taken, its top-up due (quiet) but held by `busy`."""
    monkeypatch.setattr(spares, "BUSY_RECHECK", 0.01)
    pool = _pool(tmp_path, 3 * BATCH, clock)
    pool.fill()
    for _ in range(2 * BATCH):
        os.close(pool.take()[1])
    pool.busy = lambda: busy[0]
    pool.refill_soon()
    clock[0] += 1.0  # quiet, but busy
    await asyncio.sleep(0.2)
    assert len(pool) == BATCH and pool._task is None and pool._timer is not None
    return pool


async def _topped_up(pool: SparePool) -> None:
    for _ in range(200):
        if len(pool) == 3 * BATCH:
            break
        await asyncio.sleep(0.01)
    assert len(pool) == 3 * BATCH
    await pool.aclose()


async def test_the_quiet_top_up_waits_while_busy(tmp_path, monkeypatch: pytest.MonkeyPatch):
    # Quiet is when a study's grouping timeout ends: the top-up waits out its hand-off.
    busy = [True]
    pool = await _held_by_busy(tmp_path, monkeypatch, busy, [100.0])
    busy[0] = False
    await _topped_up(pool)


async def test_busy_holds_the_top_up_for_a_while_only(tmp_path, monkeypatch: pytest.MonkeyPatch):
    # A hand-off stuck for minutes (a platform timing out) must not keep the pool low that long.
    clock = [100.0]
    pool = await _held_by_busy(tmp_path, monkeypatch, [True], clock)
    clock[0] += spares.BUSY_LIMIT
    await _topped_up(pool)


async def test_below_the_low_mark_a_batch_is_made_even_while_busy(tmp_path):
    clock = [100.0]
    pool = _pool(tmp_path, 1000, clock)
    pool.fill()
    pool.busy = lambda: True
    for _ in range(1000 - LOW + 1):
        os.close(pool.take()[1])
    pool.refill_soon()
    assert pool._task is not None
    await pool._task
    assert len(pool) == LOW - 1 + BATCH


async def test_one_association_per_instance_does_not_make_a_file_per_instance(tmp_path):
    pool = _pool(tmp_path, 2 * BATCH)
    pool.fill()
    made = []
    pool.make = lambda count: made.append(count) or []  # type: ignore[method-assign]
    for _ in range(BATCH - 1):  # each instance on its own association: take, then refill_soon
        os.close(pool.take()[1])
        pool.refill_soon()
        await asyncio.sleep(0.06)  # quiet in between
    assert made == []  # fewer than a batch missing: nothing made yet


async def test_close_cancels_a_pending_top_up(tmp_path):
    clock = [0.0]
    pool = _pool(tmp_path, 4 * BATCH, clock)
    pool.fill()
    for _ in range(2 * BATCH):
        os.close(pool.take()[1])
    pool.refill_soon()
    assert pool._timer is not None
    await pool.aclose()
    clock[0] += 10
    await asyncio.sleep(0.1)
    assert pool._task is None and len(pool) == 2 * BATCH


async def test_spares_survive_a_restart_and_are_adopted(tmp_path):
    spool = Spool(tmp_path, spare_files=100)
    spool.prepare()
    spool.spares.fill()
    path, fd = spool.create_temp()
    os.write(fd, b"torn")  # a data set cut short by a crash: deleted, not adopted
    os.close(fd)
    await spool.spares.aclose()
    again = Spool(tmp_path, spare_files=100)
    assert again.prepare() == 1
    assert len(again.spares) == 99 and not path.exists()
    made = []
    again.spares.make = lambda count: made.append(count) or []  # type: ignore[method-assign]
    again.spares.target = 99
    again.spares.fill()
    assert made == []


def test_a_full_disk_at_start_shortens_the_pool_instead_of_failing(tmp_path, monkeypatch):
    pool = _pool(tmp_path, 300)
    real_open = os.open
    opened = []

    def open_until_full(path, flags, mode=0o777):
        if flags & os.O_CREAT and len(opened) >= 100:
            raise OSError(28, "No space left on device")
        opened.append(path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", open_until_full)
    pool.fill()  # logs spool.spare.failed, does not raise
    assert 90 <= len(pool) < 300 and len(list(tmp_path.iterdir())) == len(pool)


def test_spares_are_0600_and_adopted_ones_are_tightened(tmp_path):
    """Data sets (PHI) stream into spare files: only the adapter's user may read them."""
    old = tmp_path / "old.part"
    old.touch()
    old.chmod(0o644)  # as an earlier release made them
    pool = _pool(tmp_path, 70)
    assert pool.adopt() == 1
    pool.fill()
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}
