"""Tables at 80 and 200 columns (the row's ID whole, headers and cells never broken), `wide`, the JSON convention."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from clara_cli.output import column_widths, emit_object, emit_table, is_id_column, json_text, snake_case

JOB = "6309f392" + "a" * 24
PIPELINE = "1234abcd" * 4
TASK = "6309f392-aaaa-bbbb-cccc-dddddddddddd"
JOB_ROW = {
    "job_id": JOB, "name": "reference-pipeline-test", "pipeline_id": PIPELINE, "state": "RUNNING",
    "status": "HEALTHY", "priority": "normal", "created": datetime(2026, 11, 22, 2, 20, 18, tzinfo=UTC),
}
TASK_ROW = {
    "task_id": TASK, "agent": "ClaraSCU", "job_id": JOB, "state": "Failed", "retries": 3,
    "parameters": '"MYPACS"', "updated": "2026-01-01T00:00:00.000Z", "last_error": "PACS refused the association",
}


def render(rows: list[dict[str, object]], columns: list[str], width: int = 80, fmt: str = "table") -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    emit_table(rows, columns, fmt, console=console)
    return console.export_text()


def data_lines(text: str) -> list[str]:
    return [line for line in text.split("┡", 1)[1].splitlines()[1:] if line.startswith("│")]


def header_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("┃"))


def test_id_columns_are_recognised() -> None:
    assert all(map(is_id_column, ["id", "job_id", "pipeline_id", "taskId", "jobId"]))
    assert not any(map(is_id_column, ["name", "valid", "paid_amount", "state"]))


@pytest.mark.parametrize("row", [JOB_ROW, TASK_ROW], ids=["jobs", "results"])
def test_at_80_columns_every_row_is_one_line_with_its_id_whole(row: dict[str, object]) -> None:
    text = render([row], list(row))
    assert len(data_lines(text)) == 1  # no cell breaks onto a second line (no "PIPEL/INE")
    assert next(iter(row.values())) in data_lines(text)[0]  # the row's own ID: copy-pastable
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize("row", [JOB_ROW, TASK_ROW], ids=["jobs", "results"])
def test_at_80_columns_headers_are_never_broken(row: dict[str, object]) -> None:
    text = render([row], list(row))
    headers = [cell.strip() for cell in header_line(text).strip("┃").split("┃")]
    left_out = re.search(r"not shown \(-O wide shows them\): (.*)", " ".join(text.split()))
    hidden = left_out.group(1).split(", ") if left_out else []
    expected = [key.upper().replace("_", " ") for key in row]
    assert sorted(headers + hidden) == sorted(expected)
    assert headers == [h for h in expected if h in headers]  # in their order
    assert all("…" not in h for h in headers)


def test_columns_that_do_not_fit_are_named_not_silently_dropped() -> None:
    text = render([TASK_ROW], list(TASK_ROW))
    assert "not shown (-O wide shows them): JOB ID," in " ".join(text.split())


@pytest.mark.parametrize("row", [JOB_ROW, TASK_ROW], ids=["jobs", "results"])
def test_at_200_columns_everything_is_whole(row: dict[str, object]) -> None:
    text = render([row], list(row), width=200)
    line = data_lines(text)[0]
    assert all(str(value) in line for value in row.values() if not isinstance(value, datetime))
    assert "2026-11-22 02:20:18" in line or "created" not in row
    assert "…" not in text and "not shown" not in text


def test_wide_prints_every_column_whole_even_at_80_columns() -> None:
    text = render([TASK_ROW], list(TASK_ROW), fmt="wide")
    line = data_lines(text)[0]
    assert all(str(value) in line for value in TASK_ROW.values())


def test_a_table_that_fits_is_left_as_it_is() -> None:
    assert column_widths({"name": ["x"], "id": [JOB]}, ["name", "id"], 80) == (None, [])
    text = render([{"name": "demo", "id": PIPELINE}], ["name", "id"])
    assert re.search(rf"│ demo +│ {PIPELINE} │", text)


def test_piped_tables_are_not_squeezed_into_80_columns(capsys, monkeypatch):
    """`clara results list > file` (or a CI log) keeps each row on one line, whole."""
    monkeypatch.delenv("COLUMNS", raising=False)
    row = {"task_id": "c8c16b3a-c259-45b8-8cee-433a85aa897c", "agent": "ClaraSCU", "state": "Succeeded",
           "job_id": "25d4b19b96ae4ba08f61185792a9035b", "parameters": '"ORTHANC"'}
    emit_table([row], list(row), "table")
    lines = [line for line in capsys.readouterr().out.splitlines() if "ClaraSCU" in line]
    assert len(lines) == 1
    assert all(value in lines[0] for value in row.values())


def test_json_convention_snake_case_utc_z_numbers() -> None:
    moment = datetime(2026, 12, 4, 9, 49, 30, tzinfo=UTC)
    doc = json.loads(json_text([{"taskId": "t", "jobId": "j", "created": moment, "retries": 3, "lastError": None}]))
    assert doc == [{"task_id": "t", "job_id": "j", "created": "2026-12-04T09:49:30Z", "retries": 3, "last_error": None}]
    naive = json.loads(json_text({"stopped": datetime(2026, 12, 4, 9, 49, 30)}))
    assert naive == {"stopped": "2026-12-04T09:49:30Z"}


def test_json_keeps_the_keys_of_user_data() -> None:
    doc = json.loads(json_text({"metadata": {"studyKey": "x"}}))
    assert doc == {"metadata": {"studyKey": "x"}}


def test_snake_case() -> None:
    assert [snake_case(k) for k in ("taskId", "aeTitle", "hostIp", "job_id", "elapsedMs")] == [
        "task_id", "ae_title", "host_ip", "job_id", "elapsed_ms"]


def test_objects_print_times_in_utc(capsys) -> None:
    emit_object({"created": datetime(2026, 12, 4, 9, 49, 30, tzinfo=UTC), "pid": None}, "table")
    out = capsys.readouterr().out
    assert "CREATED  2026-12-04 09:49:30" in out and re.search(r"PID +\n", out)
