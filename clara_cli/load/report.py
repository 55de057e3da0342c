"""Figures of a load run: throughput, latency percentiles per stage, counts; as a dict, a table, a live view."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from clara_cli.load.records import DOWNSTREAM, STORE, SUBMIT, StudyRecord, stage_label


def percentiles(values: Sequence[float]) -> dict[str, Any]:
    """count, p50, p90, p99 and max (nearest rank; seconds, rounded to 0.1 ms); None values when empty."""
    ordered = sorted(values)

    def rank(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 4)

    return {"count": len(ordered), "p50": rank(50), "p90": rank(90), "p99": rank(99), "max": rank(100)}


def first_stage(mode: str) -> str:
    return STORE if mode == "dicom" else SUBMIT


def stage_values(records: Sequence[StudyRecord], mode: str) -> dict[str, list[float]]:
    values = {first_stage(mode): [s for r in records for s in r.store_seconds]}
    for stage in DOWNSTREAM:
        values[stage] = [r.stages[stage] for r in records if stage in r.stages]
    return values


def summarize(records: Sequence[StudyRecord], mode: str, sending_seconds: float, wall_seconds: float) -> dict[str, Any]:
    """Everything `clara load` reports (the JSON document of `--output json`)."""
    acknowledged = sum(len(r.acknowledged) for r in records)
    acked_bytes = sum(r.nbytes * len(r.acknowledged) // max(1, r.instances) for r in records)
    complete = sum(1 for r in records if len(r.acknowledged) == r.instances)
    errors = Counter(r.error for r in records if r.error and not r.aborted)
    per_second = max(sending_seconds, 1e-9)
    return {
        "mode": mode,
        "sending_seconds": round(sending_seconds, 3),
        "wall_seconds": round(wall_seconds, 3),
        "studies": {
            "started": len(records),
            "complete": complete,
            "aborted": sum(r.aborted for r in records),
            "failed": sum(1 for r in records if r.error and not r.aborted),
            "finished": sum(r.finished for r in records),
            "unfinished": sum(1 for r in records if r.sent_at is not None and not r.finished),
        },
        "instances": {
            "planned": sum(r.instances for r in records),
            "acknowledged": acknowledged,
            "failed": sum(r.failed for r in records),
        },
        "throughput": {
            "studies_per_second": round(complete / per_second, 3),
            "instances_per_second": round(acknowledged / per_second, 2),
            "megabytes_per_second": round(acked_bytes / per_second / 1e6, 2),
        },
        "stages": {stage: percentiles(values) for stage, values in stage_values(records, mode).items()},
        # A list, not {message: count}: an error message is no key (docs/cli.md "Output").
        "errors": [{"error": message, "studies": count} for message, count in errors.most_common(10)],
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def stage_table(summary: dict[str, Any], title: str = "Latency per stage (seconds)") -> Table:
    table = Table(title=title)
    for column in ("stage", "count", "p50", "p90", "p99", "max"):
        table.add_column(column.upper(), justify="left" if column == "stage" else "right")
    for stage, figures in summary["stages"].items():
        seconds = (_seconds(figures[k]) for k in ("p50", "p90", "p99", "max"))
        table.add_row(stage_label(stage), str(figures["count"]), *seconds)
    return table


def headline(summary: dict[str, Any]) -> Text:
    studies, instances, rate = summary["studies"], summary["instances"], summary["throughput"]
    return Text(
        f"{studies['started']} studies ({studies['complete']} complete, {studies['aborted']} aborted, "
        f"{studies['failed']} failed, {studies['unfinished']} unfinished); "
        f"{instances['acknowledged']}/{instances['planned']} instances acknowledged in "
        f"{summary['sending_seconds']:.1f} s: {rate['studies_per_second']} studies/s, "
        f"{rate['instances_per_second']} instances/s, {rate['megabytes_per_second']} MB/s"
    )


def live_view(summary: dict[str, Any], phase: str) -> Group:
    """What the live display shows while the run goes on."""
    return Group(Text(phase, style="bold"), headline(summary), stage_table(summary, title=""))
