"""The one backoff formula: base, cap, retries counted from 0; each caller's schedule is tested with the caller."""

from __future__ import annotations

import pytest

from openclara.backoff import exponential


def test_doubles_from_the_base_for_each_retry_counted_from_zero() -> None:
    assert [exponential(retry, 0.5) for retry in range(5)] == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_never_exceeds_the_cap() -> None:
    assert [exponential(retry, 0.5, 8.0) for retry in range(3, 7)] == [4.0, 8.0, 8.0, 8.0]


def test_a_negative_retry_counts_as_the_first() -> None:
    assert exponential(-1, 5.0, 600.0) == 5.0


@pytest.mark.parametrize("retry", [33, 1_000, 10**9])
def test_an_endless_run_of_failures_neither_overflows_nor_loses_the_cap(retry: int) -> None:
    assert exponential(retry, 1.0, 300.0) == 300.0
    assert exponential(retry, 1.0) == 2.0**32


def test_returns_a_float_for_integer_arguments() -> None:
    assert isinstance(exponential(2, 1, 10), float)
