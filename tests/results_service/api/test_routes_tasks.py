from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.results_service.conftest import FakeClock, FakeDeleter

PROBLEM = "application/problem+json"


def body(job: str = "job-1", destination: str = "MYPACS", **extra: Any) -> dict[str, Any]:
    return {
        "jobId": job,
        "pipelineId": "pipe",
        "payloadId": f"payload-{job}",
        "parameters": f'"{destination}"',
        "uris": ["operators/seg/out/seg.dcm"],
        **extra,
    }


async def _register(client: httpx.AsyncClient, **kwargs: Any) -> dict[str, Any]:
    response = await client.post("/api/tasks/register/ClaraSCU", json=body(**kwargs))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _lease_one(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/tasks/ClaraSCU/pending", params={"size": 1})
    assert response.status_code == 200
    (task,) = response.json()
    result: dict[str, Any] = task
    return result


def _problem(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert detail in problem["detail"], problem["detail"]


async def test_register_returns_clara_task_json(client: httpx.AsyncClient) -> None:
    task = await _register(client)
    assert set(task) >= {
        "taskId",
        "jobId",
        "pipelineId",
        "payloadId",
        "agent",
        "parameters",
        "state",
        "retries",
        "uris",
        "created",
        "updated",
        "nextAttempt",
        "leaseExpires",
        "lastError",
    }
    assert (task["state"], task["retries"], task["parameters"], task["agent"]) == ("Pending", 0, '"MYPACS"', "ClaraSCU")
    assert task["created"].endswith("Z")


async def test_register_again_returns_existing_task_with_200(client: httpx.AsyncClient) -> None:
    first = await _register(client)
    again = await client.post("/api/tasks/register/ClaraSCU", json=body())
    assert again.status_code == 200 and again.json()["taskId"] == first["taskId"]


async def test_register_accepts_parameters_as_json_value(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/tasks/register/ClaraSCU", json=body(parameters=["A", "B"]))
    assert response.status_code == 201 and response.json()["parameters"] == '["A", "B"]'


async def test_full_cycle_lease_success(client: httpx.AsyncClient) -> None:
    task = await _register(client)
    leased = await _lease_one(client)
    assert leased["taskId"] == task["taskId"] and leased["state"] == "InProgress" and leased["leaseId"]
    done = await client.put(f"/api/tasks/success/{task['taskId']}")
    assert done.status_code == 200 and done.json()["state"] == "Succeeded"
    fetched = await client.get(f"/api/tasks/{task['taskId']}")
    assert fetched.json()["state"] == "Succeeded"


async def test_failure_accepts_clara_pascal_case(client: httpx.AsyncClient, clock: FakeClock) -> None:
    task = await _register(client)
    await _lease_one(client)
    response = await client.put(f"/api/tasks/failure/{task['taskId']}", json={"RetryLater": True})
    assert response.json()["state"] == "Pending" and response.json()["retries"] == 1
    clock.advance(10)
    await _lease_one(client)
    response = await client.put(f"/api/tasks/failure/{task['taskId']}", json={"retryLater": False, "error": "refused"})
    assert response.json()["state"] == "Failed" and response.json()["lastError"] == "refused"


async def test_failure_without_body_is_terminal(client: httpx.AsyncClient) -> None:
    task = await _register(client)
    await _lease_one(client)
    response = await client.put(f"/api/tasks/failure/{task['taskId']}")
    assert response.status_code == 200 and response.json()["state"] == "Failed"


async def test_retry_redrives_failed_task(client: httpx.AsyncClient) -> None:
    task = await _register(client)
    await _lease_one(client)
    await client.put(f"/api/tasks/failure/{task['taskId']}", json={"retryLater": False})
    response = await client.post(f"/api/tasks/{task['taskId']}/retry")
    assert response.status_code == 200 and response.json()["state"] == "Pending"
    _problem(await client.post(f"/api/tasks/{task['taskId']}/retry"), 409, "only a Failed task can be retried")


async def test_list_by_state_is_case_insensitive(client: httpx.AsyncClient) -> None:
    await _register(client)
    leased = await client.get("/api/tasks/ClaraSCU/PENDING")  # any spelling of pending leases, as Clara's path
    assert [t["state"] for t in leased.json()] == ["InProgress"]
    for name in ("inprogress", "INPROGRESS", "InProgress", "2"):
        response = await client.get(f"/api/tasks/ClaraSCU/{name}")
        assert [t["state"] for t in response.json()] == ["InProgress"]
    assert (await client.get("/api/tasks/ClaraSCU/succeeded")).json() == []
    await _register(client, job="other")
    listed = await client.get("/api/tasks", params={"agent": "ClaraSCU", "state": "inprogress", "jobId": "job-1"})
    assert len(listed.json()) == 1


async def test_list_paging(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await _register(client, job=f"j{i}")
    page = await client.get("/api/tasks", params={"limit": 2, "offset": 2})
    assert [t["jobId"] for t in page.json()] == ["j2"]


@pytest.mark.parametrize("agent", ["Clara-", "1SCU", "Clara_SCU", "-x"])
async def test_bad_agent_name_is_400_naming_the_rule(client: httpx.AsyncClient, agent: str) -> None:
    response = await client.post(f"/api/tasks/register/{agent}", json={})
    _problem(response, 400, "use letters, digits and '-' only, starting with a letter, not ending with '-'")
    _problem(await client.get(f"/api/tasks/{agent}/pending"), 400, "invalid agent name")


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/tasks/register/ClaraSCU", content=b'{"jobId": ', headers={"content-type": "application/json"}
    )
    _problem(response, 400, "request body is not valid JSON")


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"jobId": 5, "uris": ["a"]}, "jobId: Input should be a valid string"),
        ({"jobId": "j", "uris": "a.dcm"}, "uris: Input should be a valid list"),
        ({"jobId": "j", "uris": []}, "uris: List should have at least 1 item"),
        ({"jobId": "j", "uris": ["/etc/passwd"]}, "must be a non-empty path relative to the payload"),
        ({"jobId": "j", "uris": ["../x"]}, "without '..'"),
        ({"jobId": "j", "uris": ["a"], "parameters": "MYPACS"}, "parameters must be JSON text"),
        ({"uris": ["a"]}, "jobId: Field required"),
    ],
)
async def test_register_wrong_types_are_422_with_message(
    client: httpx.AsyncClient, payload: dict[str, Any], detail: str
) -> None:
    _problem(await client.post("/api/tasks/register/ClaraSCU", json=payload), 422, detail)


