"""`emit_table` never cuts an identifier, even at 80 columns."""

from __future__ import annotations

import io
import re

from rich.console import Console

from clara_cli.output import column_widths, emit_table, is_id_column

JOB = "6309f392" + "a" * 24
PIPELINE = "1234abcd" * 4
TASK = "6309f392-aaaa-bbbb-cccc-dddddddddddd"


def render(rows: list[dict[str, object]], columns: list[str], width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    emit_table(rows, columns, "table", console=console)
    return console.export_text()


def column_text(text: str, index: int) -> str:
    """The cells of column `index` (0-based) of the data rows, joined: folded values come back whole."""
    body = text.split("┡", 1)[1].splitlines()[1:]
    return "".join(line.split("│")[index + 1].strip() for line in body if line.startswith("│"))


def test_id_columns_are_recognised() -> None:
    assert all(map(is_id_column, ["id", "job_id", "pipeline_id", "taskId", "jobId"]))
    assert not any(map(is_id_column, ["name", "valid", "paid_amount", "state"]))


def test_job_list_at_80_columns_keeps_the_job_id_on_one_line() -> None:
    row = {
        "job_id": JOB, "name": "reference-pipeline-test", "pipeline_id": PIPELINE, "state": "RUNNING",
        "status": "HEALTHY", "priority": "normal", "created": "2026-11-22 02:20:18",
    }
    text = render([row], list(row))
    assert JOB in text  # whole, on one line: copy-pastable
    assert "…" not in text
    assert column_text(text, 2) == PIPELINE  # folded, never cut
    assert column_text(text, 1) == "reference-pipeline-test"
    assert max(len(line) for line in text.splitlines()) <= 80


def test_results_list_at_80_columns_keeps_the_task_id_whole() -> None:
    row = {
        "taskId": TASK, "agent": "ClaraSCU", "jobId": JOB, "state": "Failed", "retries": 3,
        "parameters": '"MYPACS"', "updated": "2026-01-01T00:00:00.000Z", "lastError": "PACS refused",
    }
    text = render([row], list(row))
    assert TASK in text and "…" not in text
    assert column_text(text, 2) == JOB
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_table_that_fits_is_left_as_it_is() -> None:
    assert column_widths({"name": ["x"], "id": [JOB]}, ["name", "id"], 80) is None
    text = render([{"name": "demo", "id": PIPELINE}], ["name", "id"])
    assert re.search(rf"│ demo +│ {PIPELINE} │", text)


def test_piped_tables_are_not_squeezed_into_80_columns(capsys, monkeypatch):
    """`clara results list > file` (or a CI log) keeps each row on one line instead of folding every cell."""
    from clara_cli.output import emit_table

    monkeypatch.delenv("COLUMNS", raising=False)
    row = {"task_id": "c8c16b3a-c259-45b8-8cee-433a85aa897c", "agent": "ClaraSCU", "state": "Succeeded",
           "job_id": "25d4b19b96ae4ba08f61185792a9035b", "parameters": '"ORTHANC"'}
    emit_table([row], list(row), "table")
    lines = [line for line in capsys.readouterr().out.splitlines() if "ClaraSCU" in line]
    assert len(lines) == 1
    assert all(value in lines[0] for value in row.values())
