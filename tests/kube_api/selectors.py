"""Label and field selectors, parsed as the apiserver parses `labelSelector` and `fieldSelector`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.kube_api.status import bad_request

Matcher = Callable[[dict[str, Any]], bool]

# The fields each resource can be selected by (the apiserver refuses the others).
SELECTABLE_FIELDS = {
    "pods": (
        "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
        "spec.serviceAccountName", "status.phase", "status.podIP", "status.nominatedNodeName",
    ),
    "services": ("metadata.name", "metadata.namespace"),
    "secrets": ("metadata.name", "metadata.namespace", "type"),
}  # fmt: skip

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET_TERM = re.compile(rf"(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)")
_EQUALITY_TERM = re.compile(rf"(?P<key>{_KEY})\s*(?P<op>==|!=|=)\s*(?P<value>[-A-Za-z0-9_.]*)")
_EXISTS_TERM = re.compile(rf"(?P<not>!?)\s*(?P<key>{_KEY})")


def _terms(text: str) -> list[str]:
    """Split on the commas that separate requirements, not on those inside `in (a,b)`."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    terms.append(current.strip())
    return [term for term in terms if term]


def _label_requirement(term: str) -> Callable[[dict[str, str]], bool]:
    if match := _SET_TERM.fullmatch(term):
        key, values = match["key"], {value.strip() for value in match["values"].split(",") if value.strip()}
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        # notin also matches objects without the label, as documented.
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY_TERM.fullmatch(term):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS_TERM.fullmatch(term):
        key, negated = match["key"], bool(match["not"])
        return lambda labels: (key in labels) != negated
    raise bad_request(f"unable to parse requirement: found '{term}', expected: in, notin, =, ==, !=, gt, lt")


def label_selector(text: str | None) -> Matcher:
    """`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-joined (all must hold)."""
    requirements = [_label_requirement(term) for term in _terms(text or "")]
    return lambda obj: all(req(obj.get("metadata", {}).get("labels") or {}) for req in requirements)


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_selector(resource: str, text: str | None) -> Matcher:
    """`field=value`, `field==value`, `field!=value`, comma-joined, over the resource's selectable fields."""
    requirements = []
    for term in _terms(text or ""):
        match = re.fullmatch(r"(?P<field>[A-Za-z.]+)\s*(?P<op>==|!=|=)\s*(?P<value>[^,]*)", term)
        if match is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        if match["field"] not in SELECTABLE_FIELDS[resource]:
            raise bad_request(f"field label not supported: {match['field']}")
        requirements.append((match["field"], match["op"] == "!=", match["value"]))
    return lambda obj: all((_field_value(obj, path) == value) != negated for path, negated, value in requirements)
