"""The spooled instance file: the Part-10 preamble and file meta the SCP prepends to a received data set
(`encode_file_meta`), and the header values (UIDs, grouping tag) read back from the data set's first
bytes while it is received (`read_header`) or from the file at restart (`read_header_file`).

The file meta ends with the completion record's placeholder (`completion.py`); the data set after it
stays byte for byte as received.

pydicom is imported only where it is used: a plain element walk reads the UIDs of ordinary data sets, so
an adapter that never meets an odd one never loads pydicom (and numpy through it: 40 MB of its memory).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from dicom_adapter.dicom.elements import top_level_scan
from dicom_adapter.dicom.part10 import PREFIX, encode_element
from dicom_adapter.dicom.uids import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)
from dicom_adapter.storage.completion import (
    PLACEHOLDER,
    PRIVATE_CREATOR_TAG,
    PRIVATE_CREATOR_UID,
    PRIVATE_INFORMATION_TAG,
    read_meta,
)
from dicom_adapter.storage.errors import DataSetMismatchError, UndecodableDataError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset
    from pydicom.tag import BaseTag

SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018
STUDY_INSTANCE_UID = 0x0020000D
SERIES_INSTANCE_UID = 0x0020000E
_REQUIRED = {STUDY_INSTANCE_UID: "Study", SERIES_INSTANCE_UID: "Series", SOP_INSTANCE_UID: "SOP Instance"}
_UNDEFINED_LENGTH = 0xFFFFFFFF
_FAST_TAGS = {*_REQUIRED, SOP_CLASS_UID}
# A deflated data set is inflated only as far as its header: from 64 KB, growing 4x, up to this much. pydicom
# would inflate all of it in memory (a 2 GB deflated instance would cost 2 GB of RAM).
_INFLATE_FIRST = 64 * 1024
_INFLATE_LIMIT = 16 * 1024 * 1024
_READ = 256 * 1024


@dataclass(frozen=True)
class FileMeta:
    """What goes into group 0002 of a spooled file."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    implementation_class_uid: str
    implementation_version_name: str
    calling_ae_title: str  # (0002,0016) Source AE Title
    called_ae_title: str  # (0002,0018) Receiving AE Title: lets Spool.scan() rebuild the instance losslessly
    sending_address: str  # (0002,0027) Sending Presentation Address, dicom://host:port


