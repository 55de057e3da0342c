"""Printing results: tables for people (`table`, `wide`), JSON for scripts (`json`); docs/cli.md "Output".

`table` fits the terminal and never wraps a cell: the row's own ID (the first ID column) is always
whole, every other column keeps at least its header's width and is shortened with `…` past that, and
columns that still do not fit are left out, named under the table. `wide` prints every column whole
whatever the width. `json` follows one convention for every command (see `json_text`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from rich.console import Console
from rich.table import Table

OUTPUT_FORMATS = ("table", "wide", "json")

# job_id, pipeline_id, id, taskId, jobId ...: the columns whose values are identifiers.
_ID_COLUMN = re.compile(r"(^|_)(id|ID)$|[a-z](Id|ID)$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_MIN_WIDTH = 10  # a shortened column still shows this much ("2026-12-04", "reference…")
_CHROME = 3  # per column: one border + one space of padding each side (the table adds one more border)

PIPED_WIDTH = 200  # columns of a table whose output is not a terminal


def is_id_column(column: str) -> bool:
    return bool(_ID_COLUMN.search(column))


def snake_case(key: str) -> str:
    """`taskId` -> `task_id`, `aeTitle` -> `ae_title`; snake_case stays as it is."""
    return _CAMEL.sub("_", key).lower()


def _header(column: str) -> str:
    return snake_case(column).upper().replace("_", " ")


def cell_text(value: Any) -> str:
    """A value as a table shows it: times in UTC to the second, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _utc(moment: datetime) -> datetime:
    # A naive time here is one of ours, and ours are UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """A time as the CLI's JSON writes it: RFC 3339 in UTC ending in `Z` (`2026-12-04T09:49:30Z`)."""
    return _utc(moment).isoformat().replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, Enum):
        return value.value
    return str(value)


def json_text(value: Any) -> str:
    """The CLI's JSON: snake_case keys (top level of each object), RFC 3339 UTC times ending in `Z`,
    numbers as numbers, `null` for a value not set. Keys inside user data (metadata, settings) are kept."""
    if isinstance(value, Mapping):
        value = {snake_case(str(k)): v for k, v in value.items()}
    elif isinstance(value, list):
        value = [{snake_case(str(k)): v for k, v in row.items()} if isinstance(row, Mapping) else row for row in value]
    return json.dumps(value, indent=2, default=_json_default) + "\n"


def _natural(values: list[str], column: str) -> int:
    lines = [line for value in values for line in value.splitlines()]
    return max([len(_header(column)), *(len(line) for line in lines)])


def _fair_share(natural: dict[str, int], floor: dict[str, int], room: int) -> dict[str, int]:
    """Water-filling above each column's floor: narrow columns keep their width, the rest share what is left."""
    widths = dict(floor)
    room -= sum(floor.values())
    for index, column in enumerate(sorted(natural, key=lambda c: natural[c] - floor[c])):
        share = max(0, room // (len(natural) - index))
        widths[column] = floor[column] + min(natural[column] - floor[column], share)
        room -= widths[column] - floor[column]
    return widths


def _drop_order(columns: Sequence[str], keep: str) -> list[str]:
    """Which columns go first when the table is too wide: other IDs (whole in `describe`, `wide` and
    `json`, useless when cut short), then the rest from the right."""
    others = [c for c in reversed(columns) if c != keep]
    return [c for c in others if is_id_column(c)] + [c for c in others if not is_id_column(c)]


def column_widths(
    cells: dict[str, list[str]], columns: Sequence[str], width: int
) -> tuple[dict[str, int] | None, list[str]]:
    """(fixed widths, columns left out) when the table would be wider than `width`; (None, []) when it fits.

    The first ID column keeps its full width; every other column gets at least its header's width and
    `_MIN_WIDTH` characters (less when its values are shorter); columns are left out while that does not fit.
    """
    natural = {c: _natural(cells[c], c) for c in columns}
    if sum(natural.values()) + _CHROME * len(columns) + 1 <= width:
        return None, []
    keep = next((c for c in columns if is_id_column(c)), columns[0])
    floor = {c: natural[c] if c == keep else min(natural[c], max(len(_header(c)), _MIN_WIDTH)) for c in columns}
    shown = list(columns)
    drops = iter(_drop_order(columns, keep))
    while len(shown) > 1 and sum(floor[c] for c in shown) + _CHROME * len(shown) + 1 > width:
        shown.remove(next(drops))
    room = width - (_CHROME * len(shown) + 1)
    widths = _fair_share({c: natural[c] for c in shown}, {c: floor[c] for c in shown}, room)
    return widths, [c for c in columns if c not in shown]


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
    """Print rows as a table (fmt 'table' or 'wide') or as a JSON array (fmt 'json')."""
    if fmt == "json":
        sys.stdout.write(json_text([dict(row) for row in rows]))
        return
    out = console or _stdout_console()
    cells = {c: [cell_text(row.get(c)) for row in rows] for c in columns}
    render_width = out.width
    if fmt == "wide":
        widths, left_out = {c: _natural(cells[c], c) for c in columns}, list[str]()
        # Wider than the terminal if need be: the terminal wraps the line, every value stays whole.
        render_width = max(out.width, sum(widths.values()) + _CHROME * len(columns) + 1)
    else:
        fixed, left_out = column_widths(cells, columns, out.width)
        widths = fixed or {}
    shown = [c for c in columns if c not in left_out]
    caption = f"not shown (-O wide shows them): {', '.join(map(_header, left_out))}" if left_out else None
    table = Table(title=title, caption=caption)
    for column in shown:
        # One line per cell: a shortened value ends in "…", never a fragment of a word on the next line.
        table.add_column(_header(column), no_wrap=True, overflow="ellipsis", width=widths.get(column))
    for index in range(len(rows)):
        table.add_row(*(cells[c][index] for c in shown))
    terminal_width = out.width
    out.width = render_width
    try:
        out.print(table, crop=False)
    finally:
        out.width = terminal_width


def emit_object(obj: Mapping[str, Any], fmt: str) -> None:
    """Print one object as key/value lines or JSON."""
    if fmt == "json":
        sys.stdout.write(json_text(dict(obj)))
        return
    width = max((len(_header(k)) for k in obj), default=0)
    for key, value in obj.items():
        sys.stdout.write(f"{_header(key):<{width}}  {cell_text(value)}\n")