async def test_failure_body_with_wrong_type_is_422(client: httpx.AsyncClient) -> None:
    task = await _register(client)
    await _lease_one(client)
    response = await client.put(f"/api/tasks/failure/{task['taskId']}", json={"retryLater": "maybe"})
    _problem(response, 422, "retryLater: Input should be a valid boolean")
    assert (await client.get(f"/api/tasks/{task['taskId']}")).json()["state"] == "InProgress"


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    huge = body(uris=[f"operators/x/{i:06}.dcm" for i in range(1000)])
    _problem(await client.post("/api/tasks/register/ClaraSCU", json=huge), 413, "larger than the limit of 4096 bytes")
    assert (await client.get("/api/tasks")).json() == []


async def test_wrong_transition_is_409_with_clear_message(client: httpx.AsyncClient) -> None:
    task = await _register(client)
    response = await client.put(f"/api/tasks/success/{task['taskId']}")
    _problem(response, 409, f"task {task['taskId']} is Pending (not leased); only an InProgress task can be reported")


async def test_unknown_task_is_404(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/tasks/0b5e0c4e-0000-0000-0000-000000000000"),
        await client.put("/api/tasks/success/missing"),
        await client.put("/api/tasks/failure/missing", json={"retryLater": True}),
        await client.post("/api/tasks/missing/retry"),
    ):
        _problem(response, 404, "no task with id")


async def test_unknown_state_is_400(client: httpx.AsyncClient) -> None:
    _problem(await client.get("/api/tasks/ClaraSCU/done"), 400, "unknown task state 'done'")


async def test_pending_size_bounds_are_422(client: httpx.AsyncClient) -> None:
    _problem(await client.get("/api/tasks/ClaraSCU/pending", params={"size": 0}), 422, "size")


async def test_openapi_documents_the_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {
        "/api/tasks/register/{agent}",
        "/api/tasks/{agent}/pending",
        "/api/tasks/success/{task_id}",
        "/api/tasks/failure/{task_id}",
        "/api/tasks/{task_id}/retry",
        "/api/tasks",
    } <= set(spec["paths"])


async def test_cleanup_background_uses_deleter(client: httpx.AsyncClient, deleter: FakeDeleter) -> None:
    """The lifespan wires the cleanup loop with the injected deleter (first pass runs at start-up)."""
    assert deleter.deleted == []


async def test_chunked_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is enforced while reading
        for _ in range(10):
            yield b"x" * 1000

    response = await client.post(
        "/api/tasks/register/ClaraSCU", content=chunks(), headers={"content-type": "application/json"}
    )
    _problem(response, 413, "larger than the limit")
