"""ExportTask parsing: destinations from Clara's `parameters`."""

from __future__ import annotations

import pytest

from dicom_adapter.export.errors import InvalidParametersError
from dicom_adapter.export.task import destination_names, task_from_json


def test_destination_names_accepts_clara_json_string():
    assert destination_names('"MYPACS"') == ["MYPACS"]


def test_destination_names_accepts_a_list_and_drops_case_duplicates():
    assert destination_names('["ORTHANC", "pacs2", "orthanc"]') == ["ORTHANC", "pacs2"]


def test_destination_names_accepts_a_bare_word():
    assert destination_names("MYPACS") == ["MYPACS"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ("", "parameters are empty"),
        ("[]", "must be a destination name or a list"),
        ('{"dest": "X"}', "must be a destination name or a list"),
        ("[1, 2]", "must be a destination name or a list"),
        ("not json at all", "not JSON"),
    ],
)
def test_destination_names_rejects_bad_parameters_with_the_reason(parameters, message):
    with pytest.raises(InvalidParametersError, match=message):
        destination_names(parameters)


def test_task_from_json_reads_clara_fields_and_lease():
    task = task_from_json(
        {
            "taskId": "t1",
            "jobId": "j",
            "pipelineId": "p",
            "payloadId": "pl",
            "agent": "ClaraSCU",
            "parameters": '"X"',
            "state": "InProgress",
            "retries": 2,
            "uris": ["a/b.dcm"],
            "leaseId": "L",
            "leaseExpires": "2026-01-01T00:00:00.000Z",
            "extra": 1,
        }
    )
    assert task.task_id == "t1" and task.retries == 2 and task.uris == ("a/b.dcm",)
    assert task.lease_id == "L"
    assert task.lease_expires == pytest.approx(1767225600.0)
