"""The one boundary of every operator: logging set-up, shared flags, and errors mapped to exit codes.

Exit codes: 0 success, 2 an `OperatorError` (message printed as `<operator>: error: ...` on stderr),
1 an unexpected exception (logged with its traceback).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import structlog

from openclara.logs import LogFormat, configure_logging
from pipeline_operators.errors import OperatorError

log = structlog.get_logger()

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_BUG = 1
EXIT_OPERATOR_ERROR = 2


def io_options(func: F) -> F:
    """`--input DIR` (repeatable) and `--output DIR`: override NVIDIA_CLARA_INPUTPATHS/OUTPUTPATHS."""
    func = click.option(
        "--output",
        "output",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Output folder (default: NVIDIA_CLARA_OUTPUTPATHS).",
    )(func)
    func = click.option(
        "--input",
        "inputs",
        multiple=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Input folder (default: NVIDIA_CLARA_INPUTPATHS).",
    )(func)
    return func


def run_operator(name: str, body: Callable[[], None]) -> None:
    """Run `body` as operator `name`, turning its errors into a message and an exit code."""
    log_format: LogFormat = "json" if os.environ.get("CLARA_LOG_JSON") else "console"
    configure_logging(os.environ.get("CLARA_LOG_LEVEL", "INFO"), log_format)
    # highdicom narrates every module it copies at INFO; that is noise in an operator's log.
    logging.getLogger("highdicom").setLevel(logging.WARNING)
    log.info("operator.started", operator=name, job_id=os.environ.get("NVIDIA_CLARA_JOBID", ""))
    try:
        body()
    except OperatorError as exc:
        log.error("operator.failed", operator=name, error=str(exc))
        click.echo(f"{name}: error: {exc}", err=True)
        sys.exit(EXIT_OPERATOR_ERROR)
    except Exception:
        log.exception("operator.crashed", operator=name)
        sys.exit(EXIT_BUG)
    log.info("operator.finished", operator=name)
