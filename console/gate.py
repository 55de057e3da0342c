"""SessionGate: the console's check of the browser, one ASGI layer in front of every route and asset.

Only the login page (and the liveness probe) answer without a session. Without one, a page request is
sent to the login page and anything else gets 401; a mutating request (POST, PUT, PATCH, DELETE) must
also carry the session's CSRF secret in `X-CSRF-Token`. Every answer forbids framing and sets a
content security policy: scripts, styles and images come from this origin only (no CDN can be used).
"""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.session import COOKIE, CSRF_HEADER, SessionKeeper

PUBLIC_PATHS = frozenset({"/login", "/health/live"})
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# 'wasm-unsafe-eval' and blob: workers: the viewer's WebGL library compiles WebAssembly and runs workers.
CONTENT_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
                  "img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; "
                  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SessionGate:
    def __init__(self, app: ASGIApp, keeper: SessionKeeper) -> None:
        self.app = app
        self.keeper = keeper

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)

    def _refusal(self, scope: Scope) -> Response | None:
        path, method = scope["path"], scope["method"]
        if path in PUBLIC_PATHS:
            return None
        headers = Headers(scope=scope)
        session = self.keeper.read(_cookie(headers.get("cookie", "")))
        if session is None:
            if method == "GET" and "text/html" in headers.get("accept", ""):
                query = scope.get("query_string", b"").decode("latin-1")
                target = path + (f"?{query}" if query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return _problem(HTTPStatus.UNAUTHORIZED, "log in first: the console needs a session (POST /login)", path)
        if method in MUTATING and headers.get(CSRF_HEADER) != session.csrf:
            return _problem(HTTPStatus.FORBIDDEN, "missing or wrong X-CSRF-Token for this session", path)
        scope.setdefault("state", {})["session"] = session
        return None


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _problem(status: HTTPStatus, detail: str, path: str) -> JSONResponse:
    return JSONResponse({"title": status.phrase, "status": int(status), "detail": detail, "instance": path},
                        status_code=int(status), media_type="application/problem+json")
