"""Who may call which results-service route: the least role per method and path (openclara.auth.rest).

Reading tasks is `read-only`; registering results (pipeline operators), leasing and reporting them
(export agents) is `operator`. Leasing is a GET (`/api/tasks/{agent}/pending`, and Clara's
`/api/tasks/{agent}/{state}` leases for any spelling of Pending), so every two-segment GET under
/api/tasks needs `operator`. Health probes and the API documents are public.
"""

from __future__ import annotations

from openclara.auth.rest import PUBLIC_PATHS
from openclara.auth.roles import Role

TASKS = "/api/tasks/"


def required_role(method: str, path: str) -> Role | None:
    if path in PUBLIC_PATHS:
        return None
    if method in ("GET", "HEAD"):
        segments = path[len(TASKS):].strip("/").split("/") if path.startswith(TASKS) else []
        return Role.OPERATOR if len(segments) == 2 else Role.READ_ONLY
    return Role.OPERATOR
