"""`LocalFiles`: payload files handed over by hard link through a file system shared with the caller.

    Adopt:  caller's file under a configured directory --link--> <payload>/input/<name>   (no bytes copied)
    Locate: <payload>/<name> --> its absolute path, for a caller that links it out itself

A link shares the caller's inode, so the caller must not change a file after handing it over (the DICOM
adapter's spool files are complete and only ever deleted). Each file is linked to a temporary name and
renamed over its target, as Upload does, so a retried Adopt replaces what an interrupted one left; the
folders are fsynced before the answer, so an adopted file survives a crash once the caller heard OK.
Refusals a caller can work around by uploading (another file system, the OS forbids the link) are
`Conflict`; a source outside the configured directories, or not a regular file, is `InvalidArgument`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from platform_server.errors import Conflict, InvalidArgument, NotFound
from platform_server.payloads import names
from platform_server.payloads.store import PayloadStore

TEMP_PREFIX = ".upload-"  # what Upload uses too: listings skip it and names may not start with it


@dataclass(frozen=True)
class LocalFile:
    name: str
    path: Path
    size: int


class LocalFiles:
    def __init__(self, store: PayloadStore, sources: Sequence[Path]) -> None:
        # Resolved once: a configured directory that is itself a symlink still counts as what it points to.
        self._sources = [source.resolve() for source in sources]
        self._store = store

    async def adopt(self, payload_id: str, files: Sequence[tuple[str, str]]) -> list[LocalFile]:
        """Link every (name, source path) into the payload's input; all are checked before any is linked."""
        for name, _source in files:
            names.check(name)
        base = await self._store.upload_base(payload_id)
        plan = [(names.inside(base, name), self._source(path)) for name, path in files]
        sizes = await asyncio.to_thread(_link_all, plan, self._store.folder(payload_id))
        folder = self._store.folder(payload_id)
        return [LocalFile(target.relative_to(folder).as_posix(), target, size)
                for (target, _), size in zip(plan, sizes, strict=True)]

    async def locate(self, payload_id: str, wanted: Sequence[str]) -> list[LocalFile]:
        payload = await self._store.get(payload_id)
        found = []
        for name in wanted:
            path = self._store.locate(payload, names.from_reference(name))
            found.append(LocalFile(name, path.resolve(), path.stat().st_size))
        return found

    def _source(self, text: str) -> Path:
        path = Path(text)
        if not path.is_absolute() or path.name in ("", ".", ".."):
            raise InvalidArgument(f"local file {text!r} is not an absolute path of a file")
        # The folders are resolved; the file itself is not, so a symlink there is linked as a symlink and
        # refused below instead of being followed out of the directory.
        real = path.parent.resolve() / path.name
        if not any(real.is_relative_to(source) for source in self._sources):
            raise InvalidArgument(f"local file {text!r} is not under a directory this platform takes files from "
                                  "(local_files.directories)")
        return real


def _link_all(plan: Sequence[tuple[Path, Path]], folder: Path) -> list[int]:
    sizes = [_link(target, source) for target, source in plan]
    _sync_folders({target.parent for target, _ in plan}, folder)
    return sizes


def _link(target: Path, source: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    try:
        os.link(source, temp, follow_symlinks=False)
    except FileNotFoundError:
        raise NotFound(f"local file {str(source)!r} does not exist") from None
    except OSError as exc:
        raise Conflict(_refusal(source, exc)) from None
    try:
        info = os.lstat(temp)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgument(f"local file {str(source)!r} is not a regular file")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return info.st_size


def _refusal(source: Path, exc: OSError) -> str:
    if exc.errno == errno.EXDEV:
        why = "it is on another file system than the payloads"
    elif exc.errno in (errno.EPERM, errno.EACCES):
        why = "the platform may not link it (owner or permissions)"
    else:
        why = exc.strerror or str(exc)
    return f"cannot link local file {str(source)!r}: {why}; upload it instead"


def _sync_folders(parents: set[Path], folder: Path) -> None:
    """fsync each folder a link went into and every new folder above it, up to the payload's own."""
    todo: set[Path] = set()
    for parent in parents:
        todo.add(parent)
        todo.update(p for p in parent.parents if p.is_relative_to(folder))
    for path in sorted(todo):
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
