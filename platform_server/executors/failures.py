"""How an operator that did not succeed is described in its job's Status: one wording for every executor.

An operator's exit code alone rarely tells an imaging-AI engineer what to fix; these reasons name the
likely cause (out of memory, a missing command, a write to a read-only input) in the words the job's
Status and `clara describe job` show.
"""

from __future__ import annotations

from platform_server.executors.base import OperatorResult, OperatorRun, Outcome

SIGKILL_EXIT = 128 + 9
READ_ONLY_HINT = "its inputs are mounted read-only: write results to a declared output path"


def not_started(run: OperatorRun, reason: str) -> OperatorResult:
    """The operator never ran: say why in its log (ReadLogs shows it) and in the job's Status."""
    run.log_path.parent.mkdir(parents=True, exist_ok=True)
    with run.log_path.open("ab") as sink:
        sink.write(f"openclara: {reason}\n".encode())
    return OperatorResult(Outcome.NOT_STARTED, None, (reason,), reason)


def failure_reason(run: OperatorRun, code: int, oom: bool, lines: tuple[str, ...]) -> str:
    limit = f" (memory limit {run.resources.memory_mb} MiB)" if run.resources.memory_mb else ""
    if oom:
        return f"operator {run.operator!r} was killed: out of memory{limit}, exit code {code}"
    if code == SIGKILL_EXIT and run.resources.memory_mb:
        # cgroup v1 engines do not always flag OOM kills; a SIGKILL under a memory limit almost always is one.
        return f"operator {run.operator!r} was killed (SIGKILL, exit code {code}): most likely out of memory{limit}"
    if code in (126, 127) and any("executable file not found" in line or "no such file" in line.lower()
                                  for line in lines):
        return f"operator {run.operator!r} could not start its command in {run.image}: exit code {code}"
    reason = f"operator {run.operator!r} exited with code {code}"
    if any("Read-only file system" in line for line in lines):
        reason += f" ({READ_ONLY_HINT})"
    return reason
