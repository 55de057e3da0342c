"""Re-encode a data set into a transfer syntax the peer accepted (pydicom + pylibjpeg decoders).

Only towards uncompressed little endian: decoding is lossless, so the SOP Instance UID is kept (the
result is the same instance; PS3.5 §8.2 allows a lossless change of encoding). A data set that cannot
be decoded is never sent: UndecodableFileError ends the task Failed with the reason. pydicom is imported
at the first transcoding, not with the adapter: most peers accept what they are sent as it is.
"""

from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING

from dicom_adapter.dicom.uids import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN
from dicom_adapter.export.errors import UndecodableFileError
from dicom_adapter.export.part10 import Part10File

if TYPE_CHECKING:
    from pydicom import Dataset

UNCOMPRESSED_FALLBACKS = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)
# What pydicom and the pylibjpeg plugins raise on a corrupt or unsupported data set.
_DECODE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, NotImplementedError, RuntimeError, OSError, EOFError)


def can_transcode(source: str, target: str) -> bool:
    """True when we know how to go from `source` to `target` without loss."""
    return target in UNCOMPRESSED_FALLBACKS and source != target


def _encoded(dataset: Dataset, target: str) -> bytes:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    buffer = DicomBytesIO()
    implicit = target == IMPLICIT_VR_LITTLE_ENDIAN
    buffer.is_little_endian = True
    buffer.is_implicit_VR = implicit
    write_dataset(buffer, dataset)
    return buffer.getvalue()


def transcode(file: Part10File, target: str) -> bytes:
    """The data set of `file` re-encoded in `target`, without file meta."""
    if not can_transcode(file.transfer_syntax, target):
        raise UndecodableFileError(f"{file.path.name}: cannot transcode {file.transfer_syntax} to {target}")
    from pydicom import dcmread
    from pydicom.uid import UID

    try:
        dataset = dcmread(BytesIO(file.path.read_bytes()))
        if UID(file.transfer_syntax).is_compressed:
            dataset.decompress(generate_instance_uid=False)
        dataset.file_meta.TransferSyntaxUID = UID(target)
        dataset.set_original_encoding(target == IMPLICIT_VR_LITTLE_ENDIAN, True)
        return _encoded(dataset, target)
    except _DECODE_ERRORS as exc:
        raise UndecodableFileError(
            f"{file.path.name}: cannot decode {file.transfer_syntax} to re-encode it as {target}: {exc}"
        ) from exc
