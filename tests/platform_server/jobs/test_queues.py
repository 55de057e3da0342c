"""Priority queues: IMMEDIATE first, then 4:2:1 weighting."""

from __future__ import annotations

from collections import Counter

from platform_server.domain import JobPriority
from platform_server.jobs.queues import PriorityQueues

P = JobPriority


def drain(queues: PriorityQueues) -> list[str]:
    out = []
    while (job := queues.pop()) is not None:
        out.append(job)
    return out


def test_immediate_is_drained_before_everything_even_when_submitted_last() -> None:
    queues = PriorityQueues()
    for i, priority in enumerate([P.LOWER, P.NORMAL, P.HIGHER, P.IMMEDIATE, P.IMMEDIATE]):
        queues.push(f"{priority.name}-{i}", priority)
    assert drain(queues) == ["IMMEDIATE-3", "IMMEDIATE-4", "HIGHER-2", "NORMAL-1", "LOWER-0"]


def test_weighted_share_is_4_2_1_and_nothing_starves() -> None:
    queues = PriorityQueues()
    for i in range(100):
        for priority in (P.LOWER, P.NORMAL, P.HIGHER):
            queues.push(f"{priority.name}-{i}", priority)
    first = [queues.pop() for _ in range(70)]
    counts = Counter(str(job).split("-")[0] for job in first)
    assert counts == {"HIGHER": 40, "NORMAL": 20, "LOWER": 10}
    assert "LOWER" in {str(job).split("-")[0] for job in first[:7]}


def test_a_burst_starts_higher_before_lower() -> None:
    queues = PriorityQueues()
    for name, priority in [("l1", P.LOWER), ("h1", P.HIGHER), ("l2", P.LOWER), ("h2", P.HIGHER), ("n1", P.NORMAL)]:
        queues.push(name, priority)
    assert drain(queues) == ["h1", "h2", "n1", "l1", "l2"]


def test_fifo_within_a_priority_and_remove() -> None:
    queues = PriorityQueues()
    for i in range(3):
        queues.push(f"n{i}", P.NORMAL)
    assert queues.remove("n1") and not queues.remove("n1")
    assert "n2" in queues and len(queues) == 2
    assert drain(queues) == ["n0", "n2"]


def test_idle_class_does_not_bank_credit() -> None:
    queues = PriorityQueues()
    for i in range(20):
        queues.push(f"h{i}", P.HIGHER)
    for _ in range(20):
        queues.pop()
    for i in range(4):
        queues.push(f"l{i}", P.LOWER)
        queues.push(f"h{20 + i}", P.HIGHER)
    # LOWER was idle while HIGHER ran 20 jobs; it must not now win 4 turns in a row.
    assert drain(queues)[:4].count("l0") + drain(queues).count("l1") <= 1


def test_unknown_priority_counts_as_normal() -> None:
    queues = PriorityQueues()
    queues.push("x", P.UNKNOWN)
    assert queues.waiting() == [(P.NORMAL, "x")]
