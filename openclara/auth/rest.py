"""TokenGate: the REST services' check of the caller, one ASGI layer in front of every route.

It runs before the services' fast paths and FastAPI alike, so both answer a request under the same
rule. The token comes as `Authorization: Bearer <token>` (or `X-API-Key: <token>`, for tools that
cannot set a bearer header); without one, the client's address may be a trusted network. A service
gives the least role per request as a function of method and path (None: public, e.g. health probes).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from openclara.auth.audit import AuditLog
from openclara.auth.roles import Principal, Role
from openclara.auth.tokens import TokenTable, bearer
from openclara.http_guards import problem, problem_response

Rule = Callable[[str, str], Role | None]
PUBLIC_PATHS = ("/health/live", "/health/ready", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")


def auth_responses() -> dict[int | str, dict[str, Any]]:
    """The gate's answers, for `FastAPI(responses=...)`: every protected route can give them."""
    return {
        401: problem_response("No valid API token (Authorization: Bearer <token>)"),
        403: problem_response("The token's role may not make this request"),
    }


class TokenGate:
    def __init__(self, app: ASGIApp, table: TokenTable, rule: Rule, audit: AuditLog | None = None,
                 audited: Callable[[str, str], bool] = lambda method, path: False) -> None:
        self.app = app
        self.table = table
        self.rule = rule
        self.audit = audit
        self.audited = audited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.table.enabled:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        needed = self.rule(method, path)
        if needed is None:
            await self.app(scope, receive, send)
            return
        headers = {key: value for key, value in scope["headers"] if key in (b"authorization", b"x-api-key")}
        token = bearer(headers.get(b"authorization", b"").decode("latin-1")) or (
            headers.get(b"x-api-key", b"").decode("latin-1").strip() or None)
        client = scope.get("client")
        peer = client[0] if client else None
        principal = self.table.principal(token, peer)
        where = f"{peer}:{client[1]}" if client else "unknown"
        if principal is None:
            self._record(method, path, None, where, "refused: no valid token")
            response = problem(HTTPStatus.UNAUTHORIZED, "a valid API token is required: Authorization: Bearer "
                               "<token> (the stack's tokens are in $CLARA_HOME/credentials.yaml)", path)
            response.headers["WWW-Authenticate"] = 'Bearer realm="openclara"'
            await response(scope, receive, send)
            return
        if principal.role < needed:
            self._record(method, path, principal, where, f"refused: needs role {needed.label}")
            detail = f"{method} {path} needs role {needed.label}; {principal.name} has {principal.role.label}"
            await problem(HTTPStatus.FORBIDDEN, detail, path)(scope, receive, send)
            return
        if self.audited(method, path):
            self._record(method, path, principal, where, "allowed")
        await self.app(scope, receive, send)

    def _record(self, method: str, path: str, principal: Principal | None, where: str, outcome: str) -> None:
        if self.audit is not None:
            self.audit.record(who=principal.name if principal else "unknown", what=f"http {method} {path}",
                              where=where, outcome=outcome)
