"""An operator's `services:` list -> ServiceSpecs (e.g. Triton), and the one-instance-per-job consistency check.

A service entry: `name`, `description`, `api-version`, `container {image, tag, command}`, `requests`,
`variables`, `connections: {http: [{name, port}]}`. Each connection hands the operator an environment
variable `name` holding the service's address on `port`. `$(VAR)` in a service command is kept verbatim:
the runtime expands it from the service's environment (e.g. `$(NVIDIA_CLARA_SERVICE_DATA_PATH)`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from platform_server.pipelines.container import ENV_NAME, SAFE_NAME, parse_container, parse_variables, text
from platform_server.pipelines.problems import Problems, line_of
from platform_server.pipelines.resources import parse_requests
from platform_server.pipelines.source import LineDict
from platform_server.pipelines.spec import Connection, OperatorSpec, ServiceSpec

if TYPE_CHECKING:
    from platform_server.pipelines.imports import Imports

SERVICE_KEYS = ("name", "description", "api-version", "container", "requests", "variables", "connections")
CONNECTION_KINDS = ("http",)
CONNECTION_KEYS = ("name", "port")


def parse_services(value: Any, path: str, problems: Problems, imports: Imports) -> tuple[ServiceSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, LineDict) for v in value):
        problems.add("`services` must be a list of mappings (name, container, connections ...)")
        return ()
    services: list[ServiceSpec] = []
    for item in value:
        found = imports.service(path, item, problems)
        if found is not None:
            service = _service(found[0], found[1], problems)
            if service is not None:
                services.append(service)
    _check_unique(services, problems)
    return tuple(services)


def _service(path: str, item: LineDict, parent: Problems) -> ServiceSpec | None:
    name = item.get("name")
    problems = parent.child(f"{parent.subject}: service {str(name or '?')!r}", path, item.line)
    problems.keys(item, SERVICE_KEYS, "service")
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        problems.add("`name` is required: letters, digits, '_', '-' or '.'")
    before = problems.count
    image, tag, command = parse_container(item.get("container"), problems)
    service = ServiceSpec(
        name=str(name),
        image=image,
        tag=tag,
        command=command,
        description=text(item.get("description")),
        requests=parse_requests(item.get("requests"), problems),
        variables=parse_variables(item.get("variables"), problems),
        connections=_connections(item.get("connections"), problems),
        where=problems.where,
    )
    return None if problems.count != before else service


def _connections(value: Any, problems: Problems) -> tuple[Connection, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.add("`connections` must be a mapping: {http: [{name, port}]}")
        return ()
    problems.keys(value, CONNECTION_KINDS, "connections")
    entries = value.get("http") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.add("`connections.http` must be a list of {name, port}", line_of(value, problems.line))
        return ()
    found: list[Connection] = []
    for entry in entries:
        line = line_of(entry, problems.line)
        problems.keys(entry, CONNECTION_KEYS, "connections.http", line)
        name, port = entry.get("name"), entry.get("port")
        if not isinstance(name, str) or not ENV_NAME.match(name):
            problems.add(f"connection name {name!r} must be an environment variable name (e.g. NVIDIA_CLARA_TRTISURI)",
                         line)
        elif isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            problems.add(f"connection {name!r}: `port` must be a number from 1 to 65535, got {port!r}", line)
        else:
            found.append(Connection(name, port))
    return tuple(found)


def _check_unique(services: list[ServiceSpec], problems: Problems) -> None:
    names: set[str] = set()
    variables: set[str] = set()
    for service in services:
        if service.name in names:
            problems.add(f"service {service.name!r} is listed twice")
        names.add(service.name)
        for connection in service.connections:
            if connection.name in variables:
                problems.add(f"two services set the connection variable {connection.name!r}")
            variables.add(connection.name)


def check_shared_services(operators: Sequence[OperatorSpec], problems: list[str]) -> None:
    """One instance of a service runs per job, so operators naming the same service must define it identically."""
    first: dict[str, tuple[OperatorSpec, ServiceSpec]] = {}
    for op in operators:
        for service in op.services:
            seen = first.setdefault(service.name, (op, service))
            if _same(seen[1], service):
                continue
            problems.append(f"{service.where}: service {service.name!r} is defined differently by operators "
                            f"{seen[0].name!r} and {op.name!r} (one instance is shared by the job: make them equal)")


def _same(one: ServiceSpec, two: ServiceSpec) -> bool:
    return dataclasses.replace(one, where="") == dataclasses.replace(two, where="")
