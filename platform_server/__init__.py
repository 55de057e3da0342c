"""platform_server: Clara's Platform API (gRPC) on one machine — pipelines, jobs, payloads, models.

Data flow::

    client --gRPC--> api/{clara,pipelines,jobs,payloads,models}.py   pb2 <-> domain, errors -> header.code < 0
                       |
      pipelines/service.py  definition.py: source (YAML + lines) -> imports -> document, operator (+container,
                            resources, services, typed_io), problems -> spec (frozen) -> dag.py; template at Start
      jobs/service.py  Create (PENDING, own PIPELINE payload) -> Start (seal input, queue)
                       |
      jobs/scheduler.py + queues.py   IMMEDIATE first, then HIGHER:NORMAL:LOWER = 4:2:1, N slots
                       |
      jobs/runner.py   operators in DAG order, branches in parallel, GPUs from jobs/gpus.py,
                       services of the job from jobs/services.py (started once, stopped with the job)
                       |
      executors/factory.py  executor.kind ->
        local.py       subprocess per operator, paths rewritten onto payloads/<id>/...
        container.py   a Podman/Docker container per operator (engine.py = the CLI), inputs read-only,
                       one pod per job for its services (probe.py), GPUs as devices.py says
        (kubernetes.py: the planned mapping)
    state: db.py (SQLite) via jobs/store.py, pipelines/store.py, payloads/store.py, models/repository.py;
           file bytes in and out through chunks.py; enums are the contract's (platform_api.types)
    figures: runner and Payloads servicer count events into metrics.py (PlatformMetrics); api/readings.py
           reads jobs, queue, node (node_metrics.py) and GPUs (gpu_metrics.py) at scrape time ->
           api/metrics_http.py (GET /metrics, HTTP, read-only token) and api/monitor.py (Clara's node_monitor)
    app.py composes everything; __main__.py is `python -m platform_server serve [-f CONFIG]`.
"""

from __future__ import annotations

from platform_server.app import PlatformServer
from platform_server.settings import PlatformSettings

__all__ = ["PlatformServer", "PlatformSettings"]
