"""A study's `--records` line follows the CLI's JSON convention (docs/cli.md "Output")."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from clara_cli.load.records import EXPORTED, JOB_DONE, STORE, StudyRecord, stage_label
from tests.support.json_keys import not_snake_case

STARTED = datetime(2026, 12, 4, 9, 49, 30, 250000, tzinfo=UTC).timestamp()


def _record() -> StudyRecord:
    record = StudyRecord("1.2.3", "ct", "LOAD1", 3, 300, STARTED, acknowledged=["1.2.3.1", "1.2.3.2"], failed=1,
                         error="C-STORE status 0xA700", sent_at=STARTED + 1.5, payloads={"p1"})
    record.jobs = {"0a1b2c3d4e5f": "seg-pipeline"}
    record.reach(JOB_DONE, STARTED + 4.0)
    record.reach(EXPORTED, STARTED + 4.75)
    return record


def test_a_record_has_snake_case_keys_all_the_way_down() -> None:
    line = json.loads(json.dumps(_record().as_json()))
    assert not_snake_case(line) == []
    assert line["jobs"] == [{"job_id": "0a1b2c3d4e5f", "pipeline": "seg-pipeline"}]
    assert line["stages"] == {"job_done": 2.5, "export_delivered": 3.25}


def test_a_record_writes_times_in_rfc3339_utc_with_z() -> None:
    line = _record().as_json()
    assert line["started_at"] == "2026-12-04T09:49:30.250000Z"
    assert line["sent_at"] == "2026-12-04T09:49:31.750000Z"
    assert datetime.fromisoformat(line["started_at"]).timestamp() == STARTED
    assert StudyRecord("1.2", "cr", "A", 1, 1, STARTED).as_json()["sent_at"] is None  # not sent: null


def test_stage_labels_are_what_people_read() -> None:
    assert [stage_label(s) for s in (STORE, JOB_DONE, EXPORTED)] == ["c-store", "job done", "export delivered"]
