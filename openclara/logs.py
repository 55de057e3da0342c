"""structlog configuration shared by every service: console for people, JSON for machines."""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import Literal

import structlog

LogFormat = Literal["console", "json"]

# Bounds of one logged traceback. A RecursionError raised inside `except` carries a chain of about 1,000
# exceptions; rendered whole (rich, with every frame's locals) it held a service's event loop for minutes
# and wrote megabytes (issue #11). Locals are also where patient data would leak into the log.
MAX_CHAINED_EXCEPTIONS = 3
MAX_FRAMES = 20
MAX_LINE_CHARS = 500
MAX_TRACEBACK_CHARS = 16_384

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
# traceback's own words between chained exceptions.
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... [{len(text) - limit} more characters]"


def format_bounded_exception(exc_info: ExcInfo) -> str:
    """The traceback of `exc_info` as text of bounded size, in bounded time, without locals.

    The newest exception and at most two it was raised from or during; the last `MAX_FRAMES` frames of
    each; every line cut at `MAX_LINE_CHARS`; the whole cut at `MAX_TRACEBACK_CHARS`.
    """
    chain: list[tuple[BaseException, str]] = []  # newest first, with how it follows the one after it
    current: BaseException | None = exc_info[1]
    link = ""
    while current is not None and len(chain) < MAX_CHAINED_EXCEPTIONS and all(current is not e for e, _ in chain):
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        else:
            current, link = (None if current.__suppress_context__ else current.__context__), _CONTEXT
    parts = []
    if current is not None:
        parts.append(f"[older chained exceptions left out: only the last {MAX_CHAINED_EXCEPTIONS} are shown]\n\n")
    for older, follows in reversed(chain):
        # str() of each exception happens here, one at a time: a megabyte message is cut before it is joined.
        lines = traceback.format_exception(type(older), older, older.__traceback__, limit=-MAX_FRAMES, chain=False)
        parts.append("".join(_clip(line, MAX_LINE_CHARS) for line in lines))
        parts.append(follows)
    return _clip("".join(parts).rstrip("\n"), MAX_TRACEBACK_CHARS)


def configure_logging(level: str = "INFO", fmt: LogFormat = "console") -> None:
    """Route structlog and the stdlib (pynetdicom, uvicorn, grpc) through one renderer on stderr."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    # Both formats get the same bounded `exception` text (JSON logged only `"exc_info": true` before).
    exceptions = structlog.processors.ExceptionRenderer(format_bounded_exception)
    structlog.configure(
        # Drop disabled levels before any processor runs: the hot paths log DEBUG events per request.
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, exceptions, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pynetdicom logs every PDU at DEBUG/INFO; keep it at WARNING unless asked for.
    logging.getLogger("pynetdicom").setLevel(max(logging.WARNING, root.level))
    # httpx logs every request at INFO: the export agent's idle polls would fill the log.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
