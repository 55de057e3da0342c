"""openclara results service: the Clara-compatible task queue that drives result delivery.

Data flow::

    register_results operator --POST /api/tasks/register/{agent}--> api.hot_routes -> api.handlers
        -> queue.TaskQueue (state machine) -> repository.TaskRepository -> db (SQLite, WAL)
    agent --GET /api/tasks/{agent}/pending--> lease (atomic UPDATE ... RETURNING) -> InProgress
    agent --PUT success|failure--> Succeeded | Pending after backoff | Failed
    periodic: lease sweeper (expired leases -> Pending), cleanup.PayloadCleaner (finished job ->
    Platform API delete payload after retainDataForMinutes)

`app` composes it (settings -> objects -> uvicorn); `api` is the HTTP edge (schemas, problem+json).

Blocking I/O, one rule: code on the event-loop thread may block only for a bounded time shorter than
the hop to a worker thread and back (~0.25 ms of CPU); everything else runs on a worker thread and is
awaited. So short indexed SQLite statements (register, a lease of at most `lease.max_batch`, success,
failure, lookups: tens of microseconds) run inline through `db.ResultsDatabase.point()`; statements whose cost
grows with the table and WAL checkpoints run on aiosqlite's thread (`ResultsDatabase.scan()`, `checkpoint()`);
file-system work (creating the directory, reading the schema, opening a connection) uses
`asyncio.to_thread`. No async function here does file or SQLite I/O any other way.
"""

from results_service.app import ResultsService, create_app
from results_service.models import Registration, Task, TaskState
from results_service.settings import ResultsSettings

__all__ = ["Registration", "ResultsService", "ResultsSettings", "Task", "TaskState", "create_app"]
