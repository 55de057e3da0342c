"""`container: {image, tag, command}` of operators and services, and the scalar fields both share."""

from __future__ import annotations

import re
import shlex
from typing import Any

from platform_server.pipelines.problems import Problems, line_of
from platform_server.pipelines.template import scalar

CONTAINER_KEYS = ("image", "tag", "command")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Operator, output and service names become folder and container names, so keep them plain.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def parse_container(value: Any, problems: Problems) -> tuple[str, str, tuple[str, ...]]:
    """(image, tag, command); an absent or empty command means the image's entrypoint runs."""
    if not isinstance(value, dict):
        problems.add("`container` with an `image` is required")
        return "", "", ()
    problems.keys(value, CONTAINER_KEYS, "container")
    line = line_of(value, problems.line)
    image = value.get("image")
    if not isinstance(image, str) or not image.strip():
        problems.add("container.image is required", line)
        image = ""
    raw = value.get("command")
    command: tuple[str, ...] = ()
    if isinstance(raw, str):
        try:
            command = tuple(shlex.split(raw))
        except ValueError as exc:  # an unbalanced quote
            problems.add(f"container.command {raw!r} cannot be split into arguments: {exc}", line)
    elif isinstance(raw, list) and all(not isinstance(arg, dict | list) for arg in raw):
        command = tuple(scalar(arg) for arg in raw if arg is not None)
    elif raw is not None:
        problems.add(f"container.command must be a list of arguments or one string, got {raw!r}", line)
    tag = value.get("tag")
    return image, "" if tag is None else scalar(tag), command


def parse_variables(value: Any, problems: Problems, what: str = "variables") -> dict[str, str]:
    """Environment variables: names must be valid, values are scalars (`true`, not `True`)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(f"`{what}` must map environment variable names to values")
        return {}
    result: dict[str, str] = {}
    for key, item in value.items():
        if not ENV_NAME.match(str(key)):
            problems.add(f"`{what}`: {key!r} is not a valid environment variable name", line_of(value, problems.line))
        elif isinstance(item, dict | list):
            problems.add(f"`{what}`: the value of {key!r} must be a scalar", line_of(value, problems.line))
        elif item is not None:
            result[str(key)] = scalar(item)
    return result


def parse_parameters(value: Any, problems: Problems) -> dict[str, str | None]:
    """Template `parameters`: names of `${{NAME}}` placeholders and their defaults (None = no default)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add("`parameters` must map names to default values")
        return {}
    return {str(k): None if v is None else scalar(v) for k, v in value.items()}


def text(value: Any) -> str:
    return "" if value is None else scalar(value)
