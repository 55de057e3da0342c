"""What a load run does: targets, the mix of study kinds, pace, duration and the failing senders."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from clara_cli.load.studies import KINDS


def parse_mix(text: str) -> dict[str, float]:
    """`ct=1,cr=4,dx=4` -> weights per kind; a bare `ct` means `ct=1`. Raises ValueError with the rule."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, weight = part.partition("=")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not a study kind; use {', '.join(KINDS)} (e.g. ct=1,cr=4,dx=4)")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"{part!r}: the weight must be a number (e.g. cr=4)") from None
        if value < 0:
            raise ValueError(f"{part!r}: the weight must not be negative")
        weights[kind] = value
    if not weights or sum(weights.values()) <= 0:
        raise ValueError("the mix names no study kind with a positive weight (e.g. ct=1,cr=4,dx=4)")
    return weights


@dataclass(frozen=True)
class LoadPlan:
    """rate: studies started per second (0 = as fast as `concurrency` allows); duration: seconds of sending.

    `abort_fraction` of the studies with two or more instances are sent by a failing sender: it aborts
    the association (A-ABORT) after a random number of acknowledged instances and never sends the rest.
    """

    called: Sequence[str]
    duration: float
    rate: float = 1.0
    concurrency: int = 2
    mix: dict[str, float] = field(default_factory=lambda: {"ct": 1.0})
    abort_fraction: float = 0.0
    seed: int = 0

    def chooser(self) -> Chooser:
        return Chooser(self, random.Random(self.seed))


class Chooser:
    """Decides, study by study, the kind, the called AE title (round robin) and where a failing sender stops."""

    def __init__(self, plan: LoadPlan, rng: random.Random) -> None:
        self._plan = plan
        self._rng = rng
        self._kinds = list(plan.mix)
        self._weights = [plan.mix[k] for k in self._kinds]
        self._count = 0

    def next(self) -> tuple[str, str]:
        """(kind, called AE title) of the next study."""
        called = self._plan.called[self._count % len(self._plan.called)]
        self._count += 1
        return self._rng.choices(self._kinds, self._weights)[0], called

    def abort_after(self, instances: int) -> int | None:
        """Instances to send before aborting, or None: this sender completes."""
        if instances < 2 or self._rng.random() >= self._plan.abort_fraction:
            return None
        return self._rng.randint(1, instances - 1)
