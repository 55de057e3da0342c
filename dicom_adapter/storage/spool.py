"""The spool: every instance the SCP acknowledged, as a Part-10 file, durable before the Success.

Layout::

    <root>/.incoming/<random>.part                               spare and in-flight files
    <root>/<called AE, file-system safe>/<association id>/<SOP Instance UID>.dcm

The SCP stores only instances whose SOP Instance UID is a valid UID (PS3.5 9.1: digits and dots, at
most 64 characters) and matches the data set's, so the UID itself is the file name: two instances
share a name only when they are the same instance; a re-send never replaces the earlier copy (which
may belong to a closed payload) but takes `<uid>~<8 hex>.dcm` (`placement.py`). Any other name
(files of earlier releases, recovered from `.incoming/`) becomes `_<sha256 of the UID>.dcm`, which no
UID can collide with. Everything is private to the adapter's user: directories 0700, files 0600
(instances are PHI), whatever the umask.

One flush per instance: a data set is streamed into a spare file whose directory entry was made
durable beforehand (`spares.SparePool`: made ahead, while nothing is received); its completion
record (length, checksum, association id: `completion.py`) is written into the file meta; one
`fdatasync`; then the rename to the final name, with no directory fsync. After a crash a file
still in `.incoming/` is complete (record valid: `recover()` moves it to its final name), was never
acknowledged (deleted), or is an unused spare (empty: kept). The file meta names the called and
calling AE titles and the sender's address, so `scan()` rebuilds `StoredInstance`s from the files alone.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from dicom_adapter.dicom.uids import is_valid_uid
from dicom_adapter.models import StoredInstance
from dicom_adapter.storage.errors import StoreError, UndecodableDataError
from dicom_adapter.storage.instance_file import parse_tag, read_header_file
from dicom_adapter.storage.placement import place_file
from dicom_adapter.storage.recovery import Recovery, recover_incoming
from dicom_adapter.storage.spares import DIRECTORY_MODE, SUFFIX, SparePool, fsync_directory, make_private_directory

if TYPE_CHECKING:
    from dicom_adapter.storage.settings import StorageSettings

log = structlog.get_logger()

INCOMING = ".incoming"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
SPARE_FILES = 2048  # default pool size: a burst of this many instances creates no file (spares.py)
_BUILTIN_GROUPS = {0x0020000D, 0x0020000E}  # study and series UIDs are StoredInstance fields already


def extra_group_tags(tag: int) -> tuple[int, ...]:
    """The group-by tag to read besides the UIDs: none when it is the study or series UID (read anyway)."""
    return () if tag in _BUILTIN_GROUPS else (tag,)


def safe_name(text: str) -> str:
    """A path component from an AE title, UID or task id: unsafe characters become '_', never empty or '.'.

    The one rule for every name the adapter derives from what a peer sent (spool, payload, export folders).
    """
    cleaned = _UNSAFE.sub("_", text.strip())
    return cleaned if cleaned.strip(".") else f"_{cleaned}"


def instance_file_name(sop_instance_uid: str) -> str:
    """`<uid>.dcm` for a valid UID (digits and dots: one UID, one name); otherwise a hash of it, so
    that `X/9` and `X_9` stay apart and 300 characters still make a file name."""
    if is_valid_uid(sop_instance_uid):
        return f"{sop_instance_uid}.dcm"
    digest = hashlib.sha256(sop_instance_uid.encode("utf-8", "surrogateescape")).hexdigest()
    return f"_{digest}.dcm"


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):
        return None  # not Linux: writeback simply starts at fdatasync
    function.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2  # start writeback of dirty pages in the range, do not wait


class Spool:
    """Files under `root`; `fsync=False` trades durability for speed (tests, tmpfs). `spare_files`
    sizes the pool of spare files (`spares.py`)."""

    def __init__(self, root: Path, fsync: bool = True, spare_files: int = SPARE_FILES) -> None:
        self.root = root
        self.incoming = root / INCOMING
        self._fsync = fsync
        self._ready: set[Path] = set()
        self._recovered = False
        self.spares = SparePool(self.incoming, spare_files, fsync)

    @classmethod
    def from_settings(cls, storage: StorageSettings) -> Spool:
        return cls(storage.resolved_spool_dir(), fsync=storage.fsync, spare_files=storage.spare_files)

    def prepare(self) -> int:
        """Create the directories, recover complete files a crash left in `.incoming/` (deleting those
        never acknowledged), keep the empty ones as spares; returns how many files were deleted."""
        make_private_directory(self.incoming)
        self._tighten()
        removed = self.recover().deleted
        self.spares.adopt()
        for left in self.incoming.iterdir():
            if left.stat().st_size:
                # Recovery deletes what was never acknowledged; a file it could not handle (an OSError,
                # logged as spool.recovery.failed) may be an acknowledged instance: kept for the next start.
                log.warning("spool.incoming.kept", path=str(left))
            elif left.suffix != SUFFIX:
                left.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("spool.partials.removed", count=removed)
        return removed

    def _tighten(self) -> None:
        """A spool made by an earlier release is 0755: closing the root closes everything below it."""
        for directory in (self.root, self.incoming):
            mode = directory.stat().st_mode & 0o777
            if mode == DIRECTORY_MODE:
                continue
            try:
                os.chmod(directory, DIRECTORY_MODE)
            except PermissionError:
                # Not ours (a volume's root owned by another user, shared through a group): keep serving,
                # and say so, since other users may be able to read what is received.
                log.warning("spool.permissions.unchanged", path=str(directory), mode=f"{mode:o}")

    def recover(self) -> Recovery:
        """Move every complete file of `.incoming/` to its final name, delete the incomplete ones
        (empty ones are spares: left for `prepare`).

        Runs once per `Spool`, before the SCP listens (`prepare`) or before the first `scan`,
        whichever comes first: never while files are being received.
        """
        if self._recovered or not self.incoming.is_dir():
            return Recovery()
        self._recovered = True
        recovery = recover_incoming(self.incoming, self.final_path)
        if self._fsync and recovery.directories:
            for directory in (*recovery.directories, self.incoming):
                fsync_directory(directory)
        if recovery.moved or recovery.deleted:
            log.info("spool.recovered", moved=recovery.moved, deleted=recovery.deleted, stale=recovery.stale)
        return recovery

    def create_temp(self) -> tuple[Path, int]:
        """An empty file in `.incoming/` whose directory entry is durable, opened for writing (raw fd)."""
        return self.spares.take()

    def association_dir(self, called_ae_title: str, association_id: str) -> Path:
        return self.root / safe_name(called_ae_title) / safe_name(association_id)

    def final_path(self, called_ae_title: str, association_id: str, sop_instance_uid: str) -> Path:
        return self.association_dir(called_ae_title, association_id) / instance_file_name(sop_instance_uid)

    def start_writeback(self, fd: int, offset: int, length: int) -> None:
        """Let the disk start on bytes already written, so the fdatasync at commit waits less
        (about -25 % per 512 KB instance here). A hint only: durability still comes from commit()."""
        if self._fsync and _SYNC_FILE_RANGE is not None:
            _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)

    def commit(self, fd: int, temp: Path, directory: Path, sop_instance_uid: str) -> Path:
        """`flush` then `place` under `<directory>/<uid>.dcm` (the SCP calls them apart, answering in between)."""
        self.flush(fd)
        return self.place(temp, directory / instance_file_name(sop_instance_uid))

    def flush(self, fd: int) -> None:
        """fdatasync and close `fd` (a `create_temp` file, completion record written): the one flush
        an instance costs. After it the instance is durable; the C-STORE may be answered."""
        try:
            if self._fsync:
                os.fdatasync(fd)  # data plus the size and blocks needed to read it back
        finally:
            os.close(fd)

    def place(self, temp: Path, final: Path) -> Path:
        """Rename a flushed file to its final name, with no flush: a file whose rename a crash loses is
        still complete in `.incoming/` and `recover()` moves it. A re-sent instance never replaces an
        earlier copy (`placement.py`): it gets a name of its own, which is returned."""
        directory = final.parent
        if directory not in self._ready:
            self._make_directory(directory)
        try:
            return place_file(temp, final)
        except FileNotFoundError:
            # remove() pruned the (then empty) directory between two instances of one association.
            self._ready.discard(directory)
            self._make_directory(directory)
            return place_file(temp, final)

    def _make_directory(self, directory: Path) -> None:
        # Once per association: a new directory's own entry is made durable, so a rename into it that
        # survives a crash is reachable.
        created = make_private_directory(directory)
        if self._fsync:
            for path in created:
                fsync_directory(path.parent)
        self._ready.add(directory)

    def discard(self, temp: Path, fd: int | None = None) -> None:
        """Drop a partial file (failed or aborted C-STORE); never raises."""
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        temp.unlink(missing_ok=True)

    def remove(self, path: Path) -> None:
        """Delete an instance once its payload no longer needs it; prune emptied directories."""
        path.unlink(missing_ok=True)
        for directory in (path.parent, path.parent.parent):
            if directory == self.root or self.root not in directory.parents:
                break
            try:
                directory.rmdir()
            except OSError:
                break  # not empty: another instance or an open association still uses it
            self._ready.discard(directory)

    def files(self) -> Iterator[Path]:
        """Every committed instance file, oldest association directory first."""
        if not self.root.exists():
            return
        for ae_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name != INCOMING):
            for association_dir in sorted(p for p in ae_dir.iterdir() if p.is_dir()):
                yield from sorted(association_dir.glob("*.dcm"))

    def scan(self, group_by: Callable[[str], str | None] | None = None) -> Iterator[StoredInstance]:
        """Rebuild the instances on disk at restart; `group_by(called AE)` names a custom group tag.

        Unreadable files are logged and skipped, not deleted: they were acknowledged once. Recovers
        `.incoming/` first when `prepare()` has not (the adapter scans before its SCP starts).
        """
        self.recover()
        for path in self.files():
            try:
                yield _stored_instance(path, group_by)
            except (StoreError, OSError, ValueError, EOFError, KeyError) as exc:
                log.warning("spool.scan.unreadable", path=str(path), error=str(exc))


def _stored_instance(path: Path, group_by: Callable[[str], str | None] | None) -> StoredInstance:
    # pydicom only now, with a file to read: an adapter restarted on an empty spool never loads it.
    from pydicom.errors import InvalidDicomError
    from pydicom.filereader import read_file_meta_info

    try:
        meta = read_file_meta_info(path)  # group 0002 only: dcmread would inflate a whole deflated data set
    except InvalidDicomError as exc:
        raise UndecodableDataError(f"not a DICOM file: {exc}") from exc
    called = str(meta.get("ReceivingApplicationEntityTitle", "") or path.parent.parent.name).strip()
    tag_text = group_by(called) if group_by is not None else None
    extra = () if tag_text is None else extra_group_tags(parse_tag(tag_text))
    header = read_header_file(path, extra)
    address = str(meta.get("SendingPresentationAddress", "") or "")
    stat = path.stat()
    return StoredInstance(
        path=path,
        called_ae_title=called,
        calling_ae_title=str(meta.get("SourceApplicationEntityTitle", "") or "").strip(),
        calling_host=address.removeprefix("dicom://").rpartition(":")[0],
        association_id=path.parent.name,
        sop_class_uid=str(meta.get("MediaStorageSOPClassUID", "") or header.sop_class_uid),
        sop_instance_uid=header.sop_instance_uid,
        study_instance_uid=header.study_instance_uid,
        series_instance_uid=header.series_instance_uid,
        transfer_syntax=str(meta.get("TransferSyntaxUID", "")),
        size=stat.st_size,
        received_at=stat.st_mtime,
        extra_tags=header.extra_tags,
    )
