"""`clara load`: synthetic studies into the stack at a given pace; throughput and latency per stage."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.live import Live

from clara_cli import https
from clara_cli.context import CliContext, pass_cli
from clara_cli.errors import CliError
from clara_cli.load.direct import JobSubmitter
from clara_cli.load.plan import LoadPlan, parse_mix
from clara_cli.load.records import StudyRecord
from clara_cli.load.report import headline, live_view, stage_table
from clara_cli.load.runner import Deliver, LoadRun, Update
from clara_cli.load.sender import StoreSender
from clara_cli.load.studies import Study, StudyMaker
from clara_cli.load.tracker import StageTracker, TrackingError
from openclara.auth.credentials import auth_headers
from openclara.ports import DICOM_SCP_PORT, LOOPBACK
from openclara.tls import ClientTlsSettings
from platform_api import PlatformClient, PlatformError


class MixType(click.ParamType[dict[str, float]]):
    name = "mix"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, float]:
        if isinstance(value, dict):
            return value
        try:
            return parse_mix(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _scp(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:{DICOM_SCP_PORT}")
    return host, int(port)


@click.command(name="load")
@click.option("-a", "--ae-title", "called", multiple=True, help="Called AE title (repeat: round robin).")
@click.option("--pipeline", "pipeline_id", help="Create jobs of this pipeline directly instead of sending DICOM.")
@click.option("--scp", default=f"{LOOPBACK}:{DICOM_SCP_PORT}", show_default=True, help="The adapter's DICOM port.")
@click.option("--calling", default="CLARALOAD", show_default=True, help="Our (calling) AE title; a known source.")
@click.option("--rate", type=click.FloatRange(0), default=1.0, show_default=True, help="Studies per second (0: max).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=2, show_default=True, help="Studies at once.")
@click.option("--duration", type=click.FloatRange(0.1), default=30.0, show_default=True, help="Seconds of sending.")
@click.option("--mix", type=MixType(), default="ct=1", show_default=True, help="Kinds and weights: ct=1,cr=4,dx=4.")
@click.option("--ct-slices", type=click.IntRange(1, 2000), default=50, show_default=True)
@click.option("--ct-matrix", type=click.IntRange(32, 1024), default=512, show_default=True)
@click.option("--radiograph-matrix", type=click.IntRange(32, 4096), default=256, show_default=True, help="CR and DX.")
@click.option("--abort-fraction", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of multi-instance studies whose sender aborts the association part-way.")
@click.option("--drain", type=click.FloatRange(0), default=120.0, show_default=True,
              help="Seconds to wait after sending for the studies' jobs and exports.")
@click.option("--export-grace", type=click.FloatRange(0), default=5.0, show_default=True,
              help="Seconds after a study's jobs stopped for an export task to appear.")
@click.option("--no-export", is_flag=True, help="Do not follow exports (the results service is not asked).")
@click.option("--records", "records_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one JSON line per study (UIDs, acknowledged instances, jobs, stage times).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the mix and the failing senders.")
@click.option("-q", "--quiet", is_flag=True, help="No live progress on stderr.")
@pass_cli
def load(cli: CliContext, called: tuple[str, ...], pipeline_id: str | None, scp: str, calling: str, rate: float,
         concurrency: int, duration: float, mix: dict[str, float], ct_slices: int, ct_matrix: int,
         radiograph_matrix: int, abort_fraction: float, drain: float, export_grace: float, no_export: bool,
         records_path: Path | None, seed: int, quiet: bool) -> None:
    """Send synthetic studies (or create jobs) for DURATION seconds and report latency per stage.

    \b
    Stages (seconds after the study's last acknowledged instance, or after its job was started):
      c-store           each instance's C-STORE round trip (--pipeline: `job submitted`)
      payload closed    the adapter closed the study's payload (grouping timeout included)
      job running       the first job of the study started (platform timestamps)
      job done          the last job of the study stopped
      export delivered  every export task of its jobs succeeded (results service)
    In -O json and --records the stages are snake_case keys: c_store, payload_closed, ...

    Example: clara load -a CLARA --rate 2 --concurrency 4 --duration 60 --mix ct=1,cr=4,dx=4
    """
    if not called and not pipeline_id:
        raise click.UsageError("give the AE title(s) to send to (-a CLARA) or a pipeline to start jobs of (--pipeline)")
    plan = LoadPlan(called=called or ("-",), duration=duration, rate=rate, concurrency=concurrency, mix=mix,
                    abort_fraction=abort_fraction, seed=seed)
    maker = StudyMaker(ct_slices=ct_slices, ct_matrix=ct_matrix, radiograph_matrix=radiograph_matrix)
    maker.prepare(list(mix))
    target = (*_scp(scp), calling)
    console = Console(stderr=True)
    with _live(console, enabled=not quiet and console.is_terminal) as update:
        records, summary = _execute(cli, plan, maker, target, pipeline_id, (drain, export_grace, no_export), update)
    if records_path is not None:
        records_path.write_text("".join(json.dumps(r.as_json()) + "\n" for r in records))
    _emit(cli, summary)
    studies = summary["studies"]
    if studies["failed"] or studies["unfinished"]:
        raise CliError(f"{studies['failed']} studies failed, {studies['unfinished']} did not finish in the drain time")


def _execute(cli: CliContext, plan: LoadPlan, maker: StudyMaker, target: tuple[str, int, str],
             pipeline_id: str | None, following: tuple[float, float, bool],
             update: Update | None) -> tuple[list[StudyRecord], dict[str, Any]]:
    drain, export_grace, no_export = following

    async def main() -> tuple[list[StudyRecord], dict[str, Any]]:
        # pynetdicom blocks: one worker thread per concurrent association (the default pool has cpu + 4).
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=plan.concurrency + 2))
        tls = cli.config.platform_tls or ClientTlsSettings()
        async with (PlatformClient(cli.config.platform, tls=tls) as platform,
                    httpx.AsyncClient(timeout=10.0, headers=auth_headers(), verify=https.verify()) as http):
            tracker = StageTracker(http, platform, adapter=None if pipeline_id else cli.config.dicom,
                                   results=None if no_export else cli.config.results, export_grace=export_grace)
            if pipeline_id:
                deliver = _jobs(JobSubmitter(platform, pipeline_id))
            else:
                deliver = _stores(StoreSender(*target, sop_classes=maker.sop_classes(list(plan.mix))))
            run = LoadRun(plan, maker, deliver, tracker, "jobs" if pipeline_id else "dicom", drain, on_update=update)
            return run.records, await run.run()

    try:
        return asyncio.run(main())
    except TrackingError as exc:
        raise CliError(str(exc)) from exc
    except PlatformError as exc:
        raise CliError(f"the platform at {cli.config.platform}: {exc}") from exc


def _stores(sender: StoreSender) -> Deliver:
    async def deliver(study: Study, record: StudyRecord, abort_after: int | None) -> None:
        await asyncio.to_thread(sender.send, study, record, abort_after)

    return deliver


def _jobs(submitter: JobSubmitter) -> Deliver:
    async def deliver(study: Study, record: StudyRecord, abort_after: int | None) -> None:
        await submitter.send(study, record)

    return deliver


@contextmanager
def _live(console: Console, enabled: bool) -> Iterator[Update | None]:
    """A live view on stderr (a terminal only); yields the callback the run updates it with."""
    if not enabled:
        yield None
        return
    with Live(console=console, refresh_per_second=2, transient=True) as live:
        yield lambda summary, phase: live.update(live_view(summary, phase))


def _emit(cli: CliContext, summary: dict[str, Any]) -> None:
    if cli.output == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    out = Console()
    out.print(headline(summary))
    out.print(stage_table(summary))
    for row in summary["errors"]:
        out.print(f"  {row['studies']} x {row['error']}")


def register(cli: click.Group, verbs: dict[str, click.Group]) -> None:
    """Attach `clara load` to the root group."""
    cli.add_command(load)
