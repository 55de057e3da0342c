"""Who may call which Platform API method: the least role per method, and which calls are audited.

Reading is `read-only`; running work on existing pipelines (jobs, payloads) is `operator`; changing what
can run or stopping the platform is `admin`, because a pipeline's operator is a command the platform
executes. A method missing here (a newer proto) needs `admin` until someone decides otherwise.
"""

from __future__ import annotations

from openclara.auth.roles import Role

PACKAGE = "/nvidia.clara.platform"
# openclara's own extensions; LocalFiles also checks the caller's name (local_files.callers).
EXTENSIONS = {
    "/openclara.platform.LocalFiles/Adopt": Role.OPERATOR,
    "/openclara.platform.LocalFiles/Locate": Role.READ_ONLY,
}
READ_ONLY = {
    "Clara": ("Version", "Utilization"),
    "Jobs": ("List", "Status", "ReadLogs"),
    "Payloads": ("Details", "Download"),
    "Pipelines": ("List", "Details"),
    "Models": ("ListModels", "DownloadModel", "ListCatalogs", "ListInstances", "ReadCatalog", "ReadInstance"),
    "node_monitor.Monitor": ("GpuMetrics",),
}
OPERATOR = {
    "Jobs": ("Create", "Start", "Cancel", "AddMetadata", "RemoveMetadata"),
    "Payloads": ("Create", "Upload", "Delete", "Remove", "AddMetadata", "RemoveMetadata"),
}
ADMIN = {
    "Clara": ("Stop",),
    "Pipelines": ("Create", "Update", "Remove", "AddMetadata", "RemoveMetadata"),
    "Models": ("UploadModel", "DeleteModel", "AddMetadata", "RemoveMetadata", "CreateCatalog", "CreateInstance",
               "DeleteCatalog", "DeleteInstance", "UpdateCatalog", "UpdateInstance"),
}


def _names(table: dict[str, tuple[str, ...]]) -> list[str]:
    return [f"{PACKAGE}.{service}/{method}" for service, methods in table.items() for method in methods]


def method_roles() -> dict[str, Role]:
    roles = dict.fromkeys(_names(READ_ONLY), Role.READ_ONLY)
    roles.update(dict.fromkeys(_names(OPERATOR), Role.OPERATOR))
    roles.update(dict.fromkeys(_names(ADMIN), Role.ADMIN))
    roles.update(EXTENSIONS)
    return roles


def audited_methods() -> frozenset[str]:
    """Changes to what runs (pipelines, models), Stop, and cancelling someone's job."""
    return frozenset([*_names(ADMIN), f"{PACKAGE}.Jobs/Cancel", f"{PACKAGE}.Payloads/Delete"])
