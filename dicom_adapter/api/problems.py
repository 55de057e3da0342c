"""RFC 7807 `application/problem+json` errors, mapped once from our exceptions, and Clara's case-insensitive routes."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from dicom_adapter.errors import EntityConflict, EntityNotFound, InvalidEntity

PROBLEM = "application/problem+json"
_CONFIG_PATH = re.compile(r"^/api/config/(claraaetitle|sourceaetitle|destinationaetitle)(?=/|$)", re.IGNORECASE)


def problem(status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


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

    app.add_exception_handler(InvalidEntity, invalid)
    app.add_exception_handler(EntityNotFound, not_found)
    app.add_exception_handler(EntityConflict, conflict)
    app.add_exception_handler(RequestValidationError, request_invalid)


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
