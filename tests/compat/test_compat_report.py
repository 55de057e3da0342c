"""compat_report: one JSON line per step, stop at the first failure unless told to keep going."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def report_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # The driver runs these modules as top-level scripts in the client's venv; import them the same way.
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("compat_report")


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_step_prints_ok_with_its_outcome_and_detail(report_module: ModuleType,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    report = report_module.Report(keep_going=False)
    report.step("a", lambda: {"outcome": "unsupported", "why": "x"})
    [line] = _lines(capsys)
    assert (line["step"], line["ok"], line["outcome"], line["detail"]) == ("a", True, "unsupported", {"why": "x"})


def test_failed_check_stops_the_run_with_exit_1_and_a_summary(report_module: ModuleType,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    failed = importlib.import_module("compat_steps").Failed
    report = report_module.Report(keep_going=False)

    def bad() -> None:
        raise failed("size 3, sent 4")

    with pytest.raises(SystemExit) as info:
        report.step("upload", bad)
    assert info.value.code == 1
    step, summary = _lines(capsys)
    assert step["error"] == "Failed: size 3, sent 4" and "traceback" not in step
    assert summary == {"summary": {"passed": 0, "failed": ["upload"]}}


def test_keep_going_runs_on_and_unexpected_errors_carry_a_traceback(report_module: ModuleType,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    report = report_module.Report(keep_going=True)
    report.step("boom", lambda: 1 / 0)
    report.step("fine", lambda: {})
    with pytest.raises(SystemExit):
        report.finish()
    boom, fine, summary = _lines(capsys)
    assert boom["error"] == "ZeroDivisionError: division by zero" and "ZeroDivisionError" in str(boom["traceback"])
    assert fine["ok"] is True
    assert summary == {"summary": {"passed": 1, "failed": ["boom"]}}


def test_state_names_a_missing_value(report_module: ModuleType) -> None:
    state = report_module.State()
    state["job"] = 1
    assert state["job"] == 1
    with pytest.raises(Exception, match="needs 'payload', which an earlier step did not produce"):
        state["payload"]
