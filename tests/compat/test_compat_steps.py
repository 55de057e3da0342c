"""compat_steps: the driver's checks behave the same in our venv as in the client's."""

from __future__ import annotations

import datetime
import enum

import pytest

from tests.compat.compat_steps import Failed, client_defect, number, poll, rooted_operator_files, unsupported, when


class Color(enum.Enum):
    RED = 3


def test_number_accepts_enum_members_and_raw_ints() -> None:
    assert number(Color.RED) == 3
    assert number(3) == 3


def test_when_wants_an_aware_recent_datetime() -> None:
    now = datetime.datetime.now(datetime.UTC)
    assert when(now)
    assert not when(now.replace(tzinfo=None))
    assert not when(now - datetime.timedelta(days=400))
    assert not when(None)


def test_rooted_operator_files_is_the_nvidia_example_filter() -> None:
    names = ["/input/a.txt", "/operators/op/out/x.raw", "operators/op/output/y.raw", "top.txt"]
    assert rooted_operator_files(names) == ["/operators/op/out/x.raw"]


def test_poll_returns_the_first_answer_that_is_done() -> None:
    answers = iter([1, 2, 3])
    assert poll(lambda: next(answers), lambda v: v == 2, 5, "two") == 2


def test_poll_times_out_naming_what_it_waited_for() -> None:
    with pytest.raises(Failed, match="waiting for the job to stop; last answer 1"):
        poll(lambda: 1, lambda v: False, 0, "the job to stop")


def test_client_defect_must_raise_the_known_error() -> None:
    def broken() -> None:
        raise ValueError('Protocol message ModelDetails has no "tags" field.')

    assert client_defect(broken, ValueError, "tags").startswith("ValueError")
    with pytest.raises(Failed, match="but the call succeeded"):
        client_defect(lambda: None, ValueError, "tags")


def test_unsupported_must_be_refused_with_a_reason() -> None:
    def refused() -> None:
        raise Exception("model catalogs and instances are not supported by openclara")

    assert "not supported" in unsupported(refused, "not supported")
    with pytest.raises(Failed, match="refused without saying"):
        unsupported(lambda: (_ for _ in ()).throw(Exception("internal error")), "not supported")
