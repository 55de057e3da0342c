"""Viewer: what the routes ask for, from an item's files to cached volumes.

    source.files(item) -> catalog (kept in memory while the item's files are unchanged)
        -> Conversions.volume / Conversions.labels -> VolumeCache (NIfTI files on disk)

`prepare` starts the default series' preview as soon as the page is asked for, so the conversion runs
while the browser is still loading the viewer's code.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import structlog

from console.viewer.cache import VolumeCache, fingerprint
from console.viewer.catalog import Series, catalog, find
from console.viewer.conversion import Conversions
from console.viewer.errors import NotFound, UnreadableSeries
from console.viewer.keyimage import key_image
from console.viewer.levels import file_name
from console.viewer.sources import FileSource

log = structlog.get_logger()
CATALOGS_KEPT = 64


class Viewer:
    def __init__(self, sources: Mapping[str, FileSource], cache_dir: Path) -> None:
        self.sources = dict(sources)
        self.conversions = Conversions(VolumeCache(cache_dir))
        self._catalogs: OrderedDict[tuple[str, str], tuple[str, list[Series]]] = OrderedDict()
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    def close(self) -> None:
        self.conversions.close()

    def catalog(self, source: str, item_id: str) -> list[Series]:
        """The item's series (blocking: call from a thread); raises NotFound."""
        if source not in self.sources:
            raise NotFound("no such kind of item")
        # One reader per item: the page's `prepare` and the browser's manifest request arrive together.
        with self._item_lock(source, item_id):
            paths = self.sources[source].files(item_id)
            stamp = fingerprint(paths)
            with self._guard:
                kept = self._catalogs.get((source, item_id))
                if kept is not None and kept[0] == stamp:
                    self._catalogs.move_to_end((source, item_id))
                    return kept[1]
            found = catalog(paths)
            with self._guard:
                self._catalogs[(source, item_id)] = (stamp, found)
                while len(self._catalogs) > CATALOGS_KEPT:
                    self._catalogs.popitem(last=False)
            return found

    def _item_lock(self, source: str, item_id: str) -> threading.Lock:
        with self._guard:
            if len(self._locks) > CATALOGS_KEPT * 4:
                self._locks = {key: lock for key, lock in self._locks.items() if lock.locked()}
            return self._locks.setdefault((source, item_id), threading.Lock())

    def prepare(self, source: str, item_id: str) -> None:
        """Catalog the item and start converting its default series (blocking; errors surface later)."""
        try:
            series = self.catalog(source, item_id)
        except NotFound:
            return
        default = default_series(series)
        if default is not None:
            self.conversions.volume(default, file_name("preview"))

    async def volume(self, source: str, item_id: str, key: str, name: str) -> Path:
        series = await self._series(source, item_id, key)
        if series.segmentation:
            raise NotFound("that series is a segmentation: ask for its labels")
        return await asyncio.wrap_future(self.conversions.volume(series, name))

    async def key_image(self, source: str, item_id: str) -> bytes:
        """The default series' middle slice as PNG (no cache: a few milliseconds, and PHI stays in memory)."""
        series = default_series(await asyncio.to_thread(self.catalog, source, item_id))
        if series is None or series.middle is None:
            raise NotFound("no image series to show")
        return await asyncio.to_thread(key_image, series.middle)

    async def labels(self, source: str, item_id: str, key: str, name: str) -> Path:
        series = await self._series(source, item_id, key)
        all_series = await asyncio.to_thread(self.catalog, source, item_id)
        image = find(all_series, series.references or "")
        if not series.segmentation or image is None:
            raise UnreadableSeries("that series is not a segmentation of an image series here")
        return await asyncio.wrap_future(self.conversions.labels(series, image, name))

    async def _series(self, source: str, item_id: str, key: str) -> Series:
        found = find(await asyncio.to_thread(self.catalog, source, item_id), key)
        if found is None:
            raise NotFound("no such series")
        return found


def default_series(series: list[Series]) -> Series | None:
    """The series to open first: the image series a SEG segments, else the largest image series."""
    images = [s for s in series if not s.segmentation]
    segmented = {s.references for s in series if s.segmentation and s.references}
    return next((s for s in images if s.key in segmented), images[0] if images else None)


def manifest(series: list[Series]) -> dict[str, object]:
    default = default_series(series)
    return {"series": [s.summary() for s in series], "default": default.key if default else None}
