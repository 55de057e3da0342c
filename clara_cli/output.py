"""Printing results: rich tables for people, JSON for scripts (`--output json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def emit_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str, title: str | None = None) -> None:
    """Print rows as a table (fmt 'table') or as a JSON array (fmt 'json')."""
    if fmt == "json":
        sys.stdout.write(json.dumps([dict(row) for row in rows], indent=2, default=str) + "\n")
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column.upper().replace("_", " "))
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console().print(table)


def emit_object(obj: Mapping[str, Any], fmt: str) -> None:
    """Print one object as key/value lines or JSON."""
    if fmt == "json":
        sys.stdout.write(json.dumps(dict(obj), indent=2, default=str) + "\n")
        return
    width = max((len(k) for k in obj), default=0)
    for key, value in obj.items():
        sys.stdout.write(f"{key.upper().replace('_', ' '):<{width}}  {value}\n")
