"""Leasing export tasks from the results service and reporting outcomes."""

from __future__ import annotations

import json

import httpx
import pytest

from dicom_adapter.export import poller
from dicom_adapter.export.errors import ResultsServiceError
from dicom_adapter.export.poller import ResultsClient
from dicom_adapter.export.task import ExportTask

TASK = {
    "taskId": "t1",
    "jobId": "j",
    "pipelineId": "p",
    "payloadId": "pl",
    "agent": "ClaraSCU",
    "parameters": '"PACS"',
    "state": "InProgress",
    "retries": 0,
    "uris": ["a.dcm"],
    "leaseId": "L1",
}


def _client(handler) -> ResultsClient:
    return ResultsClient("http://results", "ClaraSCU", transport=httpx.MockTransport(handler))


async def test_lease_asks_for_the_agent_s_pending_tasks_and_parses_them():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=[TASK])

    client = _client(handler)
    [task] = await client.lease(5)
    await client.aclose()
    assert seen == ["http://results/api/tasks/ClaraSCU/pending?size=5"]
    assert task.task_id == "t1" and task.lease_id == "L1"


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(503, json={"detail": "database locked"}), "HTTP 503: database locked"),
        (httpx.Response(200, json={"not": "a list"}), "not a JSON list"),
        (httpx.Response(200, json=[{"jobId": "x"}]), "not a list of tasks"),
    ],
)
async def test_lease_errors_say_what_went_wrong(response, message):
    client = _client(lambda request: response)
    with pytest.raises(ResultsServiceError, match=message):
        await client.lease(1)
    await client.aclose()


async def test_lease_reports_an_unreachable_service():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = _client(handler)
    with pytest.raises(ResultsServiceError, match="results service unreachable"):
        await client.lease(1)
    await client.aclose()


async def test_failure_sends_retry_later_the_reason_and_the_lease(monkeypatch):
    monkeypatch.setattr(poller, "_REPORT_BACKOFF_SECONDS", 0.0)
    requests = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) == 1:
            return httpx.Response(503)
        return httpx.Response(200, json={**TASK, "state": "Pending"})

    client = _client(handler)
    task = ExportTask("t1", "j", "p", "pl", "ClaraSCU", '"PACS"', 0, ("a.dcm",), lease_id="L1")
    assert await client.fail(task, True, "PACS: cannot connect") == "Pending"
    await client.aclose()
    assert len(requests) == 2  # the 503 was retried
    assert requests[-1].method == "PUT"
    assert str(requests[-1].url) == "http://results/api/tasks/failure/t1?leaseId=L1"
    assert json.loads(requests[-1].content) == {"retryLater": True, "error": "PACS: cannot connect"}


async def test_a_rejected_report_is_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(409, json={"detail": "task t1 was leased again"})

    client = _client(handler)
    task = ExportTask("t1", "j", "p", "pl", "ClaraSCU", '"PACS"', 0, ("a.dcm",))
    assert await client.succeed(task) is None
    await client.aclose()
    assert len(calls) == 1
