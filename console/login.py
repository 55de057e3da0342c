"""`/login` and `/logout`: a person trades one of the stack's API tokens for a session cookie.

The token is checked exactly as the services check it (the same TokenTable, so an IdP JWT works too)
but never by client address: a trusted network grants machines a role, not a browser session.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console.pages import templates
from console.session import SessionKeeper
from openclara.auth.tokens import Refused, TokenTable

log = structlog.get_logger()
router = APIRouter()
MAX_FORM_BYTES = 8192


def _safe_next(target: str | None) -> str:
    """Only a path on this site: `//evil.example` or `https://...` would make the login an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


@router.get("/login", include_in_schema=False)
async def login_page(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    body = await request.body()
    form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    target = _safe_next(form.get("next", ["/"])[0])
    token = form.get("token", [""])[0].strip()
    table: TokenTable = request.app.state.tokens
    keeper: SessionKeeper = request.app.state.sessions
    error = None
    if not _same_origin(request):
        error = "This login form was sent from another site."
    elif not token:
        error = "Enter an API token."
    else:
        try:
            principal = await table.authenticate(token, None)
        except Refused as refused:
            log.info("console.login_refused", reason=refused.reason)
            error = "That token is not valid for this stack."
        else:
            value, _ = keeper.issue(principal)
            log.info("console.login", who=principal.name, role=principal.role.label)
            response = RedirectResponse(target, status_code=303)
            response.headers.append("set-cookie", keeper.cookie_header(value))
            return response
    return templates.TemplateResponse(request, "login.html", {"next": target, "error": error}, status_code=401)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    keeper: SessionKeeper = request.app.state.sessions
    response = Response(status_code=204)
    response.headers.append("set-cookie", keeper.clearing_header())
    return response
