"""ResultsClient: lease export tasks from the results service and report their outcome (httpx).

Leasing failures surface as ResultsServiceError (the agent backs off its polling). Outcome reports are
retried with backoff while the service is down: a lost report only costs a re-lease, and the persisted
progress makes the re-run send nothing, but retrying keeps the outcome prompt.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

import httpx
import structlog

from dicom_adapter.export.errors import ResultsServiceError
from dicom_adapter.export.task import ExportTask, task_from_json
from openclara.auth.credentials import SERVICES, auth_headers
from openclara.backoff import exponential
from openclara.https import async_server_name_hook, verify_for
from openclara.tls import ClientTlsSettings

log = structlog.get_logger()

_REPORT_ATTEMPTS = 6
_REPORT_BACKOFF_SECONDS = 0.5


class ResultsClient:
    """HTTP client of one agent's task queue in the results service (HTTPS verified with `tls`)."""

    def __init__(
        self,
        endpoint: str,
        agent: str,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tls: ClientTlsSettings | None = None,
    ) -> None:
        self._agent = agent
        server_name = tls.server_name if tls is not None else None
        hooks = {"request": [async_server_name_hook(server_name)]} if server_name else {}
        self._client = httpx.AsyncClient(base_url=endpoint.rstrip("/"), timeout=timeout, transport=transport,
                                         headers=auth_headers(SERVICES), verify=verify_for(endpoint, tls),
                                         event_hooks=hooks)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def lease(self, size: int) -> list[ExportTask]:
        """Up to `size` pending tasks, now InProgress and ours until reported or the lease expires."""
        try:
            response = await self._client.get(f"/api/tasks/{self._agent}/pending", params={"size": size})
        except httpx.HTTPError as exc:
            raise ResultsServiceError(f"results service unreachable: {exc!r}") from exc
        if response.status_code != HTTPStatus.OK:
            raise ResultsServiceError(f"lease failed: HTTP {response.status_code}: {_detail(response)}")
        body: Any = response.json()
        if not isinstance(body, list):
            raise ResultsServiceError("lease answer is not a JSON list")
        try:
            return [task_from_json(item) for item in body]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ResultsServiceError(f"lease answer is not a list of tasks: {exc!r}") from exc

    async def succeed(self, task: ExportTask) -> str | None:
        """Report delivery; the task's new state, or None when the report could not be made."""
        return await self._report(task, "success", None)

    async def fail(self, task: ExportTask, retry_later: bool, error: str) -> str | None:
        """Report failure with the reason (stored by the service, shown by `clara results list`)."""
        return await self._report(task, "failure", {"retryLater": retry_later, "error": error[:4000]})

    async def _report(self, task: ExportTask, outcome: str, body: dict[str, Any] | None) -> str | None:
        params = {"leaseId": task.lease_id} if task.lease_id else None
        url = f"/api/tasks/{outcome}/{task.task_id}"
        for attempt in range(1, _REPORT_ATTEMPTS + 1):
            try:
                response = await self._client.put(url, json=body, params=params)
            except httpx.HTTPError as exc:
                log.warning(
                    "export.results.report_retry",
                    task_id=task.task_id,
                    outcome=outcome,
                    attempt=attempt,
                    error=repr(exc),
                )
            else:
                if response.status_code < 300:
                    return _state_of(response)
                if response.status_code < 500:
                    # 404/409: the task is gone or was leased again elsewhere; retrying cannot change that.
                    log.warning(
                        "export.results.report_rejected",
                        task_id=task.task_id,
                        outcome=outcome,
                        status=response.status_code,
                        detail=_detail(response),
                    )
                    return None
                log.warning(
                    "export.results.report_retry",
                    task_id=task.task_id,
                    outcome=outcome,
                    attempt=attempt,
                    status=response.status_code,
                )
            await asyncio.sleep(exponential(attempt - 1, _REPORT_BACKOFF_SECONDS))
        log.error("export.results.report_lost", task_id=task.task_id, outcome=outcome)
        return None


def _state_of(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body["state"]) if isinstance(body, dict) and "state" in body else None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)[:200]
