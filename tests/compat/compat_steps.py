"""Checks the compatibility driver's steps share: failures, polling, enum and timestamp handling.

Plain standard library (the driver imports it from the client's own virtualenv).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
POLL_INTERVAL = 0.2
# A timestamp the client converted must lie within this distance of the driver's clock.
CLOCK_SLACK = datetime.timedelta(hours=1)


class Failed(Exception):
    """A step's check did not hold; the message says what was expected and what came back."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failed(message)


def number(value: Any) -> int:
    """NVIDIA's client returns enum members from some calls and raw ints from others (Status, List, Start)."""
    return int(getattr(value, "value", value))


def when(value: object) -> bool:
    """True for a timezone-aware datetime close to now, as JobsClient.get_timestamp makes from a Timestamp."""
    if not isinstance(value, datetime.datetime) or value.tzinfo is None:
        return False
    return abs(datetime.datetime.now(datetime.UTC) - value) < CLOCK_SLACK


def poll(read: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    """Call `read` until `done` holds for its answer; fail naming `what` and the last answer after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            shown = {k: v for k, v in vars(value).items() if not k.startswith("__")} if hasattr(value, "__dict__") \
                else value
            raise Failed(f"timed out after {timeout:.0f} s waiting for {what}; last answer {shown}")
        time.sleep(POLL_INTERVAL)


def rooted_operator_files(names: list[str]) -> list[str]:
    """The names NVIDIA's combined_example.py keeps as operator outputs: `name.split('/')[1] == 'operators'`."""
    return [name for name in names if len(name.split("/")) > 2 and name.split("/")[1] == "operators"]


def client_defect(call: Callable[[], Any], kind: type[Exception], text: str) -> str:
    """Assert that a client method fails with its known defect (`kind` mentioning `text`); return the message."""
    try:
        call()
    except kind as exc:
        check(text in str(exc), f"expected the known {kind.__name__} about {text!r}, got: {exc}")
        return f"{kind.__name__}: {exc}"
    raise Failed(f"expected the client's known {kind.__name__} about {text!r}, but the call succeeded")


def unsupported(call: Callable[[], Any], text: str) -> str:
    """Assert that the server refuses a documented gap with a message containing `text`; return it."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the client raises bare Exception carrying the server's messages
        check(text in str(exc), f"refused without saying {text!r}: {type(exc).__name__}: {exc}")
        return str(exc)
    raise Failed("expected the server to refuse an unsupported call, but it succeeded")
