"""HotRoutes: the plain register/lease/success requests skip FastAPI; everything else reaches it unchanged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from results_service.api.hot_routes import HotRoutes
from tests.results_service.api.test_routes_tasks import PROBLEM, body

VOLATILE = {"taskId", "leaseId", "leaseExpires", "created", "updated", "nextAttempt", "jobId", "payloadId"}


def _stable(task: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in task.items() if key not in VOLATILE}


async def test_hot_and_fastapi_paths_answer_alike(client: httpx.AsyncClient) -> None:
    """An extra query parameter sends the same request through FastAPI: both answers must match."""
    hot = await client.post("/api/tasks/register/ClaraSCU", json=body("hot"))
    slow = await client.post("/api/tasks/register/ClaraSCU?via=fastapi", json=body("slow"))
    assert (
        (hot.status_code, hot.headers["content-type"])
        == (slow.status_code, slow.headers["content-type"])
        == (
            201,
            "application/json",
        )
    )
    assert _stable(hot.json()) == _stable(slow.json())
    assert list(hot.json()) == list(slow.json())  # same keys in the same order

    leased_hot = await client.get("/api/tasks/ClaraSCU/pending", params={"size": 1})
    leased_slow = await client.get("/api/tasks/ClaraSCU/pending", params={"size": 1, "via": "fastapi"})
    assert [_stable(t) for t in leased_hot.json()] == [_stable(t) for t in leased_slow.json()]

    done_hot = await client.put(f"/api/tasks/success/{leased_hot.json()[0]['taskId']}")
    done_slow = await client.put(f"/api/tasks/success/{leased_slow.json()[0]['taskId']}", params={"via": "x"})
    assert done_hot.status_code == done_slow.status_code == 200
    assert _stable(done_hot.json()) == _stable(done_slow.json())
    assert done_hot.json()["state"] == "Succeeded"


async def test_queue_errors_become_the_same_problems(client: httpx.AsyncClient) -> None:
    hot = await client.put("/api/tasks/success/nope")
    slow = await client.put("/api/tasks/success/nope", params={"via": "fastapi"})
    assert hot.status_code == slow.status_code == 404
    assert hot.headers["content-type"] == slow.headers["content-type"] == PROBLEM
    assert hot.json() == slow.json()


async def test_register_with_stale_lease_id_is_409(client: httpx.AsyncClient) -> None:
    await client.post("/api/tasks/register/ClaraSCU", json=body())
    (task,) = (await client.get("/api/tasks/ClaraSCU/pending?size=1")).json()
    response = await client.put(f"/api/tasks/success/{task['taskId']}", params={"leaseId": "not-the-lease"})
    assert response.status_code == 409
    assert "only an InProgress task" in response.json()["detail"] or "stale" in response.json()["detail"]


async def test_default_lease_size_is_ten(client: httpx.AsyncClient) -> None:
    for i in range(12):
        await client.post("/api/tasks/register/ClaraSCU", json=body(f"j{i}"))
    assert len((await client.get("/api/tasks/ClaraSCU/pending")).json()) == 10


class FakeQueue:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.error = error

    async def lease(self, agent: str, size: int) -> list[Any]:
        self.calls.append(("lease", (agent, size)))
        if self.error:
            raise self.error
        return []


class Downstream:
    """Stands in for FastAPI: records what reached it, including the body it could read."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.seen.append((scope["method"], scope["path"], message.get("body", b"")))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _call(
    queue: FakeQueue, method: str, path: str, query: bytes = b"", body: bytes = b"", ctype: bytes = b"application/json"
) -> tuple[Downstream, list[Message]]:
    downstream = Downstream()
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"content-type", ctype)],
        "app": SimpleNamespace(state=SimpleNamespace(queue=queue)),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await HotRoutes(downstream)(scope, receive, send)
    return downstream, sent


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/api/tasks/ClaraSCU/pending/", b""),  # trailing slash
        ("GET", "/api/tasks/bad_name/pending", b""),  # agent rule: FastAPI words the 400
        ("GET", "/api/tasks/ClaraSCU/pending", b"size=0"),  # bounds: FastAPI words the 422
        ("GET", "/api/tasks/ClaraSCU/pending", b"size=+5"),
        ("GET", "/api/tasks/ClaraSCU/pending", b"size=1&size=2"),
        ("GET", "/api/tasks/ClaraSCU/Pending", b""),  # other spellings are by_state's business
        ("GET", "/api/tasks", b""),
        ("DELETE", "/api/tasks/success/abc", b""),
        ("PUT", "/api/tasks/failure/abc", b""),
    ],
)
async def test_unusual_requests_fall_through(method: str, path: str, query: bytes) -> None:
    queue = FakeQueue()
    downstream, sent = await _call(queue, method, path, query)
    assert downstream.seen == [(method, path, b"")]
    assert queue.calls == []
    assert sent[0]["status"] == 299


@pytest.mark.parametrize(
    ("payload", "ctype"),
    [
        (b'{"jobId": ', b"application/json"),  # not JSON
        (b'{"jobId": "j"}', b"application/json"),  # no uris
        (b'{"jobId": "j", "uris": ["a"]}', b"text/plain"),  # not declared as JSON
    ],
)
async def test_register_fall_through_keeps_the_body(payload: bytes, ctype: bytes) -> None:
    downstream, _ = await _call(FakeQueue(), "POST", "/api/tasks/register/ClaraSCU", body=payload, ctype=ctype)
    assert downstream.seen == [("POST", "/api/tasks/register/ClaraSCU", payload)]


async def test_lease_is_answered_without_fastapi() -> None:
    queue = FakeQueue()
    downstream, sent = await _call(queue, "GET", "/api/tasks/ClaraSCU/pending", b"size=7")
    assert downstream.seen == []
    assert queue.calls == [("lease", ("ClaraSCU", 7))]
    assert sent[0]["status"] == 200
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert sent[1]["body"] == b"[]"


async def test_unexpected_error_is_500_problem_pointing_at_the_log() -> None:
    _, sent = await _call(FakeQueue(RuntimeError("boom")), "GET", "/api/tasks/ClaraSCU/pending")
    assert sent[0]["status"] == 500
    assert b"see the service log" in sent[1]["body"]
    assert b"boom" not in sent[1]["body"]


async def test_register_with_a_query_falls_through() -> None:
    downstream, _ = await _call(FakeQueue(), "POST", "/api/tasks/register/ClaraSCU", b"via=x", b'{"jobId": "j"}')
    assert downstream.seen == [("POST", "/api/tasks/register/ClaraSCU", b'{"jobId": "j"}')]
