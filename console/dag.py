"""A pipeline's DAG laid out for an SVG drawing: operators in columns by their longest path from a root.

No graph library: a pipeline has a handful of operators, and a layered layout (column = longest
distance from an operator without inputs, rows in first-seen order) reads left to right like the
data flows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from platform_api.types import PipelineDagNode

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 160, 40, 60, 20, 10


@dataclass(frozen=True)
class Box:
    name: str
    x: int
    y: int


@dataclass(frozen=True)
class Layout:
    boxes: tuple[Box, ...]
    edges: tuple[tuple[Box, Box], ...]
    width: int
    height: int


def pipeline_edges(roots: Iterable[PipelineDagNode]) -> tuple[list[str], list[tuple[str, str]]]:
    """Node names in first-seen order and (from, to) edges of the platform's DAG tree."""
    names: list[str] = []
    edges: list[tuple[str, str]] = []
    stack = list(roots)
    while stack:
        node = stack.pop(0)
        if node.name not in names:
            names.append(node.name)
        for child in node.next:
            if (node.name, child.name) not in edges:
                edges.append((node.name, child.name))
            stack.append(child)
    return names, edges


def layout(names: list[str], edges: list[tuple[str, str]]) -> Layout:
    column = {name: 0 for name in names}
    for _ in names:  # longest path: at most len(names) relaxations in an acyclic graph
        for source, target in edges:
            column[target] = max(column.get(target, 0), column.get(source, 0) + 1)
    rows: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for name in sorted(column, key=lambda n: (column[n], names.index(n) if n in names else 0)):
        row = rows.get(column[name], 0)
        rows[column[name]] = row + 1
        boxes[name] = Box(name, PAD + column[name] * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(column.values(), default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values(), default=1) * (NODE_H + GAP_Y) - GAP_Y
    return Layout(tuple(boxes.values()), tuple((boxes[s], boxes[t]) for s, t in edges), width, height)
