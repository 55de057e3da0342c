from __future__ import annotations

import pytest

from results_service.models import AGENT_NAME, TaskState
from tests.results_service.conftest import registration


@pytest.mark.parametrize("text", ["InProgress", "inprogress", "IN_PROGRESS", "in-progress", "2"])
def test_task_state_parse_accepts_any_case_and_number(text: str) -> None:
    assert TaskState.parse(text) is TaskState.IN_PROGRESS


def test_task_state_parse_names_valid_states() -> None:
    with pytest.raises(ValueError, match="expected one of Pending, InProgress, Succeeded, Failed"):
        TaskState.parse("done")


def test_task_state_numbers_match_clara() -> None:
    assert [state.number for state in TaskState] == [1, 2, 3, 4]
    assert TaskState.SUCCEEDED.is_terminal and not TaskState.PENDING.is_terminal


@pytest.mark.parametrize("name", ["ClaraSCU", "DICOMweb", "render-server", "a", "a1"])
def test_agent_name_valid(name: str) -> None:
    assert AGENT_NAME.match(name)


@pytest.mark.parametrize("name", ["", "1abc", "-abc", "abc-", "a_b", "a b", "a" * 65])
def test_agent_name_invalid(name: str) -> None:
    assert not AGENT_NAME.match(name)


def test_dedup_key_ignores_uri_order_but_not_destination() -> None:
    one = registration(n=2)
    reordered = type(one)(one.agent, one.job_id, "other-pipeline", one.payload_id, one.parameters, one.uris[::-1])
    assert one.dedup_key == reordered.dedup_key
    assert one.dedup_key != registration(n=2, destination="OTHER").dedup_key
