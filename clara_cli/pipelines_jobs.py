"""Pipelines, jobs, logs and downloads: `clara create|list|describe pipeline`, `clara create|start|list|
describe|cancel job`, `clara logs`, `clara download ID:GLOB DEST`, `clara delete pipeline|payload`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import click

from clara_cli.context import CliContext, pass_cli
from clara_cli.errors import CliError
from clara_cli.output import emit_object, emit_table
from clara_cli.pipeline_summary import summarize, summary_lines
from clara_cli.platform import run_platform, transfer_progress
from platform_api import (
    JobDetails,
    JobPriority,
    JobState,
    JobStatusDetails,
    JobToken,
    NotFound,
    PayloadFileDetails,
    PlatformClient,
    PlatformError,
)

PRIORITIES = ["lower", "normal", "higher", "immediate"]
STATES = ["pending", "running", "stopped"]
_GLOB_CHARS = re.compile(r"[*?\[]")


# The DICOM adapter's own payload (what it received) in the metadata of the jobs it submits.
ADAPTER_PAYLOAD_KEY = "openclara.payload-id"


def started_state(token: JobToken) -> str:
    """A job just started is still PENDING on the platform until the scheduler runs it: say `queued`."""
    return "queued" if token.state is JobState.PENDING else token.state.label


@click.command(name="pipeline")
@click.option("-p", "--pipeline", "files", multiple=True, required=True, type=click.Path(path_type=Path))
@pass_cli
def create_pipeline(cli: CliContext, files: tuple[Path, ...]) -> None:
    """Create a pipeline from definition files (-p may be given several times); prints its ID."""
    pipeline_id = run_platform(cli, lambda platform: platform.create_pipeline(list(files)))
    if cli.output == "json":
        emit_object({"pipeline_id": pipeline_id}, cli.output)
    else:
        click.echo(pipeline_id)


@click.command(name="pipelines")
@pass_cli
def list_pipelines(cli: CliContext) -> None:
    """List pipelines (NAME, ID)."""
    pipelines = run_platform(cli, lambda platform: platform.list_pipelines())
    emit_table([{"name": p.name, "id": p.pipeline_id} for p in pipelines], ["name", "id"], cli.output)


@click.command(name="pipeline")
@click.argument("pipeline_arg", required=False)
@click.option("-p", "--pipeline", "pipeline_opt", help="Pipeline ID (or give it as the argument).")
@pass_cli
def describe_pipeline(cli: CliContext, pipeline_arg: str | None, pipeline_opt: str | None) -> None:
    """Show a pipeline: name, operators in order, definition files."""
    pipeline_id = pipeline_opt or pipeline_arg
    if not pipeline_id:
        raise click.UsageError("give the pipeline ID: clara describe pipeline PIPELINE_ID")
    details = run_platform(cli, lambda platform: platform.pipeline_details(pipeline_id))
    dag = " ".join(f"{node.name}->[{','.join(n.name for n in node.next)}]" for node in details.dag)
    summary = summarize([(d.path, d.content) for d in details.definitions])
    if cli.output == "json":
        emit_object(
            {
                "pipeline_id": details.pipeline_id,
                "name": details.name,
                "metadata": dict(details.metadata),
                "dag": [{"name": n.name, "next": [m.name for m in n.next]} for n in details.dag],
                "definitions": [{"path": d.path, "content": d.content} for d in details.definitions],
                **summary,
            },
            cli.output,
        )
        return
    emit_object({"name": details.name, "id": details.pipeline_id, "dag": dag}, cli.output)
    for line in summary_lines(summary):
        click.echo(line)
    for definition in details.definitions:
        click.echo(f"--- {definition.path}\n{definition.content.rstrip()}")


def _input_files(paths: Sequence[Path]) -> list[tuple[str, Path]]:
    """(payload name, local path) pairs: a folder's files relative to it, a file by its name."""
    pairs: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_dir():
            pairs += [(f.relative_to(path).as_posix(), f) for f in sorted(path.rglob("*")) if f.is_file()]
        elif path.is_file():
            pairs.append((path.name, path))
        else:
            raise CliError(f"input {path} does not exist")
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise CliError("two inputs have the same name; put them in one folder and pass the folder")
    return pairs


