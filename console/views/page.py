"""What every view shares: rendering with the session, paging arguments, the role an action needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from console.backend import Backend, ServiceError
from console.pages import templates
from console.session import Session
from openclara.auth.roles import Role

PAGE_SIZE = 50


@dataclass(frozen=True)
class Paging:
    offset: int
    limit: int
    total: int | None = None

    @property
    def previous(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    @property
    def next(self) -> int | None:
        if self.total is None or self.offset + self.limit < self.total:
            return self.offset + self.limit
        return None


def backend(request: Request) -> Backend:
    found: Backend = request.app.state.backend
    return found


def session(request: Request) -> Session:
    found: Session = request.state.session
    return found


def require(request: Request, role: Role) -> None:
    """Refuse an action the session's role may not take (the services would refuse the console's token less)."""
    who = session(request)
    if who.role < role:
        raise HTTPException(403, f"this needs role {role.label}; you are logged in as {who.name} ({who.role.label})")


def render(request: Request, template: str, title: str, active: str, **context: Any) -> HTMLResponse:
    context.update(title=title, active=active, session=session(request))
    return templates.TemplateResponse(request, template, context)


def fragment(request: Request, template: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context)


def service_error(error: ServiceError) -> JSONResponse:
    return JSONResponse({"title": "Service error", "status": error.status, "detail": str(error)},
                        status_code=error.status if 400 <= error.status < 600 else 502,
                        media_type="application/problem+json")
