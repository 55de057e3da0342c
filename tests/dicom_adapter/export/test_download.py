"""Result files streamed from the job payload into the export spool."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicom_adapter.export import download
from dicom_adapter.export.download import PayloadDownloader
from dicom_adapter.export.errors import DownloadError, MissingFileError
from dicom_adapter.export.task import ExportTask
from platform_api.errors import NotFound, PlatformUnavailable


def _task(*uris: str) -> ExportTask:
    return ExportTask("task/1", "j", "p", "payload", "ClaraSCU", '"PACS"', 0, uris)


class Source:
    def __init__(self, fail_with: Exception | None = None, failures: int = 0) -> None:
        self.calls: list[str] = []
        self.fail_with = fail_with
        self.failures = failures

    async def download(self, payload_id: str, name: str, dest: Path) -> None:
        self.calls.append(name)
        if self.fail_with is not None and len(self.calls) <= self.failures:
            raise self.fail_with
        dest.write_bytes(name.encode())


async def test_fetch_streams_into_the_task_spool_once(tmp_path):
    source = Source()
    downloader = PayloadDownloader(source, tmp_path)
    task = _task("operators/seg/a.dcm", "operators/seg/b.dcm")
    paths = await downloader.fetch(task, list(task.uris))
    again = await downloader.fetch(task, list(task.uris))
    assert paths == again
    assert paths["operators/seg/a.dcm"] == tmp_path / "task_1" / "operators/seg/a.dcm"
    assert source.calls == ["operators/seg/a.dcm", "operators/seg/b.dcm"]  # not fetched twice
    downloader.discard(task)
    assert not (tmp_path / "task_1").exists()


async def test_fetch_refuses_uris_escaping_the_spool(tmp_path):
    with pytest.raises(MissingFileError, match="not a path inside the payload"):
        await PayloadDownloader(Source(), tmp_path).fetch(_task("../../etc/passwd"), ["../../etc/passwd"])


async def test_a_missing_payload_file_is_permanent(tmp_path):
    source = Source(NotFound(-3, ["no such file"]), failures=9)
    with pytest.raises(MissingFileError, match="payload payload has no file 'x.dcm'"):
        await PayloadDownloader(source, tmp_path).fetch(_task("x.dcm"), ["x.dcm"])


async def test_an_unavailable_platform_is_retried_then_retryable(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_BACKOFF_SECONDS", 0.0)
    flaky = Source(PlatformUnavailable("127.0.0.1:1"), failures=1)
    paths = await PayloadDownloader(flaky, tmp_path).fetch(_task("x.dcm"), ["x.dcm"])
    assert paths["x.dcm"].read_bytes() == b"x.dcm"
    down = Source(PlatformUnavailable("127.0.0.1:1"), failures=9)
    with pytest.raises(DownloadError, match="cannot reach the platform"):
        await PayloadDownloader(down, tmp_path / "b").fetch(_task("y.dcm"), ["y.dcm"])


async def test_prune_removes_only_stale_task_folders(tmp_path):
    import os

    downloader = PayloadDownloader(Source(), tmp_path)
    await downloader.fetch(_task("a.dcm"), ["a.dcm"])
    old = tmp_path / "abandoned"
    old.mkdir()
    os.utime(old, (1, 1))
    assert downloader.prune(3600) == 1
    assert not old.exists() and (tmp_path / "task_1").exists()
