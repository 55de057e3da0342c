"""Free-space watermark of the spool's file system (Clara 0.8's StorageInfoProvider, done per call).

Reserved space = max(total x (1 - watermark_percent / 100), reserve_space_gb GiB). Below it the SCP
refuses new associations (transient) and answers C-STOREs with Out of Resources.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_GIB = 1024**3


@dataclass(frozen=True)
class DiskUsage:
    """One statvfs reading of the spool's file system, in bytes."""

    total: int
    available: int  # for unprivileged writers (f_bavail), which is what we are
    reserved: int

    @property
    def has_room(self) -> bool:
        return self.available > self.reserved


class DiskGuard:
    """Answers "may we accept more data?" for the file system holding `path` (statvfs: ~2 us a call)."""

    def __init__(self, path: Path, watermark_percent: float = 85.0, reserve_space_gb: float = 5.0) -> None:
        self._path = path
        self._free_fraction = 1.0 - watermark_percent / 100.0
        self._reserve = int(reserve_space_gb * _GIB)

    def usage(self) -> DiskUsage:
        """Read the file system now; a missing spool directory is measured at its nearest parent."""
        path = self._path
        while not path.exists() and path != path.parent:
            path = path.parent
        stats = os.statvfs(path)
        total = stats.f_blocks * stats.f_frsize
        return DiskUsage(
            total=total,
            available=stats.f_bavail * stats.f_frsize,
            reserved=max(int(total * self._free_fraction), self._reserve),
        )

    def has_room(self, incoming: int = 0) -> bool:
        """True when `incoming` more bytes would still leave the reserved space free."""
        usage = self.usage()
        return usage.available - incoming > usage.reserved
