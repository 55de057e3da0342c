"""Errors of the DICOM layer: what a decoder raises on bytes a peer (or a file) got wrong.

DicomError
├── ProtocolError               a malformed or unexpected PDU; `reason` is the A-ABORT reason to send
│   └── PduTooLargeError        a PDU longer than we allow
└── DataSetError                a data set whose elements do not add up
    └── TruncatedDataSetError   an element (or undefined-length value) runs past the end of the data set

Each role maps them once: the SCP aborts on a ProtocolError and answers a DataSetError with a C-STORE
failure status; the export SCU turns a ProtocolError into DestinationUnavailableError.
"""

from __future__ import annotations


class DicomError(Exception):
    """Base of every error of the DICOM layer."""


class ProtocolError(DicomError):
    """The peer broke the upper-layer protocol; `reason` is the A-ABORT reason (PS3.8 9.3.8)."""

    def __init__(self, message: str, reason: int = 0) -> None:
        super().__init__(message)
        self.reason = reason


class PduTooLargeError(ProtocolError):
    """A PDU longer than the maximum we negotiated (plus slack for the header)."""


class DataSetError(DicomError):
    """A data set that cannot be walked: a malformed sequence, nesting too deep."""


class TruncatedDataSetError(DataSetError):
    """An element's declared length (or an undefined-length sequence) runs past the end of the data set."""
