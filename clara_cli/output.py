"""Printing results: rich tables for people, JSON for scripts (`--output json`).

Identifiers are what users copy into the next command, so a table never cuts one: id columns keep
their full width (the first one always on one line) and the other columns fold to make room.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

# job_id, pipeline_id, id, taskId, jobId ...: the columns whose values are identifiers.
_ID_COLUMN = re.compile(r"(^|_)(id|ID)$|[a-z](Id|ID)$")
_MIN_OTHER = 4  # narrowest a folded non-id column is allowed to get when budgeting
_CHROME = 3  # per column: one border + one space of padding each side (the table adds one more border)

PIPED_WIDTH = 200  # columns of a table whose output is not a terminal


def is_id_column(column: str) -> bool:
    return bool(_ID_COLUMN.search(column))


def _header(column: str) -> str:
    return column.upper().replace("_", " ")


def _natural(values: list[str], column: str) -> int:
    lines = [line for value in values for line in value.splitlines()]
    return max([len(_header(column)), *(len(line) for line in lines)])


def _fair_share(natural: dict[str, int], room: int) -> dict[str, int]:
    """Water-filling: narrow columns keep their width, the rest split what is left equally."""
    widths: dict[str, int] = {}
    for index, column in enumerate(sorted(natural, key=natural.__getitem__)):
        share = max(1, room // (len(natural) - index))
        widths[column] = min(natural[column], share)
        room -= widths[column]
    return widths


def column_widths(cells: dict[str, list[str]], columns: Sequence[str], width: int) -> dict[str, int] | None:
    """Fixed widths when the table would be wider than `width` (None: it fits as it is).

    The first id column always keeps its full width, later ones while the other columns keep
    `_MIN_OTHER` characters each; everything else folds into what is left.
    """
    natural = {c: _natural(cells[c], c) for c in columns}
    room = width - (_CHROME * len(columns) + 1)
    if sum(natural.values()) <= room:
        return None
    reserved: dict[str, int] = {}
    budget = room - _MIN_OTHER * sum(not is_id_column(c) for c in columns)
    for column in (c for c in columns if is_id_column(c)):
        if reserved and natural[column] > budget:
            continue
        reserved[column] = natural[column]
        budget -= natural[column]
    rest = {c: natural[c] for c in columns if c not in reserved}
    return reserved | _fair_share(rest, room - sum(reserved.values()))


def _stdout_console() -> Console:
    """The terminal's width on a terminal; piped into a file or a log, rows are not squeezed into 80 columns."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console()
    return Console(width=PIPED_WIDTH)


def emit_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: str,
    title: str | None = None,
    console: Console | None = None,
) -> None:
    """Print rows as a table (fmt 'table') or as a JSON array (fmt 'json')."""
    if fmt == "json":
        sys.stdout.write(json.dumps([dict(row) for row in rows], indent=2, default=str) + "\n")
        return
    out = console or _stdout_console()
    cells = {c: ["" if row.get(c) is None else str(row.get(c)) for row in rows] for c in columns}
    widths = column_widths(cells, columns, out.width) or {}
    table = Table(title=title)
    for column in columns:
        # fold, never "…": a folded value is still complete, and reserved ids stay on one line.
        table.add_column(_header(column), overflow="fold", width=widths.get(column))
    for index in range(len(rows)):
        table.add_row(*(cells[c][index] for c in columns))
    out.print(table)


def emit_object(obj: Mapping[str, Any], fmt: str) -> None:
    """Print one object as key/value lines or JSON."""
    if fmt == "json":
        sys.stdout.write(json.dumps(dict(obj), indent=2, default=str) + "\n")
        return
    width = max((len(k) for k in obj), default=0)
    for key, value in obj.items():
        sys.stdout.write(f"{key.upper().replace('_', ' '):<{width}}  {value}\n")
