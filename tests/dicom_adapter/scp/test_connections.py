"""Connections: pending ones are capped and the oldest goes first; only associations count as such."""

from __future__ import annotations

from dicom_adapter.scp.connections import Connections


class Peer:
    def __init__(self, name: str) -> None:
        self.name = name
        self.evicted: str | None = None

    def evict(self, outcome: str) -> None:
        self.evicted = outcome


def test_beyond_the_cap_the_oldest_pending_connection_is_evicted():
    connections = Connections(max_pending=2)
    a, b, c = Peer("a"), Peer("b"), Peer("c")
    assert connections.opened(a) is None and connections.opened(b) is None
    assert connections.opened(c) is a
    assert connections.pending == 2 and connections.associations == 0


def test_an_association_leaves_the_pending_ones_and_a_rejected_one_returns():
    connections = Connections(max_pending=2)
    a, b, c = Peer("a"), Peer("b"), Peer("c")
    connections.opened(a)
    connections.opened(b)
    connections.associating(a)
    assert (connections.pending, connections.associations) == (1, 1)
    assert connections.opened(c) is None  # a no longer takes a pending place
    assert connections.rejected(a) is b  # a is pending again, the newest: b is now the oldest
    assert (connections.pending, connections.associations) == (2, 0)
    assert connections.take_pending() == [c, a] and connections.pending == 0
    connections.closed(a)
    connections.closed(a)  # idempotent
