"""The validated shape of a pipeline: frozen specs of operators, services, their inputs, outputs and requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from platform_server.pipelines.dag import Dag


@dataclass(frozen=True)
class DataType:
    """A 0.5.0 typed input or output: `type`, `element-type`, `shape` (-1 = any length) and `format`."""

    type: str = ""
    element_type: str = ""
    shape: tuple[int, ...] = ()
    format: str = ""


@dataclass(frozen=True)
class InputSpec:
    """`{path}` alone reads the job's input; `{from, name?, path}` reads another operator's output."""

    path: str
    source: str | None = None
    name: str | None = None
    data_type: DataType | None = None


@dataclass(frozen=True)
class OutputSpec:
    path: str
    name: str = "output"
    data_type: DataType | None = None


@dataclass(frozen=True)
class Resources:
    cpu: float = 0.0
    gpu: int = 0
    memory: int = 0  # MiB


@dataclass(frozen=True)
class Connection:
    """`connections.http[]` of a service: the operator gets env var `name` = an address of `port`."""

    name: str
    port: int


@dataclass(frozen=True)
class ServiceSpec:
    """A long-running container (e.g. Triton) an operator talks to over HTTP; one instance per job."""

    name: str
    image: str
    tag: str = ""
    command: tuple[str, ...] = ()
    description: str = ""
    requests: Resources = Resources()
    variables: Mapping[str, str] = field(default_factory=dict)
    connections: tuple[Connection, ...] = ()
    where: str = ""

    @property
    def reference(self) -> str:
        return f"{self.image}:{self.tag}" if self.tag else self.image


@dataclass(frozen=True)
class OperatorSpec:
    name: str
    command: tuple[str, ...] = ()  # empty: the container image's entrypoint runs
    image: str = ""
    tag: str = ""
    description: str = ""
    inputs: tuple[InputSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    requests: Resources = Resources()
    variables: Mapping[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    services: tuple[ServiceSpec, ...] = ()
    timeout: float | None = None
    api_version: str = ""  # the operator's own `api-version`, else the one of the document it was written in
    # Operator-level template parameters: defaults for placeholders, under pipeline parameters and job variables.
    parameters: Mapping[str, str | None] = field(default_factory=dict)
    where: str = ""

    @property
    def reference(self) -> str:
        return f"{self.image}:{self.tag}" if self.tag else self.image


@dataclass(frozen=True)
class PipelineDefinition:
    name: str
    api_version: str
    operators: tuple[OperatorSpec, ...]
    parameters: Mapping[str, str | None] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    pull_secrets: tuple[str, ...] = ()
    orchestrator: str = ""
    description: str = ""

    def operator(self, name: str) -> OperatorSpec:
        return next(op for op in self.operators if op.name == name)

    @property
    def dag(self) -> Dag:
        parents = {op.name: [i.source for i in op.inputs if i.source is not None] for op in self.operators}
        return Dag.build([op.name for op in self.operators], parents)
