"""Every error the platform server raises on purpose, and the ResponseHeader code each one maps to.

::

    PlatformServerError                 code -1   (base; anything unexpected is also reported as -1)
    ├── InvalidArgument                 code -2   bad id, bad name, path traversal, metadata limits
    │   └── DefinitionError             code -2   pipeline YAML problems (file, line, operator, problem)
    ├── NotFound                        code -3   unknown pipeline / job / payload / model / file
    ├── Conflict                        code -4   the request contradicts the current state
    │                                             (job already started, payload input read-only, name taken)
    └── ResourceExhausted               code -5   a request the platform can never satisfy (GPUs)

The gRPC servicers (`platform_server.api`) map these once: gRPC status OK, `ResponseHeader.code`
below zero and the message in `ResponseHeader.messages`, which is what Clara's clients check. The
codes are `platform_api.types.ResponseCode`, the one table the client maps back to its own errors.
"""

from __future__ import annotations

from platform_api.types import ResponseCode


class PlatformServerError(Exception):
    """Base class; `code` is the negative ResponseHeader code reported to the caller."""

    code: ResponseCode = ResponseCode.INTERNAL


class InvalidArgument(PlatformServerError):
    """The request itself is malformed: the message says which field and why."""

    code = ResponseCode.INVALID_ARGUMENT


class DefinitionError(InvalidArgument):
    """A pipeline definition is invalid; `problems` lists every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class NotFound(PlatformServerError):
    """An id or a file name does not exist."""

    code = ResponseCode.NOT_FOUND


class Conflict(PlatformServerError):
    """The request is valid but not in the current state of the object."""

    code = ResponseCode.CONFLICT


class ResourceExhausted(PlatformServerError):
    """The request needs more than the platform has (for example more GPUs than installed)."""

    code = ResponseCode.RESOURCE_EXHAUSTED
