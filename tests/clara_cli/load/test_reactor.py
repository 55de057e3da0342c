"""The gate keeps a pynetdicom-style reactor parked while a C-STORE is on the wire."""

from __future__ import annotations

import threading
import time

from clara_cli.load.reactor import ReactorGate, install


def test_park_returns_only_once_the_reactor_waits_on_the_cleared_gate() -> None:
    gate = ReactorGate()
    rounds = 0
    stop = False

    def reactor() -> None:  # what pynetdicom's reactor does: wait on the checkpoint, then look at the queue
        nonlocal rounds
        while not stop:
            gate.wait()
            rounds += 1
            time.sleep(0.001)

    thread = threading.Thread(target=reactor)
    thread.start()
    try:
        for _ in range(20):
            gate.park()
            parked_at = rounds
            time.sleep(0.01)
            assert rounds == parked_at  # no round while "the C-STORE is on the wire"
            gate.set()  # what send_c_store does once it has its response
            time.sleep(0.003)
    finally:
        stop = True
        gate.set()
        thread.join()


def test_install_replaces_the_checkpoint_and_leaves_other_objects_alone() -> None:
    class Assoc:
        _reactor_checkpoint = threading.Event()

    assoc = Assoc()
    gate = install(assoc)
    assert gate is not None and assoc._reactor_checkpoint is gate and gate.is_set()
    assert install(object()) is None
