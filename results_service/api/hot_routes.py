"""HotRoutes: the three requests of every delivery, dispatched without FastAPI's routing and dependencies.

Every exported task costs an agent three requests: `POST /api/tasks/register/{agent}`,
`GET /api/tasks/{agent}/pending?size=N` and `PUT /api/tasks/success/{taskId}`. Through FastAPI each
one walks the route list, solves dependencies and builds a `Request` (about 40 % of the service's CPU
per request before this layer). This ASGI layer recognises the paths those three routes match and calls
the same functions their FastAPI routes call (`handlers`), valid request or not, so there is nothing
to keep in step: the answers differ in no byte (tests/results_service/api/test_fast_path_parity.py).

Only dispatch is here. A path the three routes would not match (a trailing slash, a root path, another
method) goes on to FastAPI untouched, which answers 404/405/307 as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from results_service.api import handlers, problems
from results_service.api.replies import Reply
from results_service.queue import TaskQueue

PREFIX = "/api/tasks/"

# (queue, path argument, scope, body) -> Reply
Handler = Callable[[TaskQueue, str, Scope, bytes], Awaitable[Reply]]


async def _register(queue: TaskQueue, agent: str, scope: Scope, body: bytes) -> Reply:
    return await handlers.register(queue, agent, body, _content_type(scope), scope["path"])


async def _pending(queue: TaskQueue, agent: str, scope: Scope, body: bytes) -> Reply:
    return await handlers.lease(queue, agent, scope["query_string"], scope["path"])


async def _success(queue: TaskQueue, task_id: str, scope: Scope, body: bytes) -> Reply:
    return await handlers.succeed(queue, task_id, scope["query_string"], scope["path"])


# (method, first segment, second segment): None is the path parameter, as in routes_tasks' paths.
_ROUTES: dict[tuple[str, str | None, str | None], tuple[Handler, bool]] = {
    ("POST", "register", None): (_register, True),
    ("GET", None, "pending"): (_pending, False),
    ("PUT", "success", None): (_success, False),
}


class HotRoutes:
    """ASGI middleware in front of the FastAPI router; see the module docstring for what it takes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _match(scope)
        if match is None:
            await self.app(scope, receive, send)
            return
        (handler, reads_body), argument, queue = match
        body = await _body(receive) if reads_body else b""
        if body is None:
            return  # the client went away before its body came: nobody to answer
        try:
            reply = await handler(queue, argument, scope, body)
        except Exception:
            reply = problems.for_unexpected(scope["path"])
        await reply.send(send)


def _match(scope: Scope) -> tuple[tuple[Handler, bool], str, TaskQueue] | None:
    if scope["type"] != "http" or scope.get("root_path") or not scope["path"].startswith(PREFIX):
        return None
    queue: TaskQueue | None = getattr(scope["app"].state, "queue", None) if "app" in scope else None
    parts = scope["path"][len(PREFIX) :].split("/")
    if queue is None or len(parts) != 2 or not all(parts):
        return None
    first, second = parts
    method = scope["method"]
    route = _ROUTES.get((method, first, None))
    if route is not None:
        return route, second, queue
    route = _ROUTES.get((method, None, second))
    return (route, first, queue) if route is not None else None


async def _body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _content_type(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return str(value.decode("latin-1"))
    return None
