"""Re-encode a data set into a transfer syntax the peer accepted (pydicom + pylibjpeg decoders).

Only towards uncompressed little endian: decoding is lossless, so the SOP Instance UID is kept (the
result is the same instance; PS3.5 §8.2 allows a lossless change of encoding). A data set that cannot
be decoded is never sent: UndecodableFileError ends the task Failed with the reason.
"""

from __future__ import annotations

from io import BytesIO

import pydicom
from pydicom.filewriter import write_dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_adapter.export.errors import UndecodableFileError
from dicom_adapter.export.part10 import Part10File

UNCOMPRESSED_FALLBACKS = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
# What pydicom and the pylibjpeg plugins raise on a corrupt or unsupported data set.
_DECODE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, NotImplementedError, RuntimeError, OSError, EOFError)


def can_transcode(source: str, target: str) -> bool:
    """True when we know how to go from `source` to `target` without loss."""
    return target in UNCOMPRESSED_FALLBACKS and source != target


def _encoded(dataset: pydicom.Dataset, target: str) -> bytes:
    buffer = pydicom.filebase.DicomBytesIO()
    implicit = target == ImplicitVRLittleEndian
    buffer.is_little_endian = True
    buffer.is_implicit_VR = implicit
    write_dataset(buffer, dataset)
    return buffer.getvalue()


def transcode(file: Part10File, target: str) -> bytes:
    """The data set of `file` re-encoded in `target`, without file meta."""
    if not can_transcode(file.transfer_syntax, target):
        raise UndecodableFileError(f"{file.path.name}: cannot transcode {file.transfer_syntax} to {target}")
    try:
        dataset = pydicom.dcmread(BytesIO(file.path.read_bytes()))
        if UID(file.transfer_syntax).is_compressed:
            dataset.decompress(generate_instance_uid=False)
        dataset.file_meta.TransferSyntaxUID = UID(target)
        dataset.set_original_encoding(target == ImplicitVRLittleEndian, True)
        return _encoded(dataset, target)
    except _DECODE_ERRORS as exc:
        raise UndecodableFileError(
            f"{file.path.name}: cannot decode {file.transfer_syntax} to re-encode it as {target}: {exc}"
        ) from exc
