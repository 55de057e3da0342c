"""The driver's step runner: runs one step, prints its JSON line, stops or keeps going, prints the summary.

Plain standard library (the driver imports it from the client's own virtualenv).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from compat_steps import Failed


class State:
    """Values earlier steps produced; a missing one says an earlier step did not make it."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self.values:
            raise Failed(f"needs {key!r}, which an earlier step did not produce")
        return self.values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value


class Report:
    """One JSON line per step: `{"step", "ok", "outcome", "detail"}` or `{"step", "ok": false, "error"}`."""

    def __init__(self, keep_going: bool) -> None:
        self.keep_going = keep_going
        self.failed: list[str] = []
        self.passed = 0

    def step(self, name: str, action: Callable[[], Any]) -> None:
        started = time.monotonic()
        line: dict[str, Any] = {"step": name}
        try:
            detail = action()
        except Exception as exc:  # noqa: BLE001 - every failure of a step is reported with its type
            line.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, Failed):
                line["traceback"] = traceback.format_exc(limit=4)
            self.failed.append(name)
        else:
            # A step may report a verified non-"ok" outcome: "client-defect" or "unsupported".
            outcome = detail.pop("outcome", "ok") if isinstance(detail, dict) else "ok"
            line.update(ok=True, outcome=outcome, detail=detail)
            self.passed += 1
        line["seconds"] = round(time.monotonic() - started, 3)
        print(json.dumps(line, default=str), flush=True)
        if self.failed and not self.keep_going:
            self.finish()

    def finish(self) -> None:
        print(json.dumps({"summary": {"passed": self.passed, "failed": self.failed}}), flush=True)
        sys.exit(1 if self.failed else 0)
