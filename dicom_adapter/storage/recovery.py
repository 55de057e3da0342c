"""Restart after a crash: what to do with each file left in the spool's `.incoming/`.

A file there is one of:

- an unused spare (empty) -> left alone: `spares.SparePool.adopt` reuses it;
- a data set being received when the process died, or one whose `fdatasync` never completed
  (completion record missing, or length / checksum not matching what is on disk) -> never acknowledged:
  delete;
- a complete file whose rename did not reach the disk (record valid) -> it may have been
  acknowledged: move it to its final name (beside an earlier copy, never over it), unless a newer copy
  of the same instance (a re-send, later `received_ns`) is there already;
- a file that also has its final name (a `link` + `unlink` placement cut by the crash) -> drop this name.

Decisions are `decide()`, pure; `recover_incoming()` applies them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from dicom_adapter.storage.completion import Completion, read_completion
from dicom_adapter.storage.placement import is_linked_elsewhere, place_file
from dicom_adapter.storage.spares import make_private_directory

log = structlog.get_logger()

FinalPath = Callable[[str, str, str], Path]  # (called AE, association id, SOP Instance UID) -> final path


class Decision(enum.Enum):
    MOVE = "move"  # complete: give it its final name
    DELETE = "delete"  # never acknowledged
    STALE = "stale"  # complete, but a newer copy of the instance is in place: delete


@dataclass
class Recovery:
    """What `recover_incoming` did; `directories` had entries added (to be fsync'd)."""

    moved: int = 0
    deleted: int = 0
    stale: int = 0
    directories: set[Path] = field(default_factory=set)


def decide(completion: Completion | None, existing: Completion | None) -> Decision:
    """The fate of one `.incoming/` file, from its record and that of the file at its final name."""
    if completion is None or not completion.sop_instance_uid or not completion.association_id:
        return Decision.DELETE
    if existing is not None and existing.received_ns > completion.received_ns:
        return Decision.STALE
    return Decision.MOVE


def recover_incoming(incoming: Path, final_path: FinalPath) -> Recovery:
    """Apply `decide` to every file of `incoming`. Blocking; call before receiving starts."""
    recovery = Recovery()
    for path in sorted(incoming.iterdir()):
        try:
            _recover_one(path, final_path, recovery)
        except OSError as exc:
            log.warning("spool.recovery.failed", path=str(path), error=exc.strerror)
    return recovery


def _recover_one(path: Path, final_path: FinalPath, recovery: Recovery) -> None:
    if path.stat().st_size == 0:
        return  # a spare, never written to
    completion = read_completion(path)
    final = None
    if completion is not None and completion.sop_instance_uid and completion.association_id:
        final = final_path(completion.called_ae_title, completion.association_id, completion.sop_instance_uid)
    # Placed by link + unlink with the crash in between: it has its name (without a record to find the name
    # by, its other name is taken to be it). Linked elsewhere but not under its name (a platform's payload
    # holding it by hard link while the placement was lost) it is placed as any complete file, not dropped.
    if is_linked_elsewhere(path) and (final is None or (final.exists() and path.samefile(final))):
        path.unlink()
        recovery.moved += 1
        return
    existing = read_completion(final, verify=False) if final is not None and final.exists() else None
    decision = decide(completion, existing)
    if decision is Decision.MOVE and final is not None and completion is not None:
        created = make_private_directory(final.parent)
        place_file(path, final)  # beside an earlier copy, never over it (it may be in a closed payload)
        recovery.directories.update({final.parent, *(p.parent for p in created)})
        recovery.moved += 1
        # The path names the SOP Instance UID: not at INFO.
        log.info("spool.recovery.moved", association_id=completion.association_id)
        return
    path.unlink(missing_ok=True)
    if decision is Decision.STALE:
        recovery.stale += 1
    else:
        recovery.deleted += 1
