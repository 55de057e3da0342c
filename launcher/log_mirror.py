"""`LogMirror`: copy what the services write to their log files onto `openclara up`'s terminal.

Each child writes straight to `$CLARA_HOME/run/<service>.log` (so `clara <service> logs` finds it, and a
child never blocks on, or dies with, a pipe to the supervisor); a thread follows those files from where
they ended when `up` started them and writes the new lines to our stderr, so the terminal shows the
stack's log as before.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import BinaryIO

_POLL_SECONDS = 0.1


class LogMirror:
    """Follows log files (added as services start) and copies new bytes to `sink`."""

    def __init__(self, sink: BinaryIO | None = None) -> None:
        self._sink = sink if sink is not None else sys.stderr.buffer
        self._offsets: dict[Path, int] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-mirror", daemon=True)

    def follow(self, path: Path) -> None:
        """Copy what is written to `path` from now on (what it held before is an earlier run's)."""
        with self._lock:
            self._offsets[path] = path.stat().st_size if path.exists() else 0
        if not self._thread.is_alive() and not self._stopped.is_set():
            self._thread.start()

    def drain(self) -> None:
        """Copy everything written so far (before `up` prints a message that refers to it)."""
        with self._lock:
            for path, offset in self._offsets.items():
                self._offsets[path] = self._copy(path, offset)
            self._sink.flush()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        self.drain()

    def _run(self) -> None:
        while not self._stopped.wait(_POLL_SECONDS):
            self.drain()

    def _copy(self, path: Path, offset: int) -> int:
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except OSError:
            return offset
        # Only whole lines: two services' half lines are never glued together.
        end = chunk.rfind(b"\n") + 1
        if end:
            self._sink.write(chunk[:end])
        return offset + end
