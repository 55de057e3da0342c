"""Exceptions of the adapter core (the SCP and export have their own `errors.py`).

    AdapterError
    ├── ListenError                 a port could not be bound; names address, port and the setting
    ├── EntityError                 a configuration entity request that cannot be honoured
    │   ├── InvalidEntity           field + reason; REST 400 problem naming the field
    │   ├── EntityNotFound          REST 404
    │   └── EntityConflict          duplicate name / AE title; REST 409
    ├── SubmissionError             a payload could not become jobs (yet)
    │   ├── PlatformUnavailable     transient (down, timeout): retried with capped backoff
    │   └── PlatformRejected        permanent (unknown pipeline, invalid request): payload faulted
    └── RetryRefused                a manual retry of a payload that cannot be honoured
        ├── PayloadNotFound         no such payload; REST 404
        └── PayloadNotRetryable     not faulted, or its spool files are gone; REST 409

The REST boundary maps EntityError and RetryRefused once (`api/problems.py`); the submitter maps
SubmissionError once;
`__main__` maps ListenError once.
"""

from __future__ import annotations

import os


class AdapterError(Exception):
    """Base of every error raised by the adapter core."""


class ListenError(AdapterError):
    """A listening socket could not be bound; the message says which one and how to move it."""

    def __init__(self, what: str, host: str, port: int, setting: str, cause: OSError) -> None:
        # asyncio repeats the address in strerror; the errno text alone reads better next to ours.
        reason = os.strerror(cause.errno) if cause.errno else str(cause)
        super().__init__(f"cannot listen on {host}:{port} ({what}): {reason}; set {setting} to another port")
        self.host = host
        self.port = port
        self.setting = setting


class EntityError(AdapterError):
    """A configuration entity request that cannot be honoured."""


class InvalidEntity(EntityError):
    """A field of an entity is invalid; `field` names it as the client spelled it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class EntityNotFound(EntityError):
    """No entity of that kind has that name."""


class EntityConflict(EntityError):
    """An entity with that name or AE title exists already."""


class SubmissionError(AdapterError):
    """A payload could not become jobs (yet)."""


class PlatformUnavailable(SubmissionError):
    """The platform did not answer or answered 'try later': retry with backoff."""


class PlatformRejected(SubmissionError):
    """The platform refused the request for good (for example an unknown pipeline id)."""


class RetryRefused(AdapterError):
    """A manual retry of a payload that cannot be honoured; the message says why."""


class PayloadNotFound(RetryRefused):
    """No payload has that id."""


class PayloadNotRetryable(RetryRefused):
    """The payload is not faulted (any more), or its spool files are gone."""
