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
import contextlib
import errno
import os
import stat
import uuid
from collections.abc import Callable, Sequence
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
        """In one worker thread: check everything, then link everything (500 files: 12 ms in all)."""
        plan = self._plan(base, files)
        return plan, _link_all(plan, folder, self._sources)

    def _plan(self, base: Path, files: Sequence[tuple[str, str]]) -> list[tuple[Path, Path]]:
        """(target, source) pairs, every folder resolved once (a study has a few folders, many files)."""
        for name, _source in files:
            names.check(name)
        real_base = base.resolve()
        targets: dict[str, Path] = {}  # a name's folder part -> that folder under `base`, checked
        sources: dict[str, Path] = {}
        plan = []
        for name, text in files:
            parent, _, leaf = name.rpartition("/")
            if parent not in targets:
                targets[parent] = base / parent if parent else base
                if not targets[parent].resolve().is_relative_to(real_base):
                    raise InvalidArgument(f"file name {name!r} resolves outside the payload folder")
            plan.append((targets[parent] / leaf, self._source(text, sources)))
        return plan

    async def locate(self, payload_id: str, wanted: Sequence[str]) -> list[LocalFile]:
        payload = await self._store.get(payload_id)
        found = []
        for name in wanted:
            path = self._store.locate(payload, names.from_reference(name))
            found.append(LocalFile(name, path.resolve(), path.stat().st_size))
        return found

    def _source(self, text: str, folders: dict[str, Path]) -> Path:
        """The checked source path; `folders` caches each source folder's resolved path, or why it is refused."""
        parent, _, leaf = text.rpartition("/")
        if not text.startswith("/") or leaf in ("", ".", ".."):
            raise InvalidArgument(f"local file {text!r} is not an absolute path of a file")
        # The folders are resolved; the file itself is not, so a symlink there is linked as a symlink and
        # refused below instead of being followed out of the directory.
        if parent not in folders:
            real = Path(parent or "/").resolve()
            if not any(real.is_relative_to(source) for source in self._sources):
                raise InvalidArgument(f"local file {text!r} is not under a directory this platform takes files "
                                      "from (local_files.directories)")
            folders[parent] = real
        return folders[parent] / leaf


def _link_all(plan: Sequence[tuple[Path, Path]], folder: Path, sources: Sequence[Path]) -> list[int]:
    """Link every (target, source), folder by folder: one source and one target folder open at a time
    (a study of single-image series has as many folders as files), each target folder fsynced once."""
    parents = {target.parent for target, _ in plan}
    for parent in parents:
        parent.mkdir(parents=True, exist_ok=True)
    temp = f"{TEMP_PREFIX}{uuid.uuid4().hex}-"  # this call's own: a concurrent Adopt has another
    sizes = [0] * len(plan)
    opened: dict[str, tuple[Path, int]] = {}  # "source", "target": the folder open now and its descriptor
    try:
        for n in sorted(range(len(plan)), key=lambda n: (plan[n][0].parent, plan[n][1].parent)):
            target, source = plan[n]
            target_folder = _folder(opened, "target", target.parent, _open_target_folder)
            source_folder = _folder(opened, "source", source.parent, lambda path: _open_source_folder(path, sources))
            sizes[n] = _link(source_folder, source, target_folder, target.name, f"{temp}{n}")
        _let_go(opened, "target")
    finally:
        for _, handle in opened.values():
            os.close(handle)
    _sync_folders(parents, folder)
    return sizes


def _folder(opened: dict[str, tuple[Path, int]], role: str, path: Path, opener: Callable[[Path], int]) -> int:
    """The descriptor of `path`, the `role` folder open now: the one before is let go first."""
    if role in opened and opened[role][0] == path:
        return opened[role][1]
    _let_go(opened, role)
    handle = opener(path)
    opened[role] = (path, handle)
    return handle


def _let_go(opened: dict[str, tuple[Path, int]], role: str) -> None:
    """Close the `role` folder; a target folder is fsynced first (its new entries made durable)."""
    if role not in opened:
        return
    _, handle = opened.pop(role)
    try:
        if role == "target":
            os.fsync(handle)
    finally:
        os.close(handle)


def _open_target_folder(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise InvalidArgument(f"payload folder {path.name!r} cannot be opened: {exc.strerror}") from None


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


def _link(source_folder: int, source: Path, target_folder: int, name: str, temp: str) -> int:
    """Link `source` (its name in the opened `source_folder`) to `temp` in `target_folder`, check it, rename
    it over `name`: no other name ever holds what a caller sent, a symlink included, even for a moment."""
    try:
        os.link(source.name, temp, src_dir_fd=source_folder, dst_dir_fd=target_folder, follow_symlinks=False)
    except FileNotFoundError:
        raise NotFound(f"local file {str(source)!r} does not exist") from None
    except OSError as exc:
        raise Conflict(_refusal(source, exc)) from None
    try:
        info = os.stat(temp, dir_fd=target_folder, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgument(f"local file {str(source)!r} is not a regular file")
        os.replace(temp, name, src_dir_fd=target_folder, dst_dir_fd=target_folder)
    finally:
        # Gone after the rename, except when `name` already was this inode (a retry): rename then does
        # nothing, and the temporary name would stay as a second one.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=target_folder)
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
    """fsync every new folder above the linked-into ones (fsynced already), up to the payload's own, and
    the payloads root: the payload's own folder entry (made by Create)."""
    todo: set[Path] = {folder.parent}
    for parent in parents:
        todo.update(p for p in parent.parents if p.is_relative_to(folder))
    for path in sorted(todo - parents):
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
