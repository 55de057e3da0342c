"""Errors of the results service; the API maps each to one HTTP status in `api/problems.py`.

ResultsError
├── InvalidRequest          400  bad agent name, unknown state name, bad parameters
├── TaskNotFound            404  no task with that id
├── TransitionRejected      409  e.g. success for a task that is not InProgress
├── PayloadGone             409  registering/retrying after cleanup deleted the job's payload
└── StoreUnavailable        503  the SQLite database cannot be used

413 (body above `max_body_bytes`) and 421 (Host not in `allowed_hosts`) come from `openclara.http_guards`,
in front of the application.
"""

from __future__ import annotations


class ResultsError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidRequest(ResultsError):
    """The request is well-formed JSON but breaks a rule; the message names the rule."""


class TaskNotFound(ResultsError):
    """No task has that id."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"no task with id {task_id!r}")
        self.task_id = task_id


class TransitionRejected(ResultsError):
    """The task is not in a state that allows the requested change."""


class PayloadGone(ResultsError):
    """The payload of this job was deleted by cleanup, so its files can no longer be delivered."""


class StoreUnavailable(ResultsError):
    """The task database cannot be opened or written."""
