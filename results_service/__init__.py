"""openclara results service: the Clara-compatible task queue that drives result delivery.

Data flow::

    register_results operator --POST /api/tasks/register/{agent}--> api.routes_tasks
        -> queue.TaskQueue (state machine) -> repository.TaskRepository -> db (SQLite, WAL)
    agent --GET /api/tasks/{agent}/pending--> lease (atomic UPDATE ... RETURNING) -> InProgress
    agent --PUT success|failure--> Succeeded | Pending after backoff | Failed
    periodic: lease sweeper (expired leases -> Pending), cleanup.PayloadCleaner (finished job ->
    Platform API delete payload after retainDataForMinutes)

`app` composes it (settings -> objects -> uvicorn); `api` is the HTTP edge (schemas, problem+json).
"""

from results_service.app import ResultsService, create_app
from results_service.models import Registration, Task, TaskState
from results_service.settings import ResultsSettings

__all__ = ["Registration", "ResultsService", "ResultsSettings", "Task", "TaskState", "create_app"]
