"""The soak's checks for 60 s against the real stack (bench/soak.py runs them for 30 min).

Realistic mix: CT series and single CR/DX images round robin to three AE titles, some CT senders
aborting their association part-way. Then: no acknowledged instance lost, one job per study, every
study exported, RSS and open files of the services flat, latency percentiles stable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_peer
from tests.support.soak import soak

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
# 0.3 studies/s stays below what the stack sustains on a shared 2-core runner (the platform runs 2 jobs at
# once, each two operator processes); above it the job queue grows and the latency check fails, as it should.


def test_sixty_seconds_of_mixed_load_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    require_peer("storescp")
    result = soak(tmp_path, 60, ["--rate", "0.3", "--concurrency", "3", "--mix", "ct=1,cr=2,dx=2",
                                 "--abort-fraction", "0.3", "--ct-slices", "20", "--ct-matrix", "256",
                                 "--seed", "2"])  # seed 2: some CT senders fail (seed 0 would make none)
    assert result.passed, result.findings
    assert result.load_exit == 0, result.load_stderr
    assert result.report["studies"]["started"] >= 15
    assert {r["called_ae_title"] for r in result.records} == {"LOAD1", "LOAD2", "LOAD3"}
    assert {r["kind"] for r in result.records} == {"ct", "cr", "dx"}
    assert result.report["studies"]["aborted"] >= 1

