"""Readiness of a service: its HTTP port answers (any HTTP response counts, even 404).

A TCP connect is not enough: the pod's port forwarder accepts connections before anything inside
listens. Triton, like most servers, answers `/` with some status as soon as it serves HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

# Quick polls first (most services answer within a second), then gentler ones for slow model loads.
FIRST_POLLS = 0.05
POLL_INTERVAL = 0.2
QUICK_SECONDS = 2.0


async def answers(url: str, timeout: float = 1.0) -> bool:
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            await client.get(url)
    except httpx.HTTPError:
        return False
    return True


async def wait_until_answering(url: str, timeout: float, alive: Callable[[], Awaitable[bool]]) -> bool:
    """Poll `url` until it answers (True), `timeout` passes or `alive()` turns False (False)."""
    started = time.monotonic()
    deadline = started + timeout
    checks = 0
    while time.monotonic() < deadline:
        if await answers(url):
            return True
        checks += 1
        # Asking the engine costs a process: look at the container only every few polls.
        if checks % 5 == 0 and not await alive():
            return False
        await asyncio.sleep(FIRST_POLLS if time.monotonic() - started < QUICK_SECONDS else POLL_INTERVAL)
    return False
