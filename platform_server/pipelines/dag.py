"""The operator graph of a pipeline: dependency order, cycle detection and Clara's DAG node shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PipelineNode:
    """Clara's PipelineDagNode: an operator and the operators that consume its outputs (`next`)."""

    name: str
    next: list[PipelineNode] = field(default_factory=list)


@dataclass(frozen=True)
class JobNode:
    """Clara's JobDagNode: an operator and the operators whose outputs it reads (`input_dependencies`)."""

    name: str
    input_dependencies: list[JobNode] = field(default_factory=list)
    order_dependencies: list[JobNode] = field(default_factory=list)


@dataclass(frozen=True)
class Dag:
    """Operators in declaration order and, for each, the operators it reads from."""

    nodes: tuple[str, ...]
    parents: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(cls, nodes: Sequence[str], parents: Mapping[str, Sequence[str]]) -> Dag:
        return cls(tuple(nodes), {n: tuple(dict.fromkeys(parents.get(n, ()))) for n in nodes})

    def children(self, name: str) -> tuple[str, ...]:
        return tuple(n for n in self.nodes if name in self.parents[n])

    def roots(self) -> list[str]:
        return [n for n in self.nodes if not self.parents[n]]

    def sinks(self) -> list[str]:
        return [n for n in self.nodes if not self.children(n)]

    def find_cycle(self) -> list[str] | None:
        """A cycle as a closed walk `[a, b, c, a]` (a reads from b ...), or None when the graph is acyclic."""
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        path: list[str] = []

        def visit(node: str) -> list[str] | None:
            state[node] = 1
            path.append(node)
            for parent in self.parents[node]:
                if state.get(parent) == 1:
                    return [*path[path.index(parent):], parent]
                if parent not in state and (found := visit(parent)) is not None:
                    return found
            path.pop()
            state[node] = 2
            return None

        for node in self.nodes:
            if node not in state and (cycle := visit(node)) is not None:
                return cycle
        return None

    def order(self) -> list[str]:
        """Topological order, stable with respect to declaration order (Kahn's algorithm)."""
        done: list[str] = []
        remaining = list(self.nodes)
        while remaining:
            ready = [n for n in remaining if all(p in done for p in self.parents[n])]
            if not ready:
                raise ValueError(f"cycle among {remaining}")
            done.append(ready[0])
            remaining.remove(ready[0])
        return done

    def pipeline_nodes(self) -> list[PipelineNode]:
        """Trees from the roots downwards; an operator with several parents appears under each."""

        def node(name: str) -> PipelineNode:
            return PipelineNode(name, [node(child) for child in self.children(name)])

        return [node(root) for root in self.roots()]

    def job_nodes(self) -> list[JobNode]:
        """Trees from the sinks upwards, following inputs; Clara's JobDagNode direction."""

        def node(name: str) -> JobNode:
            return JobNode(name, [node(parent) for parent in self.parents[name]])

        return [node(sink) for sink in self.sinks()]
