"""AuditLog: who changed what, when, from where (JSON lines, 0600), for every service of the stack.

Written synchronously and flushed per record: audit records are rare (configuration changes,
refusals), and one lost on a crash would be the one that mattered.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import structlog

log = structlog.get_logger()


class AuditLog:
    def __init__(self, path: Path, service: str) -> None:
        self.path = path
        self.service = service
        self._lock = threading.Lock()

    def record(self, *, who: str, what: str, where: str, outcome: str, detail: str = "") -> None:
        entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "service": self.service,
                 "who": who, "what": what, "from": where, "outcome": outcome}
        if detail:
            entry["detail"] = detail
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
                    handle.write(line)
        except OSError as exc:  # an audit log that cannot be written must be noticed, not crash the call
            log.error("audit.write_failed", path=str(self.path), error=str(exc))
