"""RFC 7807 `application/problem+json` errors, mapped once from our exceptions, and Clara's case-insensitive routes."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from dicom_adapter.errors import EntityConflict, EntityNotFound, InvalidEntity, PayloadNotFound, PayloadNotRetryable
from openclara.http_guards import problem_response

PROBLEM = "application/problem+json"
_CONFIG_PATH = re.compile(r"^/api/config/(claraaetitle|sourceaetitle|destinationaetitle)(?=/|$)", re.IGNORECASE)


def _problems() -> dict[int, dict[str, Any]]:
    validation = problem_response('"Validation error.": `detail` names each field, `errors[]` has field/message')
    validation["content"][PROBLEM]["schema"]["properties"]["errors"] = {
        "type": "array",
        "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
    }
    return {
        400: validation,
        404: problem_response("No entity (or payload) of that name"),
        409: problem_response("The entity exists already, or the change contradicts the current state"),
    }


# The problems the handlers below answer, for the routes that can give them (`openapi.answers`).
PROBLEMS = _problems()


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidEntity)
        return problem(400, "Validation error.", str(exc), [{"field": exc.field, "message": exc.reason}])

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return problem(404, "Not found.", str(exc))

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        return problem(409, "Conflict.", str(exc))

    async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"field": _field(err["loc"]), "message": str(err["msg"])} for err in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(400, "Validation error.", detail, errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's own answers (unknown route, 405 with its Allow header, a body that is not UTF-8):
        # the same problem+json as ours, which is what the OpenAPI document declares.
        assert isinstance(exc, StarletteHTTPException)
        status = HTTPStatus(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else status.phrase
        return problem(status.value, status.phrase, detail, headers=dict(exc.headers or {}))

    app.add_exception_handler(InvalidEntity, invalid)
    app.add_exception_handler(EntityNotFound, not_found)
    app.add_exception_handler(EntityConflict, conflict)
    app.add_exception_handler(PayloadNotFound, not_found)
    app.add_exception_handler(PayloadNotRetryable, conflict)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


class CaseInsensitiveConfigRoutes:
    """`/api/config/ClaraAeTitle/x` reaches `/api/config/claraaetitle/x` like in Clara (names keep their case)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            match = _CONFIG_PATH.match(path)
            if match is not None:
                scope = dict(scope)
                scope["path"] = "/api/config/" + match.group(1).lower() + path[match.end() :]
                if len(scope["path"]) > 1 and scope["path"].endswith("/"):
                    scope["path"] = scope["path"].rstrip("/")
        await self.app(scope, receive, send)
