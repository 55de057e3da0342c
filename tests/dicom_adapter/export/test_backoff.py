"""Idle-poll and per-destination backoff: doubling, cap and reset."""

from __future__ import annotations

from dicom_adapter.export.backoff import DestinationBackoff, IdleBackoff


def test_idle_backoff_doubles_to_the_maximum_and_resets_when_busy():
    idle = IdleBackoff(0.5, 3.0)
    assert [idle.idle() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    idle.busy()
    assert idle.idle() == 0.5


def test_destination_backoff_is_per_destination_exponential_capped_and_reset_by_success():
    now = [100.0]
    backoff = DestinationBackoff(2.0, 10.0, clock=lambda: now[0])
    assert [backoff.failed("PACS", "down") for _ in range(4)] == [2.0, 4.0, 8.0, 10.0]
    assert backoff.remaining("pacs") == 10.0  # names are case-insensitive
    assert backoff.remaining("OTHER") == 0.0  # a down destination does not delay the others
    assert backoff.last_error("PACS") == "down"
    now[0] += 4
    assert backoff.remaining("PACS") == 6.0
    backoff.succeeded("PACS")
    assert backoff.remaining("PACS") == 0.0
