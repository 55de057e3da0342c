"""Read just enough of a DICOM Part-10 file to send its data set raw: SOP class/instance, syntax, offset.

The file meta group is read with the DICOM layer's walker (dicom/part10.py); the data set itself is
never decoded on the fast path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dicom_adapter.dicom.part10 import has_prefix, meta_elements
from dicom_adapter.export.errors import UndecodableFileError

_HEAD_BYTES = 4096  # file meta is a few hundred bytes; a longer one is read again in full
_MAX_HEAD_BYTES = 1 << 20
_META_SOP_CLASS = 0x0002
_META_SOP_INSTANCE = 0x0003
_META_TRANSFER_SYNTAX = 0x0010


@dataclass(frozen=True)
class Part10File:
    """A result file ready to send: the data set starts at `dataset_offset`."""

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    dataset_offset: int

    def dataset_bytes(self) -> bytes:
        with self.path.open("rb") as fh:
            fh.seek(self.dataset_offset)
            return fh.read()


def _read_head(path: Path) -> tuple[dict[int, bytes], int]:
    size = _HEAD_BYTES
    while True:
        try:
            with path.open("rb") as fh:
                head = fh.read(size)
        except OSError as exc:
            raise UndecodableFileError(f"{path.name}: cannot read: {exc}") from exc
        if not has_prefix(head):
            raise UndecodableFileError(f"{path.name}: not a DICOM Part-10 file (no DICM prefix)")
        parsed = meta_elements(head, complete=len(head) < size)
        if parsed is not None:
            return parsed
        if size >= _MAX_HEAD_BYTES:
            raise UndecodableFileError(f"{path.name}: file meta information is too long")
        size *= 16


def read_part10(path: Path) -> Part10File:
    """Parse the file meta group; raise UndecodableFileError when `path` is not a usable Part-10 file."""
    elements, offset = _read_head(path)
    values = {key: elements.get(key, b"").rstrip(b"\x00 ").decode("ascii", "replace") for key in elements}
    missing = [
        name
        for key, name in (
            (_META_SOP_CLASS, "MediaStorageSOPClassUID"),
            (_META_SOP_INSTANCE, "MediaStorageSOPInstanceUID"),
            (_META_TRANSFER_SYNTAX, "TransferSyntaxUID"),
        )
        if not values.get(key)
    ]
    if missing:
        raise UndecodableFileError(f"{path.name}: file meta lacks {', '.join(missing)}")
    if offset >= path.stat().st_size:
        raise UndecodableFileError(f"{path.name}: no data set after the file meta information")
    return Part10File(
        path=path,
        sop_class_uid=values[_META_SOP_CLASS],
        sop_instance_uid=values[_META_SOP_INSTANCE],
        transfer_syntax=values[_META_TRANSFER_SYNTAX],
        dataset_offset=offset,
    )
