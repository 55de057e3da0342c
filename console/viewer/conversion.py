"""Conversions: series -> cached NIfTI levels, once per series, on worker threads, the preview first.

    volume(series, level) -> Future[Path]
        first call for a series: read_series (one pass over the files) -> for each level, preview first:
        levels.take -> nifti.write -> cache; the grid (geometry.json) last, for the SEGs that refer to it
    labels(seg, image series, level) -> Future[Path]
        the image series' grid (converting it if needed) -> read_segmentation -> levels -> cache

A request waits only for the level it asked for: the preview of a 500-slice CT is served while the
full volume is still being written. Conversions run on a small thread pool so the event loop stays free.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog

from console.viewer import levels as lv
from console.viewer import nifti
from console.viewer.cache import VolumeCache, fingerprint
from console.viewer.catalog import Series
from console.viewer.segmentation import read_segmentation
from console.viewer.volume import Grid, read_series

log = structlog.get_logger()
GRID = "geometry.json"
SEGMENTS = "segments.json"
FILES = [lv.file_name(level) for level in lv.LEVELS]


class Conversions:
    def __init__(self, cache: VolumeCache) -> None:
        self.cache = cache
        # One thread each: reading DICOM is bound by the GIL, so more threads would not convert faster.
        # Two pools, because a SEG's conversion waits for its image series' grid: in one pool, SEGs
        # waiting on image series still queued behind them could take every thread (a deadlock).
        self._series_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="viewer-series")
        self._labels_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="viewer-labels")
        self._running: dict[str, dict[str, Future[Path]]] = {}
        self._guard = threading.Lock()

    def close(self) -> None:
        """Drop queued conversions and wait for the running ones (a second or two): no half-written cache."""
        self._series_pool.shutdown(wait=True, cancel_futures=True)
        self._labels_pool.shutdown(wait=True, cancel_futures=True)

    def volume(self, series: Series, name: str) -> Future[Path]:
        """A file of an image series: a level's NIfTI (`levels.file_name`) or GRID, its geometry."""
        names = [*FILES, GRID]
        return self._start(self._series_pool, series.key, names, name, lambda out: self._convert_series(series, out))

    def labels(self, seg: Series, image: Series, name: str) -> Future[Path]:
        """A file of a SEG on the grid of `image`: a level's label NIfTI, or SEGMENTS (what each value means)."""
        key = fingerprint(seg.paths, salt=f"labels:{image.key}")
        names = [*FILES, SEGMENTS]
        return self._start(self._labels_pool, key, names, name, lambda out: self._convert_seg(seg, image, key, out))

    def _start(
        self,
        pool: ThreadPoolExecutor,
        key: str,
        names: list[str],
        wanted: str,
        work: Callable[[dict[str, Future[Path]]], None],
    ) -> Future[Path]:
        if wanted not in names:
            raise ValueError(f"no converted file is called {wanted!r}")
        cached = self.cache.path(key, wanted)
        if cached.exists():
            done: Future[Path] = Future()
            done.set_result(cached)
            return done
        with self._guard:
            running = self._running.get(key)
            if running is None:
                running = {name: Future() for name in names}
                self._running[key] = running
                pool.submit(self._run, key, running, work)
        return running[wanted]

    def _run(self, key: str, futures: dict[str, Future[Path]], work: Callable[[dict[str, Future[Path]]], None]) -> None:
        try:
            work(futures)
        except Exception as exc:  # the boundary of a worker thread: every waiter gets the error
            log.warning("viewer.conversion.failed", key=key, error=type(exc).__name__)
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)
        finally:
            with self._guard:
                self._running.pop(key, None)

    def _convert_series(self, series: Series, futures: dict[str, Future[Path]]) -> None:
        self._quick_preview(series, futures)
        volume = read_series(series.paths)
        self._write_levels(series.key, volume.voxels, volume.grid.affine, futures)
        grid = self.cache.ensure(series.key, GRID, lambda p: p.write_text(json.dumps(volume.grid.to_json())))
        futures[GRID].set_result(grid)
        log.info("viewer.series.converted", key=series.key, slices=volume.grid.shape[0], dtype=str(volume.voxels.dtype))

    def _quick_preview(self, series: Series, futures: dict[str, Future[Path]]) -> None:
        """The preview from its own slices only (every step-th file): a 500-slice CT's preview needs 125 reads,
        not 500. Same grid as `levels.take` of the full volume, so the SEG's preview still lines up."""
        level = lv.steps(series.shape)["preview"]
        if level.step == 1 or len(series.placed) != len(series.paths):
            return
        subset = read_series(series.placed[:: level.step])
        voxels = subset.voxels[:, :: level.step, :: level.step]
        affine = subset.grid.affine @ np.diag([level.step, level.step, 1.0, 1.0])  # z: the subset's own step
        name = lv.file_name("preview")
        futures[name].set_result(self.cache.ensure(series.key, name, lambda p: nifti.write(p, voxels, affine)))

    def _convert_seg(self, seg: Series, image: Series, key: str, futures: dict[str, Future[Path]]) -> None:
        grid = Grid.from_json(json.loads(self.volume(image, GRID).result().read_text()))
        labels = read_segmentation(seg.paths[0], grid)
        meaning = {"encoding": labels.encoding, "segments": [s.to_json() for s in labels.segments]}
        futures[SEGMENTS].set_result(self.cache.ensure(key, SEGMENTS, lambda p: p.write_text(json.dumps(meaning))))
        self._write_levels(key, labels.voxels, grid.affine, futures)
        log.info("viewer.segmentation.converted", key=key, segments=len(labels.segments))

    def _write_levels(
        self,
        key: str,
        voxels: npt.NDArray[np.generic],
        affine: npt.NDArray[np.float64],
        futures: dict[str, Future[Path]],
    ) -> None:
        written: dict[int, Path] = {}  # step -> file: a small series' levels are one file under three names
        for level in lv.steps(voxels.shape).values():
            name = lv.file_name(level.name)
            same = written.get(level.step)

            def write(path: Path, level: lv.Level = level, same: Path | None = same) -> None:
                if same is not None:
                    os.link(same, path)
                else:
                    nifti.write(path, lv.take(voxels, level), lv.scaled(affine, level))

            written[level.step] = self.cache.ensure(key, name, write)
            if not futures[name].done():  # the quick preview may have answered already
                futures[name].set_result(written[level.step])