@click.command(name="job")
@click.option("-p", "--pipeline", "pipeline_id", required=True, help="Pipeline ID.")
@click.option("-n", "--name", required=True, help="Job name (keep PHI out of it).")
@click.option("-f", "--file", "inputs", multiple=True, type=click.Path(path_type=Path), help="Input file or folder.")
@click.option("--priority", type=click.Choice(PRIORITIES, case_sensitive=False), default="normal", show_default=True)
@click.option("-m", "--metadata", "meta", multiple=True, help="KEY=VALUE job metadata (repeatable).")
@click.option("--start", "start_now", is_flag=True, help="Start the job once its inputs are uploaded.")
@pass_cli
def create_job(
    cli: CliContext,
    pipeline_id: str,
    name: str,
    inputs: tuple[Path, ...],
    priority: str,
    meta: tuple[str, ...],
    start_now: bool,
) -> None:
    """Create a job, upload its inputs (with a progress bar) and optionally start it."""
    files = _input_files(inputs)
    metadata = _pairs(meta)
    total = sum(path.stat().st_size for _, path in files)

    async def work(platform: PlatformClient) -> dict[str, Any]:
        job_id, payload_id = await platform.create_job(pipeline_id, name, JobPriority.parse(priority), (), metadata)
        result: dict[str, Any] = {"job_id": job_id, "payload_id": payload_id, "files": len(files)}
        try:
            with transfer_progress(f"uploading {len(files)} file(s)", total, cli.output != "json") as advance:
                await platform.upload_many(payload_id, files, progress=advance)
        except PlatformError as exc:
            raise CliError(
                f"upload failed: {exc}; job {job_id} was created but not started "
                f"(cancel it with 'clara cancel job -j {job_id}')"
            ) from exc
        if start_now:
            token = await platform.start_job(job_id)
            result.update(state=started_state(token), status=token.status.label)
        return result

    emit_object(run_platform(cli, work, timeout=3600), cli.output)


def _pairs(items: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


@click.command(name="job")
@click.option("-j", "--job", "job_id", required=True, help="Job ID.")
@click.argument("variables", nargs=-1)
@pass_cli
def start_job(cli: CliContext, job_id: str, variables: tuple[str, ...]) -> None:
    """Start a pending job; VAR=value pairs fill the pipeline's ${{VAR}} parameters."""
    values = _pairs(variables)
    token = run_platform(cli, lambda platform: platform.start_job(job_id, values))
    emit_object({"job_id": token.job_id, "state": started_state(token), "status": token.status.label}, cli.output)


def _job_row(job: JobDetails) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "name": job.name,
        "pipeline_id": job.pipeline_id,
        "state": job.state.label,
        "status": job.status.label,
        "priority": job.priority.label,
        "created": job.created,
    }


@click.command(name="jobs")
@click.option("--all", "show_all", is_flag=True, help="Include stopped jobs.")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES, case_sensitive=False))
@click.option("-p", "--pipeline", "pipelines", multiple=True, help="Only jobs of this pipeline.")
@pass_cli
def list_jobs(cli: CliContext, show_all: bool, states: tuple[str, ...], pipelines: tuple[str, ...]) -> None:
    """List jobs: pending and running ones unless --all or --state is given."""
    wanted = [JobState.parse(s) for s in states] or ([] if show_all else [JobState.PENDING, JobState.RUNNING])
    jobs = run_platform(cli, lambda platform: platform.list_jobs(states=wanted, pipeline_ids=pipelines))
    columns = ["job_id", "name", "pipeline_id", "state", "status", "priority", "created"]
    oldest = datetime.min.replace(tzinfo=UTC)
    emit_table([_job_row(job) for job in sorted(jobs, key=lambda j: j.created or oldest)], columns, cli.output)


@click.command(name="job")
@click.option("-j", "--job", "job_id", required=True, help="Job ID.")
@pass_cli
def describe_job(cli: CliContext, job_id: str) -> None:
    """Show a job: state, operators, messages, metadata."""
    job: JobStatusDetails = run_platform(cli, lambda platform: platform.job_status(job_id))
    metadata = dict(job.metadata)
    # Two payloads, named apart: the platform's (what `clara download` and `delete payload` take) and, for
    # a job the DICOM adapter submitted, the adapter's own payload of received instances (its /api/payloads).
    row = _job_row(job) | {"payload_id": job.payload_id}
    if ADAPTER_PAYLOAD_KEY in metadata:
        row["adapter_payload_id"] = metadata.pop(ADAPTER_PAYLOAD_KEY)
    row |= {"started": job.started, "stopped": job.stopped}
    operators = [
        {"name": op.name, "status": op.status.label, "started": op.started, "stopped": op.stopped}
        for op in job.operators
    ]
    if cli.output == "json":
        emit_object(row | {"operators": operators, "messages": list(job.messages), "metadata": metadata}, "json")
        return
    emit_object(row | {"metadata": ", ".join(f"{k}={v}" for k, v in metadata.items())}, cli.output)
    emit_table(operators, ["name", "status", "started", "stopped"], cli.output, title="operators")
    for message in job.messages:
        click.echo(message)


@click.command(name="job")
@click.option("-j", "--job", "job_id", required=True, help="Job ID.")
@click.option("--reason", default="", help="Why (recorded with the job).")
@pass_cli
def cancel_job(cli: CliContext, job_id: str, reason: str) -> None:
    """Cancel a job; running operators are stopped."""
    token = run_platform(cli, lambda platform: platform.cancel_job(job_id, reason))
    emit_object({"job_id": token.job_id, "state": token.state.label, "status": token.status.label}, cli.output)


