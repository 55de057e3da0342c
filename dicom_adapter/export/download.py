"""Stream a task's result files from its job payload into the agent's temporary spool.

Files land as `<spool>/<task id>/<uri>` via a `.part` name and an atomic rename, so a file present after
a restart is complete and is not fetched again. The spool of a task is removed once it is reported.
`PlatformPayloads` hard-links a result instead of downloading it when the platform's payload folder is
on this file system (`platform.local_files`); the agent only reads what it fetched, never changes it.
"""

from __future__ import annotations

import asyncio
import posixpath
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from dicom_adapter.export.errors import DownloadError, MissingFileError
from dicom_adapter.export.ports import PayloadSource
from dicom_adapter.export.task import ExportTask
from dicom_adapter.storage.spool import safe_name
from platform_api.client import PlatformClient
from platform_api.errors import NotFound, PlatformError

log = structlog.get_logger()

_ATTEMPTS = 3
_BACKOFF_SECONDS = 1.0


class PlatformPayloads:
    """The agent's `PayloadSource`: link from `link_from` when the platform allows, else download."""

    def __init__(self, client: PlatformClient, link_from: Sequence[Path]) -> None:
        self._client = client
        self._link_from = list(link_from)
        self._refusal: str | None = None  # "" = linked; logged at the first file and when it changes

    async def download(self, payload_id: str, name: str, dest: Path, /) -> object:
        handed = await self._client.fetch(payload_id, name, dest, link_from=self._link_from)
        if handed.refusal != self._refusal:
            log.info("export.handoff", how=handed.how, reason=handed.refusal)
            self._refusal = handed.refusal
        return handed

    async def close(self) -> None:
        await self._client.close()


class PayloadDownloader:
    """Fetches result files of tasks into `spool_root`."""

    def __init__(self, source: PayloadSource, spool_root: Path) -> None:
        self._source = source
        self._root = spool_root

    def task_dir(self, task: ExportTask) -> Path:
        return self._root / safe_name(task.task_id)

    async def fetch(self, task: ExportTask, uris: list[str]) -> dict[str, Path]:
        """Local paths of `uris` (downloaded now, or already complete from an earlier attempt)."""
        paths: dict[str, Path] = {}
        for uri in uris:
            target = self.task_dir(task) / _relative(uri)
            if not target.exists():
                await self._download(task.payload_id, uri, target)
            paths[uri] = target
        return paths

    async def _download(self, payload_id: str, uri: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                await self._source.download(payload_id, uri, partial)
                partial.replace(target)
                return
            except NotFound as exc:
                raise MissingFileError(f"payload {payload_id} has no file {uri!r}: {exc}") from exc
            except (PlatformError, OSError) as exc:
                log.warning("export.download.retry", payload_id=payload_id, uri=uri, attempt=attempt, error=str(exc))
                if attempt == _ATTEMPTS:
                    raise DownloadError(f"cannot download {uri!r} of payload {payload_id}: {exc}") from exc
                await asyncio.sleep(_BACKOFF_SECONDS * attempt)

    def discard(self, task: ExportTask) -> None:
        shutil.rmtree(self.task_dir(task), ignore_errors=True)

    def prune(self, older_than_seconds: float) -> int:
        """Remove spool folders of tasks untouched for that long (their outcome was never ours to report)."""
        if not self._root.is_dir():
            return 0
        limit = time.time() - older_than_seconds
        stale = [d for d in self._root.iterdir() if d.is_dir() and d.stat().st_mtime < limit]
        for folder in stale:
            shutil.rmtree(folder, ignore_errors=True)
        return len(stale)


def _relative(uri: str) -> Path:
    """The uri as a path inside the task's spool; never escapes it."""
    normal = posixpath.normpath(uri.replace("\\", "/")).lstrip("/")
    if normal in ("", ".") or normal == ".." or normal.startswith("../"):
        raise MissingFileError(f"result uri {uri!r} is not a path inside the payload")
    return Path(normal)
