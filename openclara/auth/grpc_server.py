"""AuthInterceptor: every gRPC call checked against the TokenTable before the servicer sees it.

The token comes in the call's metadata (`authorization: Bearer <token>`, what `grpc_client` sends);
without one, the caller's address may be a trusted network. A call without a known token is refused
UNAUTHENTICATED, a known caller whose role is below the method's PERMISSION_DENIED; refusals and
calls of `audited` methods go to the audit log with who, what and from where. The check is awaited
in the call's own task: a key fetch for an identity provider's token (`oidc`) holds up no other call.
The admitted principal is `caller()` for the rest of the call, for servicers that decide by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

import grpc

from openclara.auth.audit import AuditLog
from openclara.auth.roles import Principal, Role
from openclara.auth.tokens import InvalidToken, NoRole, TokenTable, bearer

Behaviour = Callable[..., Any]
# Set in the call's own task before its behaviour runs, so it is the caller of this call and no other.
_CALLER: ContextVar[Principal | None] = ContextVar("openclara_grpc_caller", default=None)


def caller() -> Principal | None:
    """Who the gRPC call being served came from; None when authentication is off."""
    return _CALLER.get()


def peer_host(peer: str) -> str | None:
    """The address of a gRPC peer string: `ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`; None for others (unix:)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or None
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or None
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, table: TokenTable, roles: Mapping[str, Role], default: Role, audit: AuditLog | None = None,
                 audited: frozenset[str] = frozenset()) -> None:
        """`roles`: full method name (`/nvidia.clara.platform.Jobs/Start`) -> least role; others need `default`."""
        self._table = table
        self._roles = roles
        self._default = default
        self._audit = audit
        self._audited = audited

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or not self._table.enabled:
            return handler
        method = handler_call_details.method
        metadata = dict(handler_call_details.invocation_metadata or ())
        token = bearer(str(metadata.get("authorization", "")))
        return _guarded(handler, lambda context: self._admit(method, token, context))

    async def _admit(self, method: str, token: str | None, context: grpc.aio.ServicerContext) -> None:
        peer = context.peer()
        needed = self._roles.get(method, self._default)
        try:
            principal = await self._table.authenticate(token, peer_host(peer))
        except InvalidToken as refused:
            self._record(method, "unknown", peer, f"refused: {refused.reason}")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                "a valid API token is required (metadata 'authorization: Bearer <token>'; the stack's "
                                "tokens are in $CLARA_HOME/credentials.yaml)")
        except NoRole as refused:
            self._record(method, refused.name, peer, f"refused: {refused.reason}")
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"{method} needs role {needed.label}; {refused.name} has no role here")
        else:
            await self._check_role(method, principal, needed, peer, context)
            _CALLER.set(principal)

    async def _check_role(self, method: str, principal: Principal, needed: Role, peer: str,
                          context: grpc.aio.ServicerContext) -> None:
        if principal.role < needed:
            self._record(method, principal.name, peer, f"refused: needs role {needed.label}")
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"{method} needs role {needed.label}; {principal.name} has {principal.role.label}")
        elif method in self._audited:
            self._record(method, principal.name, peer, "allowed")

    def _record(self, method: str, who: str, peer: str, outcome: str) -> None:
        if self._audit is not None:
            self._audit.record(who=who, what=f"grpc {method}", where=peer, outcome=outcome)


def _guarded(handler: grpc.RpcMethodHandler, admit: Callable[[Any], Awaitable[None]]) -> grpc.RpcMethodHandler:
    """The same handler, with `admit(context)` awaited before its behaviour runs."""
    serializers = {"request_deserializer": handler.request_deserializer,
                   "response_serializer": handler.response_serializer}
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(_unary(handler.unary_unary, admit), **serializers)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(_unary(handler.stream_unary, admit), **serializers)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(_streaming(handler.unary_stream, admit), **serializers)
    return grpc.stream_stream_rpc_method_handler(_streaming(handler.stream_stream, admit), **serializers)


def _unary(behaviour: Behaviour, admit: Callable[[Any], Awaitable[None]]) -> Behaviour:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await admit(context)
        return await behaviour(request, context)

    return guarded


def _streaming(behaviour: Behaviour, admit: Callable[[Any], Awaitable[None]]) -> Behaviour:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await admit(context)
        result = behaviour(request, context)
        if hasattr(result, "__aiter__"):
            async for response in result:
                yield response
        else:  # a coroutine that writes its responses with context.write
            await result

    return guarded