@click.command()
@click.option("-j", "--job", "job_id", required=True, help="Job ID.")
@click.option("-o", "--operator", help="Only this operator (default: every operator, in order).")
@pass_cli
def logs(cli: CliContext, job_id: str, operator: str | None) -> None:
    """Print the log of a job's operators."""

    async def work(platform: PlatformClient) -> None:
        names = [operator] if operator else [op.name for op in (await platform.job_status(job_id)).operators]
        for name in names:
            if not operator:
                click.echo(f"== {name} ==")
            async for line in platform.read_logs(job_id, name):
                click.echo(line)

    run_platform(cli, work, timeout=300)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """`**` spans folders, `*` and `?` stay within one; a plain folder name matches what is below it."""
    pattern = pattern.lstrip("/").rstrip("/")
    parts = re.split(r"(\*\*/?|\*|\?)", pattern)
    tokens = {"**": ".*", "**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}
    body = "".join(tokens.get(part, re.escape(part)) for part in parts)
    return re.compile(f"{body}(?:/.*)?" if not _GLOB_CHARS.search(pattern) else body)


def _fixed_prefix(pattern: str) -> PurePosixPath:
    """The folder part of the pattern before the first glob character (kept out of local paths)."""
    pattern = pattern.lstrip("/").rstrip("/")
    match = _GLOB_CHARS.search(pattern)
    if match is None:
        return PurePosixPath(pattern).parent
    return PurePosixPath(pattern[: match.start()].rpartition("/")[0])


async def _payload_of(platform: PlatformClient, identifier: str) -> str:
    """`ID` in `ID:GLOB` is a job id (its payload) or a payload id."""
    try:
        return (await platform.job_status(identifier)).payload_id
    except NotFound:
        return identifier


@click.command(short_help="Download job or payload files (ID:GLOB DEST).")
@click.argument("source")
@click.argument("dest", type=click.Path(path_type=Path))
@pass_cli
def download(cli: CliContext, source: str, dest: Path) -> None:
    """Download payload files: SOURCE is JOB_OR_PAYLOAD_ID:GLOB (e.g. JOB:/operators/seg/**)."""
    identifier, sep, pattern = source.partition(":")
    if not sep or not identifier or not pattern:
        raise click.BadParameter(f"expected ID:GLOB (e.g. JOB_ID:/operators/seg/**), got {source!r}")
    regex, prefix = glob_regex(pattern), _fixed_prefix(pattern)

    async def work(platform: PlatformClient) -> list[dict[str, Any]]:
        payload_id = await _payload_of(platform, identifier)
        files = await platform.payload_details(payload_id)
        chosen = [f for f in files if regex.fullmatch(f.name)]
        if not chosen:
            raise CliError(f"no file of payload {payload_id} matches {pattern!r} ({len(files)} files in it)")
        single = len(chosen) == 1 and not _GLOB_CHARS.search(pattern) and not dest.is_dir()
        with transfer_progress(
            f"downloading {len(chosen)} file(s)", sum(f.size for f in chosen), cli.output != "json"
        ) as advance:
            return [
                await _fetch(platform, payload_id, f, dest if single else dest / _local(f.name, prefix), advance)
                for f in chosen
            ]

    rows = run_platform(cli, work, timeout=3600)
    emit_table(rows, ["name", "size", "path"], cli.output)


def _local(name: str, prefix: PurePosixPath) -> str:
    path = PurePosixPath(name)
    return path.relative_to(prefix).as_posix() if prefix.parts and path.is_relative_to(prefix) else name


async def _fetch(
    platform: PlatformClient, payload_id: str, file: PayloadFileDetails, dest: Path, advance: Any
) -> dict[str, Any]:
    details = await platform.download(payload_id, file.name, dest, progress=advance)
    return {"name": file.name, "size": details.size, "path": str(dest)}


@click.command(name="pipeline")
@click.argument("pipeline_id")
@pass_cli
def delete_pipeline(cli: CliContext, pipeline_id: str) -> None:
    """Remove a pipeline."""
    run_platform(cli, lambda platform: platform.remove_pipeline(pipeline_id))
    emit_object({"deleted": pipeline_id}, cli.output)


@click.command(name="payload")
@click.option("-p", "--payload", "payload_id", required=True, help="Payload ID (see `clara describe job`).")
@pass_cli
def delete_payload(cli: CliContext, payload_id: str) -> None:
    """Delete a payload and its files."""
    run_platform(cli, lambda platform: platform.delete_payload(payload_id))
    emit_object({"deleted": payload_id}, cli.output)


def register(cli: click.Group, verbs: dict[str, click.Group]) -> None:
    """Attach this plugin's commands to the root group and the verb groups."""
    for verb, command, plural in [
        ("create", create_pipeline, "pipelines"),
        ("create", create_job, "jobs"),
        ("list", list_pipelines, "pipeline"),
        ("list", list_jobs, "job"),
        ("describe", describe_pipeline, None),
        ("describe", describe_job, None),
        ("start", start_job, None),
        ("cancel", cancel_job, None),
        ("delete", delete_pipeline, None),
        ("delete", delete_payload, None),
    ]:
        verbs[verb].add_command(command)
        if plural:
            # Clara's docs use both `create pipelines` and `create pipeline`: accept both.
            verbs[verb].add_command(command, name=plural)
    cli.add_command(logs)
    cli.add_command(download)
