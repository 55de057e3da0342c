"""Task routes: Clara's register / pending / success / failure, plus listing, lookup and re-drive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from results_service.api import handlers
from results_service.api.handlers import DEFAULT_SIZE, LeaseSize
from results_service.api.problems import RESPONSES
from results_service.api.schemas import FailureRequest, RegisterRequest, TaskOut, task_json
from results_service.errors import InvalidRequest
from results_service.models import AGENT_NAME, AGENT_RULE, MAX_LIMIT, MAX_OFFSET, TaskFilter, TaskState
from results_service.queue import TaskQueue, check_agent

router = APIRouter(prefix="/api/tasks", tags=["tasks"], responses=RESPONSES)

LeaseQuery = Annotated[
    str | None,
    Query(alias="leaseId", description="Optional: the leaseId from the lease; a stale lease is rejected with 409."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}")]
# Bounded because SQLite integers are 64-bit: 2^63 as an OFFSET was a 500 (issue #11).
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Tasks to skip, 0-{MAX_OFFSET}")]
Size = Annotated[LeaseSize, Query(description="How many tasks to lease at most")]


def _queue(request: Request) -> TaskQueue:
    queue: TaskQueue = request.app.state.queue
    return queue


# The pattern is documented, not enforced by FastAPI: `check_agent` answers 400 with the rule in words.
AgentPath = Path(
    description=f"Agent name, e.g. ClaraSCU: {AGENT_RULE}", json_schema_extra={"pattern": AGENT_NAME.pattern}
)


async def _agent(agent: Annotated[str, AgentPath]) -> str:
    """Checked before the body, so a bad agent name is reported even when the body is also wrong."""
    return check_agent(agent)


Agent = Annotated[str, Depends(_agent)]


# register, pending and success read their request in `handlers` (shared with the fast path), so their
# query parameters and body are declared here for the OpenAPI document only.
_REGISTER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": RegisterRequest.model_json_schema(by_alias=True)}},
    }
}
_SIZE_PARAMETER = {
    "name": "size",
    "in": "query",
    "required": False,
    "description": "How many tasks to lease at most",
    "schema": {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_LIMIT,
        "default": DEFAULT_SIZE,
        "title": "Size",
        "description": "How many tasks to lease at most",
    },
}
_LEASE_PARAMETER = {
    "name": "leaseId",
    "in": "query",
    "required": False,
    "description": "Optional: the leaseId from the lease; a stale lease is rejected with 409.",
    "schema": {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "title": "Leaseid",
        "description": "Optional: the leaseId from the lease; a stale lease is rejected with 409.",
    },
}


def _state(text: str) -> TaskState:
    try:
        return TaskState.parse(text)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc


@router.post(
    "/register/{agent}",
    status_code=201,
    response_model=TaskOut,
    responses={200: {"model": TaskOut, "description": "The same registration again: the existing task"}},
    summary="Register results for an agent",
    description="201 with the new Pending task. Registering the same (agent, jobId, parameters, uris) again "
    "returns the existing task with 200, so a retried operator never duplicates an export.",
    openapi_extra=_REGISTER_BODY,
)
async def register(agent: Annotated[str, AgentPath], request: Request) -> Response:
    body = await request.body()
    reply = await handlers.register(_queue(request), agent, body, request.headers.get("content-type"), request.url.path)
    return reply.response()


@router.get("", response_model=list[TaskOut], summary="List tasks with filters and paging (no lease)")
async def list_tasks(
    request: Request,
    agent: Annotated[str | None, Query(json_schema_extra={"pattern": AGENT_NAME.pattern})] = None,
    state: str | None = None,
    job_id: Annotated[str | None, Query(alias="jobId")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    criteria = TaskFilter(agent, _state(state) if state else None, job_id, limit, offset)
    return JSONResponse([task_json(task) for task in await _queue(request).find(criteria)])


@router.put(
    "/success/{task_id}",
    response_model=TaskOut,
    summary="The agent delivered the task",
    openapi_extra={"parameters": [_LEASE_PARAMETER]},
)
async def success(task_id: str, request: Request) -> Response:
    reply = await handlers.succeed(_queue(request), task_id, request.scope["query_string"], request.url.path)
    return reply.response()


@router.put(
    "/failure/{task_id}",
    response_model=TaskOut,
    summary="The agent could not deliver the task",
    description='Body {"retryLater": bool} (Clara sends "RetryLater"). true: Pending again after an exponential '
    "backoff until the retry limit, then Failed; false or no body: Failed.",
)
async def failure(
    task_id: str, request: Request, body: Annotated[FailureRequest | None, Body()] = None, lease_id: LeaseQuery = None
) -> JSONResponse:
    report = body or FailureRequest()
    task = await _queue(request).fail(task_id, report.retry_later, report.error, lease_id)
    return JSONResponse(task_json(task))


@router.post("/{task_id}/retry", response_model=TaskOut, summary="Deliver a Failed task again")
async def retry(task_id: str, request: Request) -> JSONResponse:
    return JSONResponse(task_json(await _queue(request).redrive(task_id)))


@router.get(
    "/{agent}/pending",
    response_model=list[TaskOut],
    summary="Lease up to `size` Pending tasks of an agent",
    description="Returned tasks become InProgress until `leaseExpires`; no two pollers get the same task.",
    openapi_extra={"parameters": [_SIZE_PARAMETER]},
)
async def pending(agent: Annotated[str, AgentPath], request: Request) -> Response:
    return (await handlers.lease(_queue(request), agent, request.scope["query_string"], request.url.path)).response()


@router.get(
    "/{agent}/{state}",
    response_model=list[TaskOut],
    summary="List an agent's tasks in a state",
    description="State names are case-insensitive (or Clara's numbers 1-4). Any spelling of Pending leases, like "
    "/pending; to look at Pending tasks without leasing them use GET /api/tasks?agent=..&state=Pending.",
)
async def by_state(
    agent: Agent, state: str, request: Request, limit: Limit = 100, offset: Offset = 0, size: Size = 10
) -> Response:
    wanted = _state(state)
    if wanted is TaskState.PENDING:
        return (await handlers.lease_size(_queue(request), agent, size, request.url.path)).response()
    criteria = TaskFilter(agent=agent, state=wanted, limit=limit, offset=offset)
    return JSONResponse([task_json(task) for task in await _queue(request).find(criteria)])


@router.get("/{task_id}", response_model=TaskOut, summary="One task")
async def get_task(task_id: str, request: Request) -> JSONResponse:
    return JSONResponse(task_json(await _queue(request).get(task_id)))
