"""Percentiles (nearest rank) and the summary's counts."""

from __future__ import annotations

import json

from clara_cli.load.records import JOB_DONE, StudyRecord
from clara_cli.load.report import percentiles, summarize
from tests.support.json_keys import not_snake_case


def test_percentiles_use_the_nearest_rank() -> None:
    figures = percentiles([float(n) for n in range(1, 101)])
    assert figures == {"count": 100, "p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0}
    assert percentiles([])["p50"] is None


def _record(acked: int, planned: int, **fields: object) -> StudyRecord:
    record = StudyRecord("1.2", "ct", "A", planned, planned * 100, 0.0, **fields)  # type: ignore[arg-type]
    record.acknowledged = [f"1.2.{n}" for n in range(acked)]
    record.store_seconds = [0.01] * acked
    record.sent_at = 1.0
    return record


def test_summary_counts_complete_aborted_and_failed_studies() -> None:
    done = _record(4, 4, finished=True)
    done.reach(JOB_DONE, 3.5)
    aborted = _record(2, 4, aborted=True, finished=True)
    failed = _record(0, 4, error="association rejected")
    failed.sent_at = None
    summary = summarize([done, aborted, failed], "dicom", sending_seconds=2.0, wall_seconds=5.0)
    assert summary["studies"] == {"started": 3, "complete": 1, "aborted": 1, "failed": 1, "finished": 2,
                                  "unfinished": 0}
    assert summary["instances"] == {"planned": 12, "acknowledged": 6, "failed": 0}
    assert summary["throughput"]["instances_per_second"] == 3.0
    assert summary["stages"]["c_store"]["count"] == 6
    assert summary["stages"][JOB_DONE]["p50"] == 2.5
    assert summary["errors"] == [{"error": "association rejected", "studies": 1}]


def test_the_report_has_snake_case_keys_all_the_way_down() -> None:
    done = _record(4, 4, finished=True)
    done.reach(JOB_DONE, 3.5)
    failed = _record(0, 4, error="association rejected")
    for mode in ("dicom", "jobs"):
        report = json.loads(json.dumps(summarize([done, failed], mode, sending_seconds=2.0, wall_seconds=5.0)))
        assert not_snake_case(report) == [], mode
        assert {"sending_seconds", "wall_seconds"} <= report.keys()
