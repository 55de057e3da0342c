"""Every key of the CLI's own JSON, for tests that hold it to docs/cli.md "Output" (snake_case keys)."""

from __future__ import annotations

import re

SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")


def json_keys(value: object, user_data: frozenset[str] = frozenset({"metadata"})) -> list[str]:
    """Every key of our own JSON objects, all the way down; not inside user data (job or pipeline metadata)."""
    if isinstance(value, list):
        return [key for item in value for key in json_keys(item, user_data)]
    if isinstance(value, dict):
        return [*value, *(key for k, v in value.items() if k not in user_data for key in json_keys(v, user_data))]
    return []


def not_snake_case(value: object) -> list[str]:
    """The keys of `value` that are not snake_case (empty when it follows the convention), sorted."""
    return sorted({key for key in json_keys(value) if not SNAKE_CASE.fullmatch(key)})
