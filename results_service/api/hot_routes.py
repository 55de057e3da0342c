"""HotRoutes: the three requests of every delivery answered without FastAPI's routing and dependency machinery.

Every exported task costs an agent three requests: `POST /api/tasks/register/{agent}`,
`GET /api/tasks/{agent}/pending?size=N` and `PUT /api/tasks/success/{taskId}`. Through FastAPI each
one walks the route list, solves dependencies and builds a `Request` (about 40 % of the service's CPU
per request before this layer). This ASGI layer recognises the three by method and path segments,
validates with the same pydantic model and calls the same `TaskQueue` methods.

It only takes the well-formed case. Anything else (a bad agent name, a body that is not JSON or fails
validation, an unexpected query parameter, a trailing slash, a root path) falls through, body included,
to the FastAPI routes in `routes_tasks.py`: they stay the single documented definition (OpenAPI) and
produce every validation error, so both paths answer a given request the same way. Errors raised by the
queue are mapped by `problems.for_results_error`, as the FastAPI exception handler maps them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from openclara.http_guards import replay
from results_service.api import problems
from results_service.api.schemas import RegisterRequest, task_json
from results_service.errors import ResultsError
from results_service.models import AGENT_NAME, MAX_LIMIT
from results_service.queue import TaskQueue

PREFIX = "/api/tasks/"
# Same bounds as `Size` in routes_tasks.py; other spellings (signs, blanks, huge numbers) fall through.
_SIZE = re.compile(r"^[0-9]{1,4}$")
_MAX_SIZE = MAX_LIMIT
_DEFAULT_SIZE = 10
_JSON_HEADERS = [(b"content-type", b"application/json")]

Handler = Callable[[TaskQueue, str, Scope, Receive, Send], Awaitable[None]]


class _FallThrough(Exception):
    """The request is not the plain case: let FastAPI answer it, with the body when it was read already.

    `body` is None when nothing was read. An empty body that was read must still be replayed: the request
    message is gone from the connection, and FastAPI would wait for it until the client gave up (a
    `Content-Length: 0` register never got an answer, issue #11).
    """

    def __init__(self, body: bytes | None = None) -> None:
        super().__init__("fall through to FastAPI")
        self.body = body


class HotRoutes:
    """ASGI middleware in front of the FastAPI router; see the module docstring for what it takes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[tuple[str, str | None, str | None], Handler] = {
            ("POST", "register", None): _register,
            ("GET", None, "pending"): _pending,
            ("PUT", "success", None): _success,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self._match(scope)
        if match is None:
            await self.app(scope, receive, send)
            return
        handler, argument, queue = match
        try:
            await handler(queue, argument, scope, receive, send)
        except _FallThrough as fall:
            await self.app(scope, receive if fall.body is None else replay(fall.body, receive), send)

    def _match(self, scope: Scope) -> tuple[Handler, str, TaskQueue] | None:
        if scope["type"] != "http" or scope.get("root_path") or not scope["path"].startswith(PREFIX):
            return None
        queue: TaskQueue | None = getattr(scope["app"].state, "queue", None) if "app" in scope else None
        parts = scope["path"][len(PREFIX) :].split("/")
        if queue is None or len(parts) != 2 or not all(parts):
            return None
        first, second = parts
        method = scope["method"]
        handler = self._routes.get((method, first, None))
        if handler is not None:
            return handler, second, queue
        handler = self._routes.get((method, None, second))
        return (handler, first, queue) if handler is not None else None


def _query(scope: Scope, name: str) -> str | None:
    """The single value of the one query parameter a hot route reads; anything else falls through."""
    raw: bytes = scope["query_string"]
    if not raw:
        return None
    values = parse_qs(raw.decode("latin-1"), keep_blank_values=True)
    if set(values) != {name} or len(values[name]) != 1:
        raise _FallThrough()
    return values[name][0]


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _FallThrough(b"".join(chunks))
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _is_json(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


async def _register(queue: TaskQueue, agent: str, scope: Scope, receive: Receive, send: Send) -> None:
    body = await _body(receive)
    if scope["query_string"] or not AGENT_NAME.match(agent) or not _is_json(scope):
        raise _FallThrough(body)
    try:
        request = RegisterRequest.model_validate_json(body)
    except ValidationError:
        raise _FallThrough(body) from None
    await _answer(scope, receive, send, lambda: _registered(queue, request, agent))


async def _registered(queue: TaskQueue, request: RegisterRequest, agent: str) -> tuple[Any, int]:
    task, created = await queue.register(request.to_registration(agent))
    return task_json(task), 201 if created else 200


async def _pending(queue: TaskQueue, agent: str, scope: Scope, receive: Receive, send: Send) -> None:
    text = _query(scope, "size")
    size = _DEFAULT_SIZE if text is None else int(text) if _SIZE.match(text) else 0
    if not AGENT_NAME.match(agent) or not 1 <= size <= _MAX_SIZE:
        raise _FallThrough()

    async def lease() -> tuple[Any, int]:
        return [task_json(task) for task in await queue.lease(agent, size)], 200

    await _answer(scope, receive, send, lease)


async def _success(queue: TaskQueue, task_id: str, scope: Scope, receive: Receive, send: Send) -> None:
    lease_id = _query(scope, "leaseId")

    async def succeed() -> tuple[Any, int]:
        return task_json(await queue.succeed(task_id, lease_id)), 200

    await _answer(scope, receive, send, succeed)


async def _answer(scope: Scope, receive: Receive, send: Send, work: Callable[[], Awaitable[tuple[Any, int]]]) -> None:
    """Run the queue call and send its JSON, or the problem response of its error."""
    try:
        content, status = await work()
    except ResultsError as exc:
        await problems.for_results_error(exc, scope["path"])(scope, receive, send)
        return
    except Exception:
        await problems.for_unexpected(scope["path"])(scope, receive, send)
        return
    # Rendered as Starlette's JSONResponse renders, so both paths send identical bytes.
    body = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()
    headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
