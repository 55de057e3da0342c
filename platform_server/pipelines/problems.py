"""Collecting definition problems: `file:line: operator 'x': ...` prefixes and unknown-key (did you mean) checks."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """` (did you mean 'gpu'?)` for a near miss, else the list of known keys."""
    options = sorted(known)
    # A key over three times the longest option can be neither within the edit budget nor 0.6 similar;
    # skipping it keeps the cost linear in the size of the document (a 100 KB key cost seconds).
    if len(key) > 3 * max(map(len, options), default=0):
        return f" (known: {', '.join(options)})"
    # Edit distance first, counting a swap of two letters as one edit ('form' is 'from', not 'format');
    # difflib's similarity catches the rest.
    distances = {option: _edits(key, option) for option in options}
    best = min(options, key=lambda o: (distances[o], o), default=None)
    if best is not None and distances[best] <= max(2, len(key) // 4):
        return f" (did you mean {best!r}?)"
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(options)})"


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def line_of(value: Any, default: int) -> int:
    """The YAML line a mapping starts on (LineDict), or `default` for scalars and lists."""
    line = getattr(value, "line", 0)
    return line if isinstance(line, int) and line > 0 else default


class Problems:
    """Prefixes each problem with `file:line: operator 'name':` and counts them, so a parser knows it failed."""

    def __init__(self, path: str, line: int, sink: list[str], subject: str = "") -> None:
        self.path = path
        self.line = line
        self.subject = subject  # e.g. "operator 'reader'"; empty for document-level problems
        self.sink = sink
        self.count = 0

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def add(self, problem: str, line: int | None = None) -> None:
        prefix = f"{self.path}:{self.line if line is None else line}: "
        self.sink.append(f"{prefix}{self.subject}: {problem}" if self.subject else f"{prefix}{problem}")
        self.count += 1

    def keys(self, mapping: Mapping[str, Any], known: Iterable[str], what: str, line: int | None = None) -> None:
        """Report every key of `mapping` that is not in `known`, naming the nearest valid key."""
        known = set(known)
        for key in mapping:
            if key not in known:
                self.add(f"unknown key {key!r} in {what}{did_you_mean(str(key), known)}",
                         line_of(mapping, line or self.line))

    def child(self, subject: str, path: str, line: int) -> Problems:
        """Same sink, another subject and place (a service inside an operator); counts go to both."""
        return _Child(self, subject, path, line)


class _Child(Problems):
    def __init__(self, parent: Problems, subject: str, path: str, line: int) -> None:
        super().__init__(path, line, parent.sink, subject)
        self.parent = parent

    def add(self, problem: str, line: int | None = None) -> None:
        super().add(problem, line)
        self.parent.count += 1
