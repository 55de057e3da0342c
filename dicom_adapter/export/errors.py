"""Exceptions of the export agent.

    ExportError
    ├── PermanentExportError          task ends Failed (retryLater false) with this message as the reason
    │   ├── InvalidParametersError    `parameters` is not a JSON string / list of destination names
    │   ├── UnknownDestinationError   no destination configured under that name
    │   ├── UndecodableFileError      not a DICOM Part-10 file, or it cannot be transcoded
    │   └── MissingFileError          the payload has no such file (deleted, or a wrong uri)
    └── RetryableExportError          task goes back to Pending (retryLater true); destination backs off
        ├── DestinationUnavailableError   connect failed, association rejected/aborted, timeouts
        │   ├── AssociationRejectedError  the destination answered A-ASSOCIATE-RJ
        │   └── DestinationTlsError       DICOM TLS failed: certificate not trusted, wrong name, client
        │                                 certificate refused, no TLS on that port, unreadable TLS files
        ├── DestinationBusyError          too many tasks already queued for that destination here
        ├── StoreRefusedError             the peer answered a C-STORE with a failure status
        ├── DownloadError                 the platform could not stream a payload file
        └── ResultsServiceError           the results service is down or answered an error

A TLS failure is a misconfiguration, yet retryable like an association rejection (also one): the fix lands
outside the task (the PACS renews its certificate, the CA bundle or the destination is corrected) and the next
attempt reads the files and the destination anew, so a retry then delivers instead of losing the results. The
task still ends Failed after `max_retries`, with the TLS reason.

The agent maps them once, in agent.py, into the results-service failure call.
"""

from __future__ import annotations


class ExportError(Exception):
    """Base of every export failure."""


class PermanentExportError(ExportError):
    """Retrying cannot help: the task ends Failed with this message."""


class InvalidParametersError(PermanentExportError):
    pass


class UnknownDestinationError(PermanentExportError):
    pass


class UndecodableFileError(PermanentExportError):
    pass


class MissingFileError(PermanentExportError):
    pass


class RetryableExportError(ExportError):
    """A later attempt may succeed."""


class DestinationUnavailableError(RetryableExportError):
    pass


class AssociationRejectedError(DestinationUnavailableError):
    """The destination answered our A-ASSOCIATE-RQ with an A-ASSOCIATE-RJ (the message says why)."""


class DestinationTlsError(DestinationUnavailableError):
    """The TLS session with the destination could not be set up (the message says why; `reason`, the
    TLS failure alone, for a message that names the destination otherwise)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class DestinationBusyError(RetryableExportError):
    pass


class StoreRefusedError(RetryableExportError):
    pass


class DownloadError(RetryableExportError):
    pass


class ResultsServiceError(RetryableExportError):
    pass
