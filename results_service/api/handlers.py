"""The task API's register, lease and success requests as plain functions: raw request parts in, Reply out.

Every rule of these requests lives here once, for both paths that serve them (the FastAPI routes in
`routes_tasks` and the fast path in `hot_routes`): which body is read as JSON, the order of the checks
(an unparseable body, then the agent name, then the body's fields), the query's bounds, the queue call,
and which problem each error becomes. The rules are FastAPI's, reproduced so the answers did not change
when the fast path stopped falling through to FastAPI: JSON only under an `application/json` or `+json`
content type, the last of repeated query parameters wins, pydantic's lax integers (`+5`, `1.0`).
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from starlette.datastructures import QueryParams

from results_service.api import problems
from results_service.api.replies import Reply
from results_service.api.schemas import RegisterRequest, task_json
from results_service.errors import ResultsError
from results_service.models import MAX_LIMIT
from results_service.queue import TaskQueue, check_agent

DEFAULT_SIZE = 10
# How many tasks one lease may take; routes_tasks declares the same type for `GET /{agent}/{state}`.
LeaseSize = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
_SIZE = TypeAdapter(LeaseSize)
_REGISTER = TypeAdapter(RegisterRequest)
_NOT_PARSED = object()


class _Invalid(Exception):
    """Input that breaks a rule before the queue is asked; carries its problem reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.content.get("detail"))
        self.reply = reply


async def register(queue: TaskQueue, agent: str, body: bytes, content_type: str | None, path: str) -> Reply:
    """`POST /api/tasks/register/{agent}`: 201 with a new task, 200 with the task of the same registration."""
    try:
        request = _registration_in_one_pass(body, content_type)
        if request is None:
            document = _json_body(body, content_type, path)
            check_agent(agent)
            request = _registration(document, path)
        else:
            check_agent(agent)
        task, created = await queue.register(request.to_registration(agent))
    except _Invalid as invalid:
        return invalid.reply
    except ResultsError as exc:
        return problems.for_results_error(exc, path)
    return Reply(201 if created else 200, task_json(task))


async def lease(queue: TaskQueue, agent: str, query: bytes, path: str) -> Reply:
    """`GET /api/tasks/{agent}/pending?size=N`: lease up to N Pending tasks (default 10)."""
    try:
        check_agent(agent)
        size = _size(_query(query, "size"), path)
    except _Invalid as invalid:
        return invalid.reply
    except ResultsError as exc:
        return problems.for_results_error(exc, path)
    return await lease_size(queue, agent, size, path)


async def lease_size(queue: TaskQueue, agent: str, size: int, path: str) -> Reply:
    """The lease of a size already checked against `LeaseSize`."""
    try:
        tasks = await queue.lease(agent, size)
    except ResultsError as exc:
        return problems.for_results_error(exc, path)
    return Reply(200, [task_json(task) for task in tasks])


async def succeed(queue: TaskQueue, task_id: str, query: bytes, path: str) -> Reply:
    """`PUT /api/tasks/success/{taskId}[?leaseId=...]`: the agent delivered the task."""
    try:
        task = await queue.succeed(task_id, _query(query, "leaseId"))
    except ResultsError as exc:
        return problems.for_results_error(exc, path)
    return Reply(200, task_json(task))


def _query(query: bytes, name: str) -> str | None:
    """Parameter `name` as Starlette reads it (the last of repeated ones wins)."""
    return QueryParams(query).get(name) if query else None


def _registration_in_one_pass(body: bytes, content_type: str | None) -> RegisterRequest | None:
    """The common case, parsed and validated by pydantic in one pass; None for anything else, which
    `_json_body` and `_registration` then answer. A body valid here is valid there with the same values."""
    if not body or not _is_json(content_type):
        return None
    try:
        return _REGISTER.validate_json(body)
    except ValidationError:
        return None


def _is_json(content_type: str | None) -> bool:
    if content_type is None or not content_type:
        return False  # FastAPI's strict content type: no header, no JSON
    if content_type == "application/json":
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _json_body(body: bytes, content_type: str | None, path: str) -> Any:
    """The body as JSON when it is declared JSON, else the bytes themselves (which fail validation);
    `_NOT_PARSED` when there is none."""
    if not body:
        return _NOT_PARSED
    if not _is_json(content_type):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "ctx": {"error": exc.msg}}
        raise _Invalid(problems.for_invalid_input([error], path)) from exc
    except (ValueError, RecursionError) as exc:  # not UTF-8/16/32, or nested too deep
        reply = problems.for_http_error(HTTPStatus.BAD_REQUEST, "There was an error parsing the body", "", path)
        raise _Invalid(reply) from exc


def _registration(document: Any, path: str) -> RegisterRequest:
    if document is _NOT_PARSED:
        raise _Invalid(problems.for_invalid_input([{"type": "missing", "loc": ("body",)}], path))
    try:
        return _REGISTER.validate_python(document, from_attributes=True)
    except ValidationError as exc:
        raise _Invalid(problems.for_invalid_input(_located("body", exc.errors()), path)) from None


def _size(text: str | None, path: str) -> int:
    if text is None:
        return DEFAULT_SIZE
    try:
        return _SIZE.validate_python(text)
    except ValidationError as exc:
        raise _Invalid(problems.for_invalid_input(_located("query", exc.errors(), "size"), path)) from None


def _located(where: str, errors: Sequence[Mapping[str, Any]], *name: str) -> list[dict[str, Any]]:
    """pydantic's errors with `loc` prefixed as FastAPI reports them (("body", "uris"), ("query", "size"))."""
    return [{**error, "loc": (where, *name, *error.get("loc", ()))} for error in errors]
