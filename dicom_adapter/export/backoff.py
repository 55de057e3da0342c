"""Backoff clocks: the idle poll interval, and per-destination retry delays after failed deliveries.

A destination that fails backs off on its own (base * 2**(failures-1), capped), so tasks for the other
destinations keep flowing; one success resets it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from openclara.backoff import exponential


class IdleBackoff:
    """Poll interval that doubles while there is nothing to do and snaps back when work arrives."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self._minimum = minimum
        self._maximum = maximum
        self._empty_polls = 0

    @property
    def current(self) -> float:
        return exponential(self._empty_polls, self._minimum, self._maximum)

    def idle(self) -> float:
        """Record an empty poll; return how long to wait before the next one."""
        delay = self.current
        self._empty_polls += 1
        return delay

    def busy(self) -> None:
        self._empty_polls = 0


@dataclass
class _DestinationState:
    failures: int = 0
    ready_at: float = 0.0
    last_error: str = ""


class DestinationBackoff:
    """Per-destination failure counts and the earliest time of the next attempt (case-insensitive names)."""

    def __init__(self, base: float, maximum: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._base = base
        self._maximum = maximum
        self._clock = clock
        self._states: dict[str, _DestinationState] = {}

    def delay_for(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return exponential(failures - 1, self._base, self._maximum)

    def remaining(self, name: str) -> float:
        """Seconds until `name` may be tried again (0 = now)."""
        state = self._states.get(name.lower())
        return max(0.0, state.ready_at - self._clock()) if state else 0.0

    def last_error(self, name: str) -> str:
        state = self._states.get(name.lower())
        return state.last_error if state else ""

    def failed(self, name: str, error: str) -> float:
        """Record a failed delivery; return the delay before the next attempt."""
        state = self._states.setdefault(name.lower(), _DestinationState())
        state.failures += 1
        state.last_error = error
        delay = self.delay_for(state.failures)
        state.ready_at = self._clock() + delay
        return delay

    def succeeded(self, name: str) -> None:
        self._states.pop(name.lower(), None)
