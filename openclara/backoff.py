"""Exponential backoff: the one formula behind every retry delay in the stack.

Callers differ only in base, cap and whether they count retries from 0 or 1, so those are their
arguments; where the delay is slept, stored as a next-attempt time or kept per destination stays
with the caller. No caller jitters: each retries one peer on its own schedule (a payload, a task, a
destination), so there is no herd of synchronised clients to spread out.
"""

from __future__ import annotations

import math

# 2**32 times any base is beyond every cap we configure; clamping keeps `2 ** attempt` from growing
# without bound (int -> float overflows past 2**1023) when something keeps failing for ever.
_MAX_EXPONENT = 32


def exponential(retry: int, base: float, cap: float = math.inf) -> float:
    """Delay before retry number `retry`, counted from 0: base * 2**retry, at most `cap`.

    A negative `retry` counts as 0, so callers that count attempts from 1 pass `attempt - 1` as is.
    """
    exponent = min(max(retry, 0), _MAX_EXPONENT)
    return float(min(base * 2**exponent, cap))
