"""`Connections`: the SCP's open TCP connections, split into associations and pending connections.

A connection is pending until its A-ASSOCIATE-RQ has arrived whole, and again once it has been
rejected (lingering until the peer closes). Only associations count against `maximum_associations`;
pending connections have their own cap, `max_pending_connections`, and when a new connection would
exceed it the *oldest* pending one is evicted (closed).

Why the oldest, not the newest: a real PACS sends its A-ASSOCIATE-RQ within a round trip of
connecting, so its connection is pending for a millisecond; a peer that holds sockets open without
speaking has the oldest pending ones. Refusing new connections instead would let whoever holds the
cap first (idle sockets, re-opened as they time out) lock every PACS out; evicting the oldest means
holding sockets open gains nothing, and pushing a PACS out takes more new connections within its
first round trip than the cap.
"""

from __future__ import annotations

from typing import Protocol

EVICTED = "error: evicted: too many pending connections"  # the AssociationRecord outcome
STOPPING = "aborted: server stopping"


class Evictable(Protocol):
    def evict(self, outcome: str) -> None:
        """Close this pending connection soon, recording `outcome` (from the event loop; must not block)."""
        ...

    @property
    def receiving(self) -> tuple[str, float] | None:
        """(called AE title, monotonic start) of the instance it is receiving now, if any."""
        ...


class Connections:
    """Counts and orders the open connections of one SCP; called on the event loop only."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._pending: dict[Evictable, None] = {}  # insertion order: oldest first
        self._associations: set[Evictable] = set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def associations(self) -> int:
        return len(self._associations)

    def opened(self, connection: Evictable) -> Evictable | None:
        """A new connection, pending; returns the oldest pending one when that exceeds the cap (the
        caller evicts it)."""
        return self._add_pending(connection)

    def associating(self, connection: Evictable) -> None:
        """Its A-ASSOCIATE-RQ arrived: an association from now on (accepted or not yet decided)."""
        self._pending.pop(connection, None)
        self._associations.add(connection)

    def rejected(self, connection: Evictable) -> Evictable | None:
        """Rejected: pending again while it lingers, holding no association slot; like `opened`."""
        self._associations.discard(connection)
        return self._add_pending(connection)

    def receiving(self) -> list[tuple[str, float]]:
        """(called AE title, monotonic start) of every instance being received right now."""
        return [now for now in (a.receiving for a in self._associations) if now is not None]

    def take_pending(self) -> list[Evictable]:
        """Every pending connection, oldest first, forgotten here (stop() evicts them all)."""
        pending = list(self._pending)
        self._pending.clear()
        return pending

    def closed(self, connection: Evictable) -> None:
        self._pending.pop(connection, None)
        self._associations.discard(connection)

    def _add_pending(self, connection: Evictable) -> Evictable | None:
        self._pending[connection] = None
        if len(self._pending) <= self.max_pending:
            return None
        oldest = next(iter(self._pending))
        del self._pending[oldest]
        return oldest
