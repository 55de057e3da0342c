"""`LogMirror`: what the services append to their log files reaches `openclara up`'s terminal, whole lines only."""

from __future__ import annotations

import io
from pathlib import Path

from launcher.log_mirror import LogMirror


def test_only_what_is_written_after_follow_is_copied_in_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "results.log"
    log.write_bytes(b"an earlier run\n")
    sink = io.BytesIO()
    mirror = LogMirror(sink)
    mirror.follow(log)
    with log.open("ab") as handle:
        handle.write(b"started\nhalf a li")
    mirror.drain()
    assert sink.getvalue() == b"started\n"
    with log.open("ab") as handle:
        handle.write(b"ne\n")
    mirror.stop()
    assert sink.getvalue() == b"started\nhalf a line\n"


def test_a_log_that_does_not_exist_yet_is_followed_from_its_start(tmp_path: Path) -> None:
    sink = io.BytesIO()
    mirror = LogMirror(sink)
    mirror.follow(tmp_path / "dicom-adapter.log")
    (tmp_path / "dicom-adapter.log").write_bytes(b"scp.listening\n")
    mirror.stop()
    assert sink.getvalue() == b"scp.listening\n"
