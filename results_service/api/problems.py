"""Errors -> RFC 7807 `application/problem+json` responses: the one place HTTP statuses are chosen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from openclara.http_guards import problem_response
from results_service.api.replies import Reply
from results_service.errors import (
    InvalidRequest,
    PayloadGone,
    ResultsError,
    StoreUnavailable,
    TaskNotFound,
    TransitionRejected,
)

log = structlog.get_logger()

PROBLEM_JSON = "application/problem+json"

_STATUS: dict[type[ResultsError], HTTPStatus] = {
    InvalidRequest: HTTPStatus.BAD_REQUEST,
    TaskNotFound: HTTPStatus.NOT_FOUND,
    TransitionRejected: HTTPStatus.CONFLICT,
    PayloadGone: HTTPStatus.CONFLICT,
    StoreUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}

# The problems the task routes answer, declared in the OpenAPI document (the guards add 413 and 421).
_VALIDATION = problem_response("Wrong types or missing fields: `detail` lists each, `errors[]` has loc/msg")
_VALIDATION["content"][PROBLEM_JSON]["schema"]["properties"]["errors"] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"loc": {"type": "array", "items": {"type": "string"}}, "msg": {"type": "string"}},
    },
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem_response("Bad agent name, unknown state, or a body that is empty or not JSON"),
    404: problem_response("No such task"),
    409: problem_response("Wrong state for this change, stale lease, or payload deleted by cleanup"),
    422: _VALIDATION,
    503: problem_response("The database is unavailable"),
}


def problem_reply(
    status: HTTPStatus, detail: str, instance: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Reply:
    body = {
        "type": "about:blank",
        "title": status.phrase,
        "status": status.value,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return Reply(status.value, body, PROBLEM_JSON, headers)


def problem(
    status: HTTPStatus, detail: str, instance: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    return problem_reply(status, detail, instance, headers, **extra).response()


def for_results_error(exc: ResultsError, path: str) -> Reply:
    """The problem of one of our errors, whichever path raised it."""
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), HTTPStatus.INTERNAL_SERVER_ERROR)
    if status >= 500:
        log.error("api.request.failed", path=path, error=str(exc))
    return problem_reply(status, str(exc), path)


def for_unexpected(path: str) -> Reply:
    """A bug: log the traceback of the exception being handled, tell the client where to look."""
    log.exception("api.request.crashed", path=path)
    return problem_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; see the service log", path)


def _describe(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", "invalid"))
    return f"{where}: {message}" if where else message


def for_invalid_input(errors: Sequence[Mapping[str, Any]], path: str) -> Reply:
    """Validation errors (pydantic's, `loc` starting with "body" or "query") -> 400 or 422.

    An empty body and one that is not JSON are 400 with one sentence; anything else is 422 listing each error.
    """
    if any(error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",) for error in errors):
        # An empty body is not JSON either: the same 400 as a body that does not parse.
        return problem_reply(
            HTTPStatus.BAD_REQUEST, "request body is empty: send a JSON document (Content-Type: application/json)", path
        )
    if any(error.get("type") == "json_invalid" for error in errors):
        ctx = errors[0].get("ctx", {}) or {}
        return problem_reply(
            HTTPStatus.BAD_REQUEST, f"request body is not valid JSON: {ctx.get('error', 'parse error')}", path
        )
    return problem_reply(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "; ".join(_describe(error) for error in errors),
        path,
        errors=[{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg"))} for e in errors],
    )


def for_http_error(
    status: HTTPStatus, detail: Any, method: str, path: str, headers: Mapping[str, str] | None = None
) -> Reply:
    """Starlette's own errors (no route, wrong method, unreadable body) in our problem format."""
    text = (
        detail
        if isinstance(detail, str) and detail != status.phrase
        else (f"no route for {method} {path}" if status is HTTPStatus.NOT_FOUND else status.phrase)
    )
    # Starlette's 405 carries the Allow header (RFC 9110 requires it): keep it.
    return problem_reply(status, text, path, headers)


async def _results_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ResultsError)
    return for_results_error(exc, request.url.path).response()


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return for_invalid_input(list(exc.errors()), request.url.path).response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    return for_http_error(status, exc.detail, request.method, request.url.path, exc.headers).response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    return for_unexpected(request.url.path).response()


def install(app: FastAPI) -> None:
    app.add_exception_handler(ResultsError, _results_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
