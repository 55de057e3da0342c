"""The fake's etcd: objects by (resource, namespace, name), one resourceVersion counter, a bounded event history
and the queues of open watches.

Everything here runs on the fake's event loop thread. A stored object is never changed in place: every write
stores a new dict, so the dicts held by events, watches and responses stay as they were when published.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.kube_api.selectors import Matcher
from tests.kube_api.status import already_exists, expired, not_found

Key = tuple[str, str, str]  # (resource, namespace, name)


def now_rfc3339(offset: float = 0.0) -> str:
    """Server time as metav1.Time writes it: RFC 3339, UTC, whole seconds."""
    return datetime.fromtimestamp(datetime.now(UTC).timestamp() + offset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: str
    obj: dict[str, Any]
    old: dict[str, Any] | None = None  # the object before a MODIFIED, to tell a watch when it leaves its selector

    def as_seen_by(self, visible: Matcher) -> str | None:
        """The event type a watch with this filter receives, or None: an object that starts (stops) matching the
        selector arrives as ADDED (DELETED), as the apiserver's watch cache does."""
        now = visible(self.obj)
        if self.type != "MODIFIED":
            return self.type if now else None
        before = self.old is not None and visible(self.old)
        if now and before:
            return "MODIFIED"
        return "ADDED" if now else "DELETED" if before else None


class Store:
    def __init__(self, history: int = 1000) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.rv = 0
        self.history: deque[Event] = deque(maxlen=history)
        self.compacted = 0  # events up to this resourceVersion are gone from the history
        self.watches: set[asyncio.Queue[Event]] = set()

    def _publish(self, event: Event) -> None:
        if len(self.history) == self.history.maxlen:
            self.compacted = self.history[0].rv
        self.history.append(event)
        for queue in self.watches:
            queue.put_nowait(event)

    def _stamp(self, obj: dict[str, Any]) -> int:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        return self.rv

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.get((resource, namespace, name))
        if obj is None:
            raise not_found(resource, name)
        return obj

    def items_of(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The objects of `resource` (in `namespace`, or all), in etcd's key order: namespace, then name."""
        return [
            obj for (res, ns, _), obj in sorted(self.objects.items()) if res == resource and namespace in (None, ns)
        ]

    def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj["metadata"]
        key = (resource, metadata["namespace"], metadata["name"])
        if key in self.objects:
            raise already_exists(resource, metadata["name"])
        metadata |= {"uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339()}
        self.objects[key] = obj
        self._publish(Event(self._stamp(obj), "ADDED", resource, obj))
        return obj

    def update(self, key: Key, uid: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        """Apply `change` to a copy of the object `uid` at `key`, store it, publish MODIFIED. None if it is gone
        (deleted, or replaced by a namesake)."""
        old = self.objects.get(key)
        if old is None or old["metadata"]["uid"] != uid:
            return None
        new = copy.deepcopy(old)
        change(new)
        self.objects[key] = new
        self._publish(Event(self._stamp(new), "MODIFIED", key[0], new, old))
        return new

    def remove(self, key: Key, uid: str) -> dict[str, Any] | None:
        old = self.objects.get(key)
        if old is None or old["metadata"]["uid"] != uid:
            return None
        del self.objects[key]
        gone = copy.deepcopy(old)
        # The DELETED event carries the object at a new resourceVersion, as etcd's delete revision.
        self._publish(Event(self._stamp(gone), "DELETED", key[0], gone))
        return gone

    def compact(self) -> None:
        """Forget the event history, as etcd compaction does: older watches get 410 Expired."""
        self.history.clear()
        self.compacted = self.rv

    def events_after(self, rv: int) -> list[Event]:
        """The published events after resourceVersion `rv`; 410 Expired when some of them were compacted."""
        if rv < self.compacted:
            raise expired(rv, self.compacted + 1)
        return [event for event in self.history if event.rv > rv]

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self.watches.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self.watches.discard(queue)
