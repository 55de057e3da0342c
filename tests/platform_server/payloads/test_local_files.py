"""LocalFiles: hard links from configured directories into payloads, and where payload files are."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from platform_server.domain import PayloadType
from platform_server.errors import Conflict, InvalidArgument, NotFound
from platform_server.payloads.local_files import LocalFiles
from platform_server.payloads.store import PayloadStore

SHM = Path("/dev/shm")


def spool_file(spool: Path, name: str, data: bytes) -> Path:
    path = spool / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


async def test_adopt_links_the_same_inode_into_the_input(store: PayloadStore, spool: Path) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    source = spool_file(spool, "a/1.dcm", b"DICM" * 100)
    adopted = await LocalFiles(store, [spool]).adopt(payload.payload_id, [("dcm/s/1.dcm", str(source))])
    target = store.input_dir(payload.payload_id) / "dcm/s/1.dcm"
    assert [(a.name, a.path, a.size) for a in adopted] == [("input/dcm/s/1.dcm", target, 400)]
    assert os.stat(target).st_ino == os.stat(source).st_ino and os.stat(source).st_nlink == 2
    assert [f.name for f in await store.files(payload.payload_id)] == ["input/dcm/s/1.dcm"]


async def test_adopt_again_replaces_what_an_interrupted_call_left(store: PayloadStore, spool: Path) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    files = LocalFiles(store, [spool])
    first = spool_file(spool, "1.dcm", b"old")
    await files.adopt(payload.payload_id, [("1.dcm", str(first))])
    second = spool_file(spool, "2.dcm", b"new")
    await files.adopt(payload.payload_id, [("1.dcm", str(second))])
    target = store.input_dir(payload.payload_id) / "1.dcm"
    assert target.read_bytes() == b"new"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".upload-")]


@pytest.mark.parametrize("where", ["outside", "dotdot", "relative", "dot-dot-name"])
async def test_adopt_refuses_files_outside_the_configured_directories(
    store: PayloadStore, spool: Path, tmp_path: Path, where: str
) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    outside = spool_file(tmp_path / "elsewhere", "secret.dcm", b"x")
    path = {"outside": str(outside), "dotdot": f"{spool}/../elsewhere/secret.dcm",
            "relative": "spool/1.dcm", "dot-dot-name": f"{spool}/.."}[where]
    with pytest.raises(InvalidArgument, match="local file"):
        await LocalFiles(store, [spool]).adopt(payload.payload_id, [("1.dcm", path)])
    assert await store.files(payload.payload_id) == []


async def test_adopt_refuses_a_symlink_out_of_the_directory(store: PayloadStore, spool: Path, tmp_path: Path) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    secret = spool_file(tmp_path / "elsewhere", "secret", b"x")
    (spool / "link.dcm").symlink_to(secret)
    with pytest.raises(InvalidArgument, match="not a regular file"):
        await LocalFiles(store, [spool]).adopt(payload.payload_id, [("1.dcm", str(spool / "link.dcm"))])
    assert await store.files(payload.payload_id) == []


async def test_adopt_checks_every_file_before_linking_any(store: PayloadStore, spool: Path) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    good = spool_file(spool, "1.dcm", b"x")
    with pytest.raises(InvalidArgument):
        await LocalFiles(store, [spool]).adopt(payload.payload_id, [("1.dcm", str(good)), ("../2.dcm", str(good))])
    assert await store.files(payload.payload_id) == []


async def test_adopt_of_a_missing_file_is_not_found(store: PayloadStore, spool: Path) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    with pytest.raises(NotFound, match="does not exist"):
        await LocalFiles(store, [spool]).adopt(payload.payload_id, [("1.dcm", str(spool / "gone.dcm"))])


async def test_adopt_into_a_sealed_payload_is_a_conflict(store: PayloadStore, spool: Path) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    await store.seal(payload.payload_id)
    with pytest.raises(Conflict, match="read-only"):
        await LocalFiles(store, [spool]).adopt(payload.payload_id, [("1.dcm", str(spool_file(spool, "1", b"x")))])


async def test_adopt_across_file_systems_is_a_conflict_the_caller_uploads_around(store: PayloadStore) -> None:
    assert os.stat(SHM).st_dev != os.stat(store.root).st_dev, "needs /dev/shm on another file system"
    payload = await store.create(PayloadType.PIPELINE)
    folder = SHM / f"openclara-test-{os.getpid()}-{id(store)}"
    try:
        source = spool_file(folder, "1.dcm", b"x")
        with pytest.raises(Conflict, match="another file system"):
            await LocalFiles(store, [folder]).adopt(payload.payload_id, [("1.dcm", str(source))])
    finally:
        for path in folder.glob("*"):
            path.unlink()
        folder.rmdir()
    assert await store.files(payload.payload_id) == []


async def test_locate_answers_paths_of_existing_files(store: PayloadStore, spool: Path) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    files = LocalFiles(store, [spool])
    await files.adopt(payload.payload_id, [("a.dcm", str(spool_file(spool, "a", b"abc")))])
    [found] = await files.locate(payload.payload_id, ["/input/a.dcm"])
    assert found.path == (store.input_dir(payload.payload_id) / "a.dcm").resolve() and found.size == 3
    with pytest.raises(NotFound):
        await files.locate(payload.payload_id, ["input/b.dcm"])


async def test_a_source_folder_swapped_for_a_symlink_after_the_check_is_refused(
    store: PayloadStore, spool: Path, tmp_path: Path
) -> None:
    """The check of the path and the link are apart in time: the link goes through the folder opened and
    checked again, not through its name."""
    from platform_server.payloads import local_files

    payload = await store.create(PayloadType.PIPELINE)
    spool_file(spool, "a/1.dcm", b"mine")
    spool_file(tmp_path / "secret", "1.dcm", b"secret")
    files = LocalFiles(store, [spool])
    base = await store.upload_base(payload.payload_id)
    plan = files._plan(base, [("1.dcm", str(spool / "a" / "1.dcm"))])
    (spool / "a" / "1.dcm").unlink()
    (spool / "a").rmdir()
    (spool / "a").symlink_to(tmp_path / "secret")  # swapped after the check
    with pytest.raises(InvalidArgument, match="local folder"):  # not opened through the symlink
        local_files._link_all(plan, store.folder(payload.payload_id), [spool.resolve()])
    assert await store.files(payload.payload_id) == []


async def test_a_study_of_many_folders_is_linked_with_two_descriptors_open(store: PayloadStore, spool: Path) -> None:
    # A CR/DX study: one image per series, as many folders as files, on both sides. Folders are opened
    # one at a time, so a study larger than the open-file limit still links.
    payload = await store.create(PayloadType.PIPELINE)
    files = [(f"dcm/s{n}/1.dcm", str(spool_file(spool, f"a{n}/1.dcm", b"DICM"))) for n in range(300)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 40, hard))
    try:
        adopted = await LocalFiles(store, [spool]).adopt(payload.payload_id, files)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert [a.name for a in adopted] == [f"input/{name}" for name, _ in files]  # in the order asked
    for name, source in files:
        assert os.stat(store.input_dir(payload.payload_id) / name).st_ino == os.stat(source).st_ino


async def test_a_payload_folder_that_is_a_symlink_is_refused(store: PayloadStore, spool: Path) -> None:
    payload = await store.create(PayloadType.PIPELINE)
    inside = store.input_dir(payload.payload_id) / "real"
    inside.mkdir(parents=True)
    (store.input_dir(payload.payload_id) / "alias").symlink_to(inside)
    source = spool_file(spool, "1.dcm", b"x")
    with pytest.raises(InvalidArgument, match="cannot be opened"):
        await LocalFiles(store, [spool]).adopt(payload.payload_id, [("alias/1.dcm", str(source))])
