"""Who may call which route of the adapter's REST API: the least role per method and path.

Reading configuration, associations and payloads is `read-only`; a C-ECHO to a destination and
re-driving a payload are `operator`; every change of AE titles, sources and destinations is `admin`,
and audited: a destination repointed to another host, or a source opened to everyone, is how patient
data would leave (issue #11). Health probes and the API documents are public.
"""

from __future__ import annotations

from openclara.auth.rest import PUBLIC_PATHS
from openclara.auth.roles import Role

CONFIG = "/api/config/"


def required_role(method: str, path: str) -> Role | None:
    if path in PUBLIC_PATHS:
        return None
    if method in ("GET", "HEAD"):
        return Role.READ_ONLY
    if path.lower().startswith(CONFIG) and not path.lower().endswith("/cecho"):
        return Role.ADMIN
    return Role.OPERATOR


def audited(method: str, path: str) -> bool:
    """Every configuration change (and every C-ECHO, which makes the adapter dial out)."""
    return method not in ("GET", "HEAD") and path.lower().startswith(CONFIG)
