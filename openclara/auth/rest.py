"""TokenGate: the REST services' check of the caller, one ASGI layer in front of every route.

It runs before the services' fast paths and FastAPI alike, so both answer a request under the same
rule. The token comes as `Authorization: Bearer <token>` (or `X-API-Key: <token>`, for tools that
cannot set a bearer header); without one, the client's address may be a trusted network. A service
gives the least role per request as a function of method and path (None: public, e.g. health probes).
A refused token (as opposed to none) is answered with RFC 6750's `error="invalid_token"`.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from openclara.auth.audit import AuditLog
from openclara.auth.roles import Role
from openclara.auth.tokens import InvalidToken, NoRole, TokenTable, bearer
from openclara.http_guards import problem, problem_response
from openclara.swagger_ui import ASSET_PATHS

Rule = Callable[[str, str], Role | None]
# The API's description is public (Swagger UI's page and its vendored files too); what it describes is not.
PUBLIC_PATHS = ("/health/live", "/health/ready", "/docs", "/openapi.json", *ASSET_PATHS)


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
        client = scope.get("client")
        peer = client[0] if client else None
        where = f"{peer}:{client[1]}" if client else "unknown"
        refusal = await self._refusal(method, path, needed, _token(scope), peer, where)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _refusal(self, method: str, path: str, needed: Role, token: str | None, peer: str | None,
                       where: str) -> Response | None:
        """The answer to a caller who may not make this request; None lets it through (audited if asked)."""
        what = f"http {method} {path}"
        try:
            principal = await self.table.authenticate(token, peer)
        except InvalidToken as refused:
            self._record(what, "unknown", where, f"refused: {refused.reason}")
            response = problem(HTTPStatus.UNAUTHORIZED, "a valid API token is required: Authorization: Bearer "
                               "<token> (the stack's tokens are in $CLARA_HOME/credentials.yaml)", path)
            response.headers["WWW-Authenticate"] = _challenge(refused)
            return response
        except NoRole as refused:
            self._record(what, refused.name, where, f"refused: {refused.reason}")
            return problem(HTTPStatus.FORBIDDEN, f"{method} {path} needs role {needed.label}; {refused.name} has "
                           "no role here", path)
        if principal.role < needed:
            self._record(what, principal.name, where, f"refused: needs role {needed.label}")
            detail = f"{method} {path} needs role {needed.label}; {principal.name} has {principal.role.label}"
            return problem(HTTPStatus.FORBIDDEN, detail, path)
        if self.audited(method, path):
            self._record(what, principal.name, where, "allowed")
        return None

    def _record(self, what: str, who: str, where: str, outcome: str) -> None:
        if self.audit is not None:
            self.audit.record(who=who, what=what, where=where, outcome=outcome)


def _token(scope: Scope) -> str | None:
    headers = {key: value for key, value in scope["headers"] if key in (b"authorization", b"x-api-key")}
    return bearer(headers.get(b"authorization", b"").decode("latin-1")) or (
        headers.get(b"x-api-key", b"").decode("latin-1").strip() or None)


def _challenge(refused: InvalidToken) -> str:
    """RFC 6750: no error code when no token came, `invalid_token` when the one that came is refused."""
    return 'Bearer realm="openclara", error="invalid_token"' if refused.presented else 'Bearer realm="openclara"'
