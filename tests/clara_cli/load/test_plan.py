"""The mix, the round robin over AE titles and where failing senders stop."""

from __future__ import annotations

import pytest

from clara_cli.load.plan import LoadPlan, parse_mix


def test_mix_reads_kinds_and_weights() -> None:
    assert parse_mix("ct=1, CR=4,dx") == {"ct": 1.0, "cr": 4.0, "dx": 1.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [("mr=1", "'mr' is not a study kind"), ("ct=x", "must be a number"), ("ct=0", "no study kind"),
     ("", "no study kind"), ("ct=-1", "must not be negative")],
)
def test_a_bad_mix_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mix(text)


def test_called_ae_titles_take_turns_and_kinds_follow_the_weights() -> None:
    chooser = LoadPlan(called=("A", "B", "C"), duration=1, mix={"ct": 1, "cr": 0}).chooser()
    picks = [chooser.next() for _ in range(6)]
    assert [called for _, called in picks] == ["A", "B", "C", "A", "B", "C"]
    assert {kind for kind, _ in picks} == {"ct"}


def test_failing_senders_stop_part_way_and_single_instances_never_abort() -> None:
    chooser = LoadPlan(called=("A",), duration=1, abort_fraction=1.0).chooser()
    stops = [chooser.abort_after(10) for _ in range(50)]
    assert all(stop is not None and 1 <= stop <= 9 for stop in stops)
    assert chooser.abort_after(1) is None
    assert LoadPlan(called=("A",), duration=1).chooser().abort_after(10) is None
