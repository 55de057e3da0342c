"""Spare files: empty files in the spool's `.incoming/`, made ahead of time, that data sets stream into.

Why: on this kind of disk, creating a file costs 0.12-0.6 ms of kernel time (allocating an inode;
opening an existing file costs 0.004 ms) and making its directory entry durable needs a directory
fsync. Made during a burst of C-STOREs, even in a worker thread, that work competes with receiving
for the same two cores and the same file system: a pool of 64 refilled in the background cost
25-35 % of the CT throughput (A/B in docs/benchmarks-scp.md). So spares are made when nothing is
being received:

- `fill()` at start tops the pool up to `target` (the first start of a spool pays it once; spares
  are kept across restarts, see below);
- after each C-STORE, `refill_soon()` makes a batch in a worker thread at once only when fewer than
  `LOW` remain (so a burst longer than the pool seldom makes a C-STORE create its own file);
- otherwise, once no spare has been taken for `QUIET` seconds (whether associations are still open
  or not: a router may hold one open for minutes), the pool is topped up to `target` in batches,
  stopping as soon as spares are taken again. Nothing is made for fewer than `BATCH` missing, so a
  sender that opens an association per instance does not cost a directory fsync per instance.
- the quiet top-up also waits while `busy()` says the adapter hands a study over (set by the app:
  a payload being submitted, or a group about to close). A quiet second is often when a study's
  grouping timeout ends, and a top-up then (file creations competing for the GIL, directory fsyncs
  that the platform's own fsyncs queue behind in the journal) delayed the job's start: 263 MB study,
  1 s timeout, job RUNNING at timeout + 70-97 ms (median 83) against + 61-65 ms (median 64) waiting.

Spares are closed files (opened when taken), so the pool costs no file descriptors. An empty
`.part` file found at start is an unused spare from an earlier run: `adopt()` takes it back.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from stat import S_ISREG

import structlog

log = structlog.get_logger()

BATCH = 64  # spares made per directory fsync
LOW = 64  # while receiving, refill only below this many (also the smallest `storage.spare_files`)
QUIET = 1.0  # seconds without a spare taken before the pool is topped up
BUSY_RECHECK = 0.25  # seconds: while `busy()`, how often a due top-up looks again
BUSY_LIMIT = 10.0  # seconds: a top-up held this long by `busy()` runs anyway (a hand-off stuck for minutes)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
# No O_TRUNC: spares are empty by construction (one SCP per spool), and truncating on open costs an
# inode update per instance (-3 to -6 % throughput, measured). Read too: the receiver reads element
# headers back to check that a data set is whole.
_OPEN = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
SUFFIX = ".part"
# Received instances are PHI: only the adapter's user may read them, whatever the process umask.
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def fsync_directory(path: Path) -> None:
    """Make a rename or a new entry in `path` durable (POSIX needs the directory itself fsync'd)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_directory(directory: Path) -> list[Path]:
    """`directory` and its missing parents, each 0700 whatever the umask; returns those it created,
    parents first (a new entry is durable only once its parent directory is fsync'd)."""
    missing: list[Path] = []
    path = directory
    while not path.exists():
        missing.append(path)
        path = path.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs to set
        os.chmod(path, DIRECTORY_MODE)  # mkdir's mode went through the umask
        created.append(path)
    return created


class SparePool:
    """Up to `target` empty files in `directory`."""

    def __init__(
        self,
        directory: Path,
        target: int,
        fsync: bool = True,
        quiet: float = QUIET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.target = target
        self._fsync = fsync
        self._quiet = quiet
        self._clock = clock
        self._last_take = -math.inf
        self._spares: list[Path] = []
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.made_on_demand = 0  # files a C-STORE had to create itself (pool empty): should stay 0
        # Set by the app: while true, the quiet top-up waits (refills below LOW do not), BUSY_LIMIT at most.
        self.busy: Callable[[], bool] = lambda: False
        self._held_since: float | None = None  # when `busy()` first held a due top-up

    def __len__(self) -> int:
        return len(self._spares)

    def adopt(self) -> int:
        """Take over the empty `.part` files of `directory` (spares of an earlier run); call after
        recovery, before receiving. Their entries are made durable again with one directory fsync."""
        known = set(self._spares)
        adopted = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path in known or not S_ISREG(stat.st_mode) or stat.st_size:
                continue
            if stat.st_mode & 0o777 != FILE_MODE:
                try:
                    os.chmod(path, FILE_MODE)  # made 0644 by an earlier release
                except PermissionError:
                    continue  # not ours: never stream PHI into it
            adopted.append(path)
        if adopted and self._fsync:
            fsync_directory(self.directory)
        self._spares.extend(adopted)
        return len(adopted)

    def fill(self) -> None:
        """Top the pool up to `target` now (blocking: at start, before the port opens). A full disk
        (or inode table) only shortens the pool: the SCP still starts, and refuses by its watermark."""
        self._closed = False
        while len(self._spares) < self.target:
            try:
                made = self.make(min(BATCH, self.target - len(self._spares)))
            except OSError as exc:
                log.warning("spool.spare.failed", error=exc.strerror, spares=len(self._spares))
                return
            self._spares.extend(made)
            if not made:
                return

    def take(self) -> tuple[Path, int]:
        """A spare, opened for writing (raw fd). Makes one on the spot only when the pool is empty."""
        self._last_take = self._clock()
        while self._spares:
            path = self._spares.pop()
            try:
                return path, os.open(path, _OPEN)
            except FileNotFoundError:
                continue  # deleted behind our back (an operator cleaning .incoming/): take the next
        self.made_on_demand += 1
        (path,) = self.make(1)
        return path, os.open(path, _OPEN)

    def make(self, count: int) -> list[Path]:
        """Create `count` empty files and make their entries durable (one directory fsync for all).
        Blocking; an OSError after the first file only shortens the batch."""
        made: list[Path] = []
        try:
            for _ in range(count):
                path = self.directory / f"{uuid.uuid4().hex}{SUFFIX}"
                os.close(os.open(path, _CREATE, FILE_MODE))
                made.append(path)
        except OSError as exc:
            if not made:
                raise
            log.warning("spool.spare.failed", error=exc.strerror)
        if self._fsync:
            fsync_directory(self.directory)
        return made

    def refill_soon(self) -> None:
        """After a C-STORE, or when an association ends: refill now below `LOW`, else top up once quiet
        (see the module docstring). Call from the event loop."""
        if self._closed or self._task is not None:
            return
        if len(self._spares) < min(LOW, self.target):
            self._start()
        elif self.target - len(self._spares) >= BATCH and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._quiet, self._on_quiet)

    def _on_quiet(self) -> None:
        self._timer = None
        if self._closed or self._task is not None:
            return
        wait = self._last_take + self._quiet - self._clock()
        if wait <= 0 and self._held():
            wait = BUSY_RECHECK
        if wait > 0:  # spares were taken meanwhile (look again once they stop), or a hand-off is on
            self._timer = asyncio.get_running_loop().call_later(wait, self._on_quiet)
        else:
            self._start()

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._refill())

    def _next_batch(self) -> int:
        """How many to make now: a batch below `LOW`; up to `target` while quiet and not busy; else none."""
        if len(self._spares) < min(LOW, self.target):
            return BATCH
        if self._clock() - self._last_take < self._quiet or self._held():
            return 0
        return min(BATCH, self.target - len(self._spares))

    def _held(self) -> bool:
        """Whether `busy()` holds a due top-up now (for BUSY_LIMIT seconds at most, then not until it lets go)."""
        if not self.busy():
            self._held_since = None
            return False
        now = self._clock()
        if self._held_since is None:
            self._held_since = now
        return now - self._held_since < BUSY_LIMIT

    async def _refill(self) -> None:
        try:
            while not self._closed and (count := self._next_batch()) > 0:
                made = await asyncio.to_thread(self.make, count)
                self._spares.extend(made)  # after close() too: they stay on disk for the next start
        except Exception as exc:  # an OSError (disk full) or a shut-down executor: try again after the next C-STORE
            log.warning("spool.spare.failed", error=getattr(exc, "strerror", None) or repr(exc))
            self._task = None
            return
        self._task = None
        self.refill_soon()  # stopped because spares were taken: top up once quiet again

    async def aclose(self) -> None:
        """Stop refilling. The spares stay on disk: the next start adopts them."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
