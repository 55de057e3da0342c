"""kill -9 of the SCP process mid-stream, then a restart on the same spool: every instance storescu saw
acknowledged is in the spool, byte for byte, and no partial file survives (single-flush durability)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from dicom_adapter.storage.completion import read_completion
from dicom_adapter.storage.spool import Spool
from tests.conftest import free_port, require_peer
from tests.dicom_adapter.scp.datasets import dataset_bytes, make_ct, write_ct

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_SENT = re.compile(r"Sending file: (\S+)")
_SUCCESS = "Received Store Response (Success)"


def start_scp(spool: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.dicom_adapter.scp.serve", str(spool), str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until it listens (or dies)
    assert b"listening" in line, line + process.stdout.read()
    return process


def stored_count(spool: Path) -> int:
    return sum(1 for p in spool.rglob("*.dcm") if ".incoming" not in p.parts)


def acknowledged(output: str) -> list[Path]:
    """The files storescu -v reports as answered with Success."""
    done: list[Path] = []
    current: Path | None = None
    for line in output.splitlines():
        if match := _SENT.search(line):
            current = Path(match.group(1))
        elif _SUCCESS in line and current is not None:
            done.append(current)
            current = None
    return done


def make_study(directory: Path, count: int) -> list[Path]:
    directory.mkdir()
    rng = np.random.default_rng(7)
    files = []
    for index in range(count):
        ds = make_ct(size=256)  # ~131 KB: several PDUs each, so the kill lands inside a data set
        ds.PixelData = rng.integers(-1000, 3000, (256, 256), dtype=np.int16).tobytes()
        files.append(write_ct(directory / f"{index:04d}.dcm", ds))
    return files


def test_kill9_mid_stream_keeps_every_acknowledged_instance_and_no_partial_file(tmp_path):
    storescu = require_peer("storescu")
    files = make_study(tmp_path / "study", 150)
    spool, port = tmp_path / "spool", free_port()
    scp = start_scp(spool, port)
    sender = subprocess.Popen(
        [storescu, "-v", "-aec", "CLARA", "-aet", "STORESCU", "127.0.0.1", str(port), *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ | {"TCP_NODELAY": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while stored_count(spool) < 40 and sender.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        scp.send_signal(signal.SIGKILL)
        scp.wait(10)
        output, _ = sender.communicate(timeout=60)
    finally:
        for process in (scp, sender):
            if process.poll() is None:
                process.kill()
                process.wait()
    done = acknowledged(output.decode(errors="replace"))
    assert 40 <= len(done) < len(files), "the kill did not land mid-study"
    # Simulate a rename that a power loss undid: the complete file is back in .incoming/.
    moved_back = next(spool.rglob("*.dcm"))
    os.replace(moved_back, spool / ".incoming" / "lost-rename.part")

    scp = start_scp(spool, port)  # start() recovers .incoming/ before it listens
    try:
        in_spool = {p.name: p for p in Spool(spool).files()}
        for sent in done:
            uid = _sop_uid(sent)
            assert f"{uid}.dcm" in in_spool, f"acknowledged {sent.name} lost"
            assert dataset_bytes(in_spool[f"{uid}.dcm"]) == dataset_bytes(sent)
        for path in in_spool.values():
            assert read_completion(path) is not None, f"partial file {path.name} survived"
        leftovers = [p for p in (spool / ".incoming").iterdir() if p.stat().st_size]
        assert leftovers == []  # only empty spares remain
    finally:
        scp.kill()
        scp.wait()


def _sop_uid(path: Path) -> str:
    return str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)
