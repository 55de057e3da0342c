"""`LocalFiles`: payload files handed over by hard link through a file system shared with the caller.

    Adopt:  caller's file under a configured directory --link--> <payload>/input/<name>   (no bytes copied)
    Locate: <payload>/<name> --> its absolute path, for a caller that links it out itself

A link shares the caller's inode, so the caller must not change a file after handing it over (the DICOM
adapter's spool files are complete and only ever deleted), and must have made it durable (the adapter
fdatasyncs each instance; the platform does not sync file contents it did not write). Each file is
linked from its folder opened and checked once open (a folder swapped for a symlink cannot lead out of
the configured directories) to a temporary name, checked to be a regular file, and renamed over its
name, so a retry replaces what an interrupted call left and no caller-chosen name ever holds a symlink.
The folders, up to the payloads root, are fsynced before the answer: an adopted file survives a crash
once the caller heard OK. Each folder is resolved once per call, not once per file.
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
        base = await self._store.upload_base(payload_id)
        folder = self._store.folder(payload_id)
        plan, sizes = await asyncio.to_thread(self._adopt, base, folder, files)
        prefix = base.relative_to(folder).as_posix()
        return [LocalFile(name if prefix == "." else f"{prefix}/{name}", target, size)
                for (name, _), (target, _), size in zip(files, plan, sizes, strict=True)]

    def _adopt(self, base: Path, folder: Path, files: Sequence[tuple[str, str]]
               ) -> tuple[list[tuple[Path, Path]], list[int]]:
        """In one worker thread: check everything, then link everything (500 files: 12 ms of link calls)."""
        plan = self._plan(base, files)
        return plan, _link_all(plan, folder, self._sources)

    def _plan(self, base: Path, files: Sequence[tuple[str, str]]) -> list[tuple[Path, Path]]:
        """(target, source) pairs, every folder resolved once (a study has a few folders, many files)."""
        for name, _source in files:
            names.check(name)
        real_base = base.resolve()
        targets: dict[Path, Path] = {}
        sources: dict[str, Path] = {}
        plan = []
        for name, text in files:
            target = base / name
            if target.parent not in targets:
                targets[target.parent] = target.parent.resolve()
                if not targets[target.parent].is_relative_to(real_base):
                    raise InvalidArgument(f"file name {name!r} resolves outside the payload folder")
            plan.append((target, self._source(text, sources)))
        return plan

    async def locate(self, payload_id: str, wanted: Sequence[str]) -> list[LocalFile]:
        payload = await self._store.get(payload_id)
        found = []
        for name in wanted:
            path = self._store.locate(payload, names.from_reference(name))
            found.append(LocalFile(name, path.resolve(), path.stat().st_size))
        return found

    def _source(self, text: str, folders: dict[str, Path]) -> Path:
        """The checked source path; `folders` caches each source folder's resolved path."""
        path = Path(text)
        if not path.is_absolute() or path.name in ("", ".", ".."):
            raise InvalidArgument(f"local file {text!r} is not an absolute path of a file")
        # The folders are resolved; the file itself is not, so a symlink there is linked as a symlink and
        # refused below instead of being followed out of the directory.
        parent = str(path.parent)
        if parent not in folders:
            folders[parent] = path.parent.resolve()
        real = folders[parent] / path.name
        if not any(real.is_relative_to(source) for source in self._sources):
            raise InvalidArgument(f"local file {text!r} is not under a directory this platform takes files from "
                                  "(local_files.directories)")
        return real


def _link_all(plan: Sequence[tuple[Path, Path]], folder: Path, sources: Sequence[Path]) -> list[int]:
    parents = {target.parent for target, _ in plan}
    for parent in parents:
        parent.mkdir(parents=True, exist_ok=True)
    handles: dict[Path, int] = {}
    try:
        for _, source in plan:
            if source.parent not in handles:
                handles[source.parent] = _open_source_folder(source.parent, sources)
        sizes = [_link(target, handles[source.parent], source) for target, source in plan]
    finally:
        for handle in handles.values():
            os.close(handle)
    _sync_folders(parents, folder)
    return sizes


def _open_source_folder(path: Path, sources: Sequence[Path]) -> int:
    """The folder, opened and checked again once open: a folder swapped for a symlink between the check of
    its path and the link would otherwise lead the link out of the configured directories."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise NotFound(f"local folder {str(path)!r} does not exist") from None
    except OSError as exc:
        raise InvalidArgument(f"local folder {str(path)!r} cannot be opened: {exc.strerror}") from None
    opened = Path(os.readlink(f"/proc/self/fd/{handle}"))
    if not any(opened.is_relative_to(source) for source in sources):
        os.close(handle)
        raise InvalidArgument(f"local folder {str(path)!r} is not under a directory this platform takes files "
                              "from (local_files.directories)")
    return handle


def _link(target: Path, folder: int, source: Path) -> int:
    """Link `source` (its name in the opened `folder`) to a temporary name, check it, rename it over
    `target`: no other name ever holds what a caller sent, a symlink included, even for a moment."""
    temp = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    try:
        try:
            os.link(source.name, temp, src_dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            raise NotFound(f"local file {str(source)!r} does not exist") from None
        except OSError as exc:
            raise Conflict(_refusal(source, exc)) from None
        info = os.lstat(temp)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgument(f"local file {str(source)!r} is not a regular file")
        os.replace(temp, target)
        return info.st_size
    finally:
        temp.unlink(missing_ok=True)


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
    todo: set[Path] = {folder.parent}  # the payloads root: the payload's own folder entry (made by Create)
    for parent in parents:
        todo.add(parent)
        todo.update(p for p in parent.parents if p.is_relative_to(folder))
    for path in sorted(todo):
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
