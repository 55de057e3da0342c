"""SparePool: empty files made ahead, never while a burst is received unless the pool runs low."""

from __future__ import annotations

import os
from pathlib import Path

from dicom_adapter.spares import BATCH, LOW, SparePool
from dicom_adapter.spool import Spool


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _pool(tmp_path: Path, target: int, busy: list[bool] | None = None) -> SparePool:
    flag = busy if busy is not None else [False]
    return SparePool(tmp_path, target, fsync=True, busy=lambda: flag[0])


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


async def test_while_busy_a_batch_is_made_only_below_the_low_mark(tmp_path):
    busy = [True]
    pool = _pool(tmp_path, 1000, busy)
    pool.fill()
    for _ in range(1000 - LOW):
        os.close(pool.take()[1])
    pool.refill_soon()  # exactly LOW left: nothing to do while receiving
    assert pool._task is None
    os.close(pool.take()[1])
    pool.refill_soon()
    assert pool._task is not None
    await pool._task
    assert len(pool) == LOW - 1 + BATCH


async def test_when_idle_the_pool_is_topped_up_and_stops_when_busy_again(tmp_path):
    busy = [False]
    pool = _pool(tmp_path, 4 * BATCH, busy)
    make = pool.make

    def make_then_an_association_opens(count: int) -> list[Path]:
        busy[0] = True
        return make(count)

    pool.make = make_then_an_association_opens  # type: ignore[method-assign]
    pool.refill_soon()
    assert pool._task is not None
    await pool._task
    assert len(pool) == BATCH  # stopped after the batch it was making
    pool.make = make  # type: ignore[method-assign]
    busy[0] = False
    pool.refill_soon()
    assert pool._task is not None
    await pool._task
    assert len(pool) == 4 * BATCH


async def test_spares_survive_a_restart_and_are_adopted(tmp_path):
    spool = Spool(tmp_path, spare_files=100)
    spool.prepare()
    spool.fill_spares()
    path, fd = spool.create_temp()
    os.write(fd, b"torn")  # a data set cut short by a crash: deleted, not adopted
    os.close(fd)
    await spool.aclose()
    again = Spool(tmp_path, spare_files=100)
    assert again.prepare() == 1
    assert len(again.spares) == 99 and not path.exists()
    made = []
    again.spares.make = lambda count: made.append(count) or []  # type: ignore[method-assign]
    again.spares.target = 99
    again.fill_spares()
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
