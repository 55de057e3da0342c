"""Clara's 0001-epoch timestamps and the contract enums."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from platform_api.types import CLARA_EPOCH_OFFSET, JobPriority, JobStatus, from_clara_seconds, to_clara_seconds


def test_unix_epoch_is_the_documented_offset() -> None:
    assert to_clara_seconds(datetime(1970, 1, 1, tzinfo=UTC)) == CLARA_EPOCH_OFFSET == 62_135_596_800


def test_round_trip_is_exact_to_the_second() -> None:
    moment = datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
    assert from_clara_seconds(to_clara_seconds(moment)) == moment


def test_naive_datetimes_are_utc() -> None:
    assert to_clara_seconds(datetime(2026, 1, 1)) == to_clara_seconds(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("value", [0, -5, CLARA_EPOCH_OFFSET])
def test_unset_or_pre_unix_values_mean_not_set(value: int) -> None:
    assert from_clara_seconds(value) is None
    assert to_clara_seconds(None) == 0


def test_priorities_parse_case_insensitively() -> None:
    """Clara's adapter crashed on lower-case "higher" (clara-dicom-adapter #9); we accept both."""
    assert JobPriority.parse("higher") is JobPriority.HIGHER
    assert JobPriority.parse(" IMMEDIATE ") is JobPriority.IMMEDIATE
    with pytest.raises(
        ValueError, match="unknown JobPriority 'urgent'; choose one of: lower, normal, higher, immediate"
    ):
        JobPriority.parse("urgent")


def test_unknown_wire_values_become_unknown() -> None:
    assert JobStatus.from_wire(42) is JobStatus.UNKNOWN
    assert JobStatus.from_wire(4) is JobStatus.EVICTED
    assert JobPriority.HIGHER.label == "higher"
