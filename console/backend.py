"""Backend: the console's clients of the three services, opened once and shared by every request.

The console calls them with the stack's admin token (`settings.api_token`, else the credentials file),
whatever the browser's session: the session's role is checked by the console's own routes first.
A service that is down or refuses becomes a `ServiceError` naming it; pages show it instead of failing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from console.job_index import JobIndex
from console.settings import ConsoleSettings
from openclara.auth.credentials import client_token
from openclara.https import async_server_name_hook, verify_for
from openclara.metrics import Figures, scrape
from platform_api.client import PlatformClient
from platform_api.errors import PlatformError

# The overview waits this long for the platform's figures before it shows them as not available.
METRICS_TIMEOUT = 2.0
ENTITY_PATHS = {"aetitles": "claraaetitle", "sources": "sourceaetitle", "destinations": "destinationaetitle"}


class ServiceError(Exception):
    """A service did not answer, or answered with an error; `status` is what the console answers."""

    def __init__(self, service: str, detail: str, status: int = 502) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail
        self.status = status


class Rest:
    """One REST service: JSON in and out, errors as ServiceError with the service's own message."""

    def __init__(self, name: str, base_url: str, headers: dict[str, str]) -> None:
        self.name = name
        self.client = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10.0)

    async def call(self, method: str, path: str, *, params: Any = None, body: Any = None,
                   ok: tuple[int, ...] = ()) -> Any:
        try:
            response = await self.client.request(method, path, params=params, json=body)
        except httpx.HTTPError as exc:
            raise ServiceError(self.name, f"not reachable at {self.client.base_url} ({exc.__class__.__name__})",
                               503) from exc
        if response.is_error and response.status_code not in ok:
            raise ServiceError(self.name, _message(response), response.status_code)
        if not response.content:
            return None
        return response.json() if "json" in response.headers.get("content-type", "") else response.text

    async def up(self) -> bool:
        try:
            return (await self.client.get("/health/ready", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(data, dict):
        text = data.get("detail") or data.get("title") or data.get("message") or data
        return f"HTTP {response.status_code}: {text}"
    return f"HTTP {response.status_code}: {data}"


def _metrics_client(settings: ConsoleSettings) -> httpx.AsyncClient:
    """The platform serves /metrics with the certificate of its gRPC API, so `platform_tls` verifies it too."""
    url = settings.metrics_url
    hooks = {"request": [async_server_name_hook(settings.platform_tls.server_name)]} \
        if url.startswith("https://") and settings.platform_tls.server_name else {}
    return httpx.AsyncClient(verify=verify_for(url, settings.platform_tls), timeout=METRICS_TIMEOUT,
                             event_hooks=hooks)


class Backend:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        token = settings.api_token or client_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.platform = PlatformClient(settings.platform_endpoint, token=token or "", tls=settings.platform_tls,
                                       timeout=10.0)
        self.jobs = JobIndex(self.platform, settings.job_list_max_age_seconds)
        self.results = Rest("results service", settings.results_url, headers)
        self.adapter = Rest("DICOM adapter", settings.dicom_api_url, headers)
        self._token = token
        self._metrics = _metrics_client(settings)
        self._warm_up: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """List the jobs in the background now, so the first page does not wait for it; every client
        connects on its first call (a service may start later)."""
        self._warm_up = asyncio.create_task(self._list_jobs_once(), name="console-job-warm-up")

    async def _list_jobs_once(self) -> None:
        try:
            await self.jobs.jobs()
        except Exception:  # the platform is not up yet: the first page lists the jobs itself
            return

    async def close(self) -> None:
        if self._warm_up is not None:
            self._warm_up.cancel()
        await self.platform.close()
        await self.results.client.aclose()
        await self.adapter.client.aclose()
        await self._metrics.aclose()

    async def platform_up(self) -> bool:
        try:
            await asyncio.wait_for(self.platform.version(), 2.0)
        except (PlatformError, TimeoutError):
            return False
        return True

    async def adapter_figures(self) -> Figures:
        """One scrape of the DICOM adapter's /metrics (its client already carries the token); ScrapeError if none."""
        return await scrape(self.adapter.client, "/metrics", None)

    async def platform_figures(self) -> Figures:
        """One scrape of the platform's /metrics (its own HTTP port, not the gRPC API); ScrapeError if none."""
        return await scrape(self._metrics, self.settings.metrics_url, self._token)

    async def task_counts(self) -> dict[str, Counter[str]]:
        """Tasks by agent (the destination side) and state, from the results service's own gauge."""
        text = await self.results.call("GET", "/metrics")
        counts: dict[str, Counter[str]] = {}
        for family in text_string_to_metric_families(str(text)):
            if family.name != "openclara_results_tasks":
                continue
            for sample in family.samples:
                agent, state = sample.labels.get("agent", "?"), sample.labels.get("state", "?")
                counts.setdefault(agent, Counter())[state] += int(sample.value)
        return counts
