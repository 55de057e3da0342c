"""Errors of storing one instance; the SCP answers each with a C-STORE failure status (`scp/status.py`)
and the association goes on. The SCP adds the refusals that only a C-STORE request can earn
(`scp/errors.py`); the element walker's own errors are the DICOM layer's (`dicom/errors.py`).

StoreError
├── OutOfResourcesError     disk full or below the watermark
├── DataSetMismatchError    Study/Series/SOP Instance UID or SOP Class UID missing, or not the command's
├── UndecodableDataError    the data set cannot be parsed
└── StoreProcessingError    anything else while writing or committing the instance
"""

from __future__ import annotations


class StoreError(Exception):
    """One instance could not be stored."""


class OutOfResourcesError(StoreError):
    """The disk is full or free space is below the configured watermark."""


class DataSetMismatchError(StoreError):
    """A required attribute (Study, Series, SOP Instance or SOP Class UID) is missing from the data set,
    or its SOP Class UID is not the command's Affected SOP Class UID."""


class UndecodableDataError(StoreError):
    """The data set could not be decoded in the negotiated transfer syntax."""


class StoreProcessingError(StoreError):
    """Any other failure while writing or committing the instance."""
