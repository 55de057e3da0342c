"""`clara load` against the real stack for a few seconds: DICOM through the adapter, and jobs made directly.

The stack (tests/support/stack.py) runs every service as its own process; storescp is the PACS the light
pipeline exports to, so every stage up to export delivered is reached.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_api import PlatformClient
from tests.conftest import require_peer
from tests.support.json_keys import not_snake_case
from tests.support.processes import ROOT
from tests.support.soak import platform_checks, read_records
from tests.support.stack import CALLING, LoadStack, load_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
STAGES = ["c_store", "payload_closed", "job_running", "job_done", "export_delivered"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadStack]:
    with load_stack(tmp_path_factory.mktemp("load"), called=("LOAD1", "LOAD2"),
                    storescp_path=require_peer("storescp")) as running:
        yield running


def _load(stack: LoadStack, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "clara_cli", "-O", "json", "load", "--scp", f"127.0.0.1:{stack.scp_port}",
            "--calling", CALLING, "--drain", "90", *args]
    return subprocess.run(argv, env=stack.cli_env(), cwd=ROOT, capture_output=True, text=True, timeout=240)


def test_studies_sent_to_two_ae_titles_reach_every_stage(stack: LoadStack, tmp_path: Path) -> None:
    records_path = tmp_path / "records.jsonl"
    done = _load(stack, "-a", "LOAD1", "-a", "LOAD2", "--duration", "4", "--rate", "1", "--concurrency", "2",
                 "--mix", "ct=1,cr=1,dx=1", "--ct-slices", "6", "--ct-matrix", "128", "--abort-fraction", "1",
                 "--records", str(records_path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no live view when stderr is not a terminal
    report = json.loads(done.stdout)
    assert report["mode"] == "dicom"
    assert list(report["stages"]) == STAGES
    started = report["studies"]["started"]
    assert started >= 3 and report["studies"]["finished"] == started
    assert all(report["stages"][s]["count"] == started for s in STAGES[1:])
    records = read_records(records_path)
    assert {r["called_ae_title"] for r in records} == {"LOAD1", "LOAD2"}
    assert not_snake_case(report) == [] and not_snake_case(records) == []  # docs/cli.md "Output"
    assert all(r["started_at"].endswith("Z") and r["sent_at"].endswith("Z") for r in records)
    aborted = [r for r in records if r["aborted"]]
    assert aborted and all(0 < len(r["acknowledged"]) < r["instances"] for r in aborted)  # every CT sender failed
    assert report["instances"]["acknowledged"] == sum(len(r["acknowledged"]) for r in records)
    lost, duplicates = platform_checks(stack.platform, records)
    assert lost == [] and duplicates == []
    _the_checks_bite(stack, records)


def _the_checks_bite(stack: LoadStack, records: list[dict[str, Any]]) -> None:
    """A claimed instance no job holds is lost; a second job for a study is a duplicate."""
    claimed = [dict(records[0], acknowledged=[*records[0]["acknowledged"], "1.2.3.4.5"]), *records[1:]]
    lost, _ = platform_checks(stack.platform, claimed)
    assert len(lost) == 1 and "1 of" in lost[0]

    async def second_job() -> None:
        async with PlatformClient(stack.platform) as platform:
            await platform.create_job(stack.pipeline_id, "load-duplicate",
                                      metadata={"openclara.study-instance-uids": records[0]["study_instance_uid"]})

    asyncio.run(second_job())
    _, duplicates = platform_checks(stack.platform, records)
    assert duplicates == [f"study {records[0]['study_instance_uid']}: 2 jobs of pipeline {stack.pipeline_id}"]


def test_jobs_created_directly_against_the_pipeline(stack: LoadStack) -> None:
    done = _load(stack, "--pipeline", stack.pipeline_id, "--duration", "3", "--rate", "1", "--mix", "dx")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mode"] == "jobs"
    assert report["stages"]["job_submitted"]["count"] == report["studies"]["started"] >= 2
    assert report["stages"]["payload_closed"]["count"] == 0  # no adapter on this path
    assert report["stages"]["export_delivered"]["count"] == report["studies"]["started"]


def test_a_table_for_people_and_a_clear_error_without_a_target(stack: LoadStack) -> None:
    argv = [sys.executable, "-m", "clara_cli", "load", "--scp", f"127.0.0.1:{stack.scp_port}", "--calling", CALLING,
            "-a", "LOAD1", "--duration", "1", "--mix", "cr"]
    done = subprocess.run(argv, env=stack.cli_env(), cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Latency per stage" in done.stdout and "export delivered" in done.stdout
    missing = subprocess.run([sys.executable, "-m", "clara_cli", "load"], env=stack.cli_env(), cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "-a CLARA" in missing.stderr
