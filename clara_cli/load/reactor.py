"""A guard around pynetdicom's reactor pause, so no C-STORE response is taken by the wrong thread.

pynetdicom (2.x, 3.x) runs a reactor thread per association. Before each `send_c_store` the caller
clears `_reactor_checkpoint` and waits for `_is_paused`, but the reactor sets that flag just before it
calls `wait()`: a reactor that passed `wait()` while the event was still set is counted as paused, then
takes the C-STORE response off the queue itself and drops it ("Received unexpected C-STORE-RSP"), and the
sender waits out its DIMSE timeout. It happened twice in about 1,400 CT instances
in soak runs on a loaded machine. `park()` waits until the reactor is really blocked inside `wait()` on a cleared event.
"""

from __future__ import annotations

import threading
from typing import Any

_PARK_TIMEOUT = 5.0  # the reactor loops every millisecond; far longer means it has stopped (abort, release)


class ReactorGate(threading.Event):
    """Stands in for `Association._reactor_checkpoint` and tells when the reactor is parked on it."""

    def __init__(self) -> None:
        super().__init__()
        self.set()  # the reactor runs until the first send
        self.parked = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if self.is_set():
            return True
        self.parked.set()
        try:
            return super().wait(timeout)
        finally:
            self.parked.clear()

    def park(self) -> None:
        """Clear the gate and return once the reactor waits on it (or gave up running).

        `parked` is reset first: the reactor may not yet have woken from the previous send's wait,
        whose `parked` is still set although that reactor is about to run one more round.
        """
        self.parked.clear()
        self.clear()
        self.parked.wait(_PARK_TIMEOUT)


def install(assoc: Any) -> ReactorGate | None:
    """Put a gate in place of the association's checkpoint; None when this pynetdicom has no such thing."""
    if not isinstance(getattr(assoc, "_reactor_checkpoint", None), threading.Event):
        return None
    gate = ReactorGate()
    assoc._reactor_checkpoint = gate
    return gate