@dataclass(frozen=True)
class Header:
    """Values read from the start of a data set."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    extra_tags: dict[str, str] = field(default_factory=dict)
    walked: int = 0  # where the UID walk stopped: the top-level elements before it are whole (scp/checks.py)


def encode_file_meta(meta: FileMeta) -> bytes:
    """128-byte preamble, "DICM" and the explicit VR little endian group 0002 (PS3.10 7.1).

    Its last `completion.RECORD_SIZE` bytes are the (zeroed) completion record, which the receiver
    overwrites in place once the data set is complete.
    """
    body = b"".join(
        (
            encode_element(0x00020001, b"OB", b"\x00\x01", b""),
            encode_element(0x00020002, b"UI", meta.sop_class_uid.encode("ascii"), b"\0"),
            encode_element(0x00020003, b"UI", meta.sop_instance_uid.encode("ascii"), b"\0"),
            encode_element(0x00020010, b"UI", meta.transfer_syntax.encode("ascii"), b"\0"),
            encode_element(0x00020012, b"UI", meta.implementation_class_uid.encode("ascii"), b"\0"),
            encode_element(0x00020013, b"SH", meta.implementation_version_name[:16].encode("ascii"), b" "),
            encode_element(0x00020016, b"AE", meta.calling_ae_title.encode("ascii", "replace"), b" "),
            encode_element(0x00020018, b"AE", meta.called_ae_title.encode("ascii", "replace"), b" "),
            encode_element(0x00020027, b"UR", meta.sending_address.encode("ascii", "replace"), b" "),
            encode_element(PRIVATE_CREATOR_TAG, b"UI", PRIVATE_CREATOR_UID.encode("ascii"), b"\0"),
            encode_element(PRIVATE_INFORMATION_TAG, b"OB", PLACEHOLDER, b""),  # must stay last: written in place
        )
    )
    group_length = encode_element(0x00020000, b"UL", struct.pack("<I", len(body)), b"")
    return PREFIX + group_length + body


def parse_tag(text: str) -> int:
    """ "GGGG,EEEE" (parentheses and spaces allowed) -> int tag."""
    group, _, element = text.strip("() ").partition(",")
    return (int(group, 16) << 16) | int(element, 16)


def format_tag(tag: int) -> str:
    return f"{tag >> 16:04X},{tag & 0xFFFF:04X}"


def _uid(dataset: Dataset, tag: int) -> str:
    """A UID from its raw bytes: converting to a DataElement costs more than the whole parse."""
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import BaseTag

    element = dataset.get_item(BaseTag(tag))
    if isinstance(element, RawDataElement):
        return element.value.decode("ascii", "replace").strip("\0 ") if element.value else ""
    return _text(dataset, tag)


def _text(dataset: Dataset, tag: int) -> str:
    from pydicom.tag import BaseTag

    element = dataset.get(BaseTag(tag))
    if element is None or element.value is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\0 ")
    return str(value).strip("\0 ")


def _header(dataset: Dataset, extra: tuple[int, ...]) -> Header:
    missing = [name for tag, name in _REQUIRED.items() if not _uid(dataset, tag)]
    if missing:
        raise DataSetMismatchError(f"missing {', '.join(missing)} UID")
    return Header(
        study_instance_uid=_uid(dataset, STUDY_INSTANCE_UID),
        series_instance_uid=_uid(dataset, SERIES_INSTANCE_UID),
        sop_instance_uid=_uid(dataset, SOP_INSTANCE_UID),
        sop_class_uid=_uid(dataset, SOP_CLASS_UID),
        extra_tags={format_tag(tag): _text(dataset, tag) for tag in extra},
    )


def _check_lengths(dataset: Dataset) -> None:
    """pydicom reads a value cut short by the end of the data without complaint; we do complain."""
    from pydicom.dataelem import RawDataElement

    for element in dataset.elements():
        if not isinstance(element, RawDataElement) or not isinstance(element.value, bytes):
            continue
        if element.length != _UNDEFINED_LENGTH and len(element.value) < element.length:
            raise UndecodableDataError(f"element {format_tag(int(element.tag))} is longer than the data set")


def read_header(head: bytes, complete: bool, transfer_syntax: str, extra: tuple[int, ...] = ()) -> Header | None:
    """Header values from the first bytes of a data set, or None when `head` cannot tell (deflated,
    or cut before the tags we need): the caller then reads the spooled file with `read_header_file`.
    """
    if transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        return None
    fast = None if extra or transfer_syntax == EXPLICIT_VR_BIG_ENDIAN else _fast_header(head, transfer_syntax)
    if fast is not None:
        return fast
    from pydicom.filereader import read_dataset

    last = max((SERIES_INSTANCE_UID, *extra))
    stopped = False

    def stop_when(tag: BaseTag, vr: str | None, length: int) -> bool:
        nonlocal stopped
        stopped = bool(tag > last)
        return stopped

    try:
        dataset = read_dataset(
            BytesIO(head),
            is_implicit_VR=transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN,
            is_little_endian=transfer_syntax != EXPLICIT_VR_BIG_ENDIAN,
            stop_when=stop_when,
        )
        if not (stopped or complete):
            return None  # the last value read may be cut short at the end of `head`
        if not stopped:
            _check_lengths(dataset)
        return _header(dataset, extra)
    except DataSetMismatchError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt input
        if not complete:
            return None
        raise UndecodableDataError(f"cannot decode data set: {exc}") from exc


def _fast_header(head: bytes, transfer_syntax: str) -> Header | None:
    """The UIDs by a plain element walk (`elements.py`), or None: then pydicom reads them (and words
    the errors)."""
    scanned = top_level_scan(head, transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN, _FAST_TAGS, SERIES_INSTANCE_UID)
    if scanned is None:
        return None
    values, walked = scanned
    uids = {tag: value.decode("ascii", "replace").strip("\0 ") for tag, value in values.items()}
    if not all(uids.get(tag) for tag in _REQUIRED):
        return None
    return Header(
        study_instance_uid=uids[STUDY_INSTANCE_UID],
        series_instance_uid=uids[SERIES_INSTANCE_UID],
        sop_instance_uid=uids[SOP_INSTANCE_UID],
        sop_class_uid=uids.get(SOP_CLASS_UID, ""),
        walked=walked,
    )


def read_header_file(path: Path, extra: tuple[int, ...] = ()) -> Header:
    """Header values from a spooled Part-10 file (any transfer syntax, deflated included); memory stays
    bounded whatever the size of the file."""
    from pydicom import dcmread

    deflated = _deflated_offset(path)
    if deflated is not None:
        return _deflated_header(path, deflated, extra)
    try:
        dataset = dcmread(path, stop_before_pixels=True, specific_tags=[*_REQUIRED, SOP_CLASS_UID, *extra])
        return _header(dataset, extra)  # pydicom converts values when read: a bad VR raises here
    except DataSetMismatchError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on a corrupt file (InvalidDicomError,
        # NotImplementedError for an unknown VR, ...): found by tests/security/test_fuzz_dataset.py
        raise UndecodableDataError(f"cannot decode data set: {exc}") from exc


def _deflated_offset(path: Path) -> int | None:
    """Where the data set starts when `path` is one of our files holding a deflated data set, else None."""
    try:
        offset, elements = read_meta(path)
    except (ValueError, struct.error, OSError):
        return None  # not our meta: pydicom reads it (and words the error)
    syntax = elements.get(0x0010, b"").decode("ascii", "replace").strip("\0 ")  # Transfer Syntax UID (0002,0010)
    return offset if syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN else None


def _deflated_header(path: Path, offset: int, extra: tuple[int, ...]) -> Header:
    want = _INFLATE_FIRST
    while True:
        chunks = _inflated(path, offset)
        head, complete = bytearray(), True
        for chunk in chunks:
            head += chunk
            if len(head) >= want:
                complete = False
                break
        header = read_header(bytes(head), complete, EXPLICIT_VR_LITTLE_ENDIAN, extra)
        if header is not None:  # read_header raises rather than return None for a complete data set
            for _ in chunks:  # the rest is inflated and dropped: a cut stream is refused
                pass
            return header
        if want >= _INFLATE_LIMIT:
            limit = _INFLATE_LIMIT >> 20
            raise UndecodableDataError(f"UIDs not found in the first {limit} MB of the inflated data set")
        want *= 4


def _inflated(path: Path, offset: int) -> Iterator[bytes]:
    """The raw-deflated data set at `offset`, inflated at most `_READ` bytes at a time. A stream that
    ends before its end marker was cut short: the instance is refused, as pydicom would."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        with path.open("rb") as file:
            file.seek(offset)
            while not inflater.eof:
                data = inflater.unconsumed_tail or file.read(_READ)
                if not data:
                    raise UndecodableDataError("cannot decode data set: the deflated data set is cut short")
                yield inflater.decompress(data, _READ)
    except (zlib.error, OSError) as exc:
        raise UndecodableDataError(f"cannot decode data set: {exc}") from exc
