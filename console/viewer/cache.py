"""VolumeCache: converted volumes on disk, one folder per series fingerprint, private to this user.

    <root>/                 0700
        <key>/              0700, key = sha256 of the series' file paths, sizes and modification times
            preview.nii     0600 (every file: the voxels are PHI)
            medium.nii ...

A file appears under its final name only once complete (written to a temporary name, then renamed), so
a reader never sees half a volume and a crash leaves only a temporary file behind, removed at the next
write. Converting is done once per key even when several requests ask at once (`lock(key)`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import structlog

log = structlog.get_logger()
KEY_CHARS = 24


def fingerprint(paths: Iterable[Path], salt: str = "") -> str:
    """A key that changes when a file is added, removed or rewritten (its size or mtime changes)."""
    digest = hashlib.sha256(salt.encode())
    for path in sorted(paths):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:KEY_CHARS]


class VolumeCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def folder(self, key: str) -> Path:
        if len(key) != KEY_CHARS or not all(c in "0123456789abcdef" for c in key):
            raise ValueError("not a cache key")
        folder = self.root / key
        _private_dir(self.root)
        _private_dir(folder)
        return folder

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def path(self, key: str, name: str) -> Path:
        return self.folder(key) / name

    def ensure(self, key: str, name: str, write: Callable[[Path], object]) -> Path:
        """The cached file `name` under `key`, calling `write(temporary_path)` first if it is missing."""
        final = self.path(key, name)
        if final.exists():
            return final
        with self.lock(key):
            if final.exists():
                return final
            temporary = final.with_name(f".{name}.{os.getpid()}.partial")
            try:
                write(temporary)
                os.chmod(temporary, 0o600)
                os.replace(temporary, final)
            finally:
                temporary.unlink(missing_ok=True)
        log.debug("viewer.cache.written", key=key, name=name)
        return final


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
