"""The validated shape of a pipeline: frozen specs of operators, their inputs, outputs and requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from platform_server.pipelines.dag import Dag


@dataclass(frozen=True)
class InputSpec:
    """`{path}` alone reads the job's input; `{from, name?, path}` reads another operator's output."""

    path: str
    source: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    path: str
    name: str = "output"


@dataclass(frozen=True)
class Resources:
    cpu: float = 0.0
    gpu: int = 0
    memory: int = 0


@dataclass(frozen=True)
class OperatorSpec:
    name: str
    command: tuple[str, ...]
    image: str = ""
    tag: str = ""
    description: str = ""
    inputs: tuple[InputSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    requests: Resources = Resources()
    variables: Mapping[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    timeout: float | None = None
    where: str = ""


@dataclass(frozen=True)
class PipelineDefinition:
    name: str
    api_version: str
    operators: tuple[OperatorSpec, ...]
    parameters: Mapping[str, str | None] = field(default_factory=dict)

    def operator(self, name: str) -> OperatorSpec:
        return next(op for op in self.operators if op.name == name)

    @property
    def dag(self) -> Dag:
        parents = {op.name: [i.source for i in op.inputs if i.source is not None] for op in self.operators}
        return Dag.build([op.name for op in self.operators], parents)
