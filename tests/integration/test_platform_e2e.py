"""End to end through a real `python -m platform_server serve` process, our client and raw protobuf."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from openclara.auth.credentials import client_token
from openclara.auth.grpc_client import token_interceptors
from platform_api import Conflict, InvalidArgument, JobPriority, JobState, JobStatus, NotFound, PlatformClient
from platform_api._generated.nvidia.clara.platform import payloads_pb2, payloads_pb2_grpc
from tests.conftest import free_port
from tests.platform_server.server_process import ServerProcess

pytestmark = pytest.mark.integration

SPLIT = """\
import os, sys
src, dst = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(src))
for name in names:
    text = open(os.path.join(src, name)).read()
    open(os.path.join(dst, name), "w").write(text.strip() + "\\n")
print("split read", len(names), "files for job", os.environ["NVIDIA_CLARA_JOBNAME"])
"""
SHOUT = """\
import os, sys
src, dst, suffix = sys.argv[1], sys.argv[2], sys.argv[3]
for name in sorted(os.listdir(src)):
    open(os.path.join(dst, name), "w").write(open(os.path.join(src, name)).read().upper().strip() + suffix)
print("shout stage", os.environ["NVIDIA_CLARA_STAGENAME"], "outputs", os.environ["NVIDIA_CLARA_OUTPUTPATHS"])
"""
MERGE = """\
import os, sys
parts, shouted, dst = sys.argv[1:4]
lines = [open(os.path.join(parts, n)).read().strip() + " -> " + open(os.path.join(shouted, n)).read()
         for n in sorted(os.listdir(parts))]
open(os.path.join(dst, "report.txt"), "w").write("\\n".join(lines) + "\\n")
print("merge wrote", len(lines), "lines")
"""
ORDER = """\
import os, sys, time
with open(sys.argv[1], "a") as out:
    out.write(os.environ["NVIDIA_CLARA_JOBNAME"] + "\\n")
gate = sys.argv[2] if len(sys.argv) > 2 else ""
while gate != "none" and not os.path.exists(gate):
    time.sleep(0.05)
"""
CRASH = "import sys\nprint('loading model')\nprint('CUDA out of memory', file=sys.stderr)\nsys.exit(7)\n"
HANG = "import time\nprint('waiting until TRTIS is ready', flush=True)\ntime.sleep(120)\n"


def script(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("platform-e2e")
    process = ServerProcess(root, free_port())
    try:
        asyncio.run(process.start())
        yield process
    finally:
        assert process.stop() == 0, process.log.read_text()


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[PlatformClient]:
    async with PlatformClient(server.endpoint, timeout=20) as platform:
        yield platform


async def wait_stopped(client: PlatformClient, job_id: str, timeout: float = 60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await client.job_status(job_id)
        if status.state == JobState.STOPPED:
            return status
        assert asyncio.get_running_loop().time() < deadline, f"job {job_id} still {status.state}"
        await asyncio.sleep(0.1)


async def test_fan_out_fan_in_pipeline_from_folder(client: PlatformClient, tmp_path: Path) -> None:
    scripts = tmp_path / "ops"
    scripts.mkdir()
    split, shout = script(scripts, "split.py", SPLIT), script(scripts, "shout.py", SHOUT)
    merge = script(scripts, "merge.py", MERGE)
    definition = textwrap.dedent(f"""\
        api-version: 0.5.0
        name: e2e-diamond
        parameters:
          SUFFIX: "!"
        operators:
        - name: split
          container: {{image: local/split, tag: "1", command: [python, {split}, /input, /output]}}
          input: [{{path: /input}}]
          output: [{{path: /output, name: parts}}]
        - name: shout
          container: {{image: local/shout, command: [python, {shout}, /in, /out, "${{{{SUFFIX}}}}"]}}
          input: [{{from: split, name: parts, path: /in}}]
          output: [{{path: /out}}]
        - name: merge
          container: {{image: local/merge, command: [python, {merge}, /parts, /shout, /result]}}
          input: [{{from: split, name: parts, path: /parts}}, {{from: shout, path: /shout}}]
          output: [{{path: /result, name: report}}]
        """)
    pipeline_id = await client.create_pipeline({"e2e.yaml": definition})
    details = await client.pipeline_details(pipeline_id)
    assert details.name == "e2e-diamond"

    study = tmp_path / "study"
    study.mkdir()
    (study / "a.txt").write_text("alpha")
    (study / "b.txt").write_text("beta")
    (study / "junk.txt").write_text("not for the pipeline")
    job_id, payload_id = await client.create_job(pipeline_id, "diamond-job", JobPriority.HIGHER, metadata={"k": "v"})
    await client.upload_many(payload_id, [(p.name, p) for p in sorted(study.iterdir())])
    await client.upload(payload_id, "extra/more.txt", b"removed again")
    await client.remove_payload_file(payload_id, "input/junk.txt")
    await client.remove_payload_file(payload_id, "input/extra/more.txt")  # its empty folder goes too

    token = await client.start_job(job_id, {"SUFFIX": "?!"})
    assert token.state in (JobState.PENDING, JobState.RUNNING)
    status = await wait_stopped(client, job_id)
    assert status.status == JobStatus.HEALTHY, status.messages
    assert [op.name for op in status.operators] == ["split", "shout", "merge"]
    assert status.started is not None and status.stopped is not None and status.stopped >= status.started
    assert status.metadata == {"k": "v"}
    assert status.dag[0].name == "merge"

    names = {f.name for f in await client.payload_details(payload_id)}
    assert {"input/a.txt", "operators/split/parts/a.txt", "operators/shout/output/b.txt",
            "operators/merge/report/report.txt"} <= names
    report = tmp_path / "report.txt"
    await client.download(payload_id, "operators/merge/report/report.txt", report)
    assert report.read_text() == "alpha -> ALPHA?!\nbeta -> BETA?!\n"

    logs = [line async for line in client.read_logs(job_id, "shout")]
    assert any(line.startswith("shout stage shout outputs output:") for line in logs), logs
    split_logs = [line async for line in client.read_logs(job_id, "split")]
    assert "split read 2 files for job diamond-job" in split_logs

    with pytest.raises(Conflict, match="which has started: its input is read-only"):
        await client.upload(payload_id, "late.txt", b"late")


async def test_raw_protobuf_with_contract_field_numbers(server: ServerProcess) -> None:
    """Clara.Version and Jobs.Status as hand-encoded bytes: field numbers straight from the contract."""
    async with grpc.aio.insecure_channel(server.endpoint, interceptors=token_interceptors(client_token())) as channel:
        version = channel.unary_unary("/nvidia.clara.platform.Clara/Version")
        # ClaraVersionRequest{header(1): RequestHeader{user_agent(2): "raw"}}
        raw = await version(bytes([0x0A, 0x05, 0x12, 0x03]) + b"raw")
        fields = decode(raw)
        assert 1 not in fields or decode(fields[1][0]).get(1, [0])[0] == 0  # ResponseHeader.code (sint32) == 0
        version_fields = decode(fields[2][0])  # ClaraVersionResponse.version = 2
        assert version_fields[4][0].startswith(b"openclara")  # Version.label = 4

        status = channel.unary_unary("/nvidia.clara.platform.Jobs/Status")
        unknown = b"0123456789abcdef0123456789abcdef"
        # JobsStatusRequest{job_id(2): Identifier{value(1): ...}}
        raw = await status(bytes([0x12, 34, 0x0A, 32]) + unknown)
        header = decode(decode(raw)[1][0])
        assert zigzag(header[1][0]) == -3  # ResponseHeader.code is sint32: NotFound = -3
        assert header[2][0] == b"job 0123456789abcdef0123456789abcdef does not exist"


def varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def decode(data: bytes) -> dict[int, list]:
    """Minimal protobuf wire decoder: field number -> values (varints as int, length-delimited as bytes)."""
    fields: dict[int, list] = {}
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 2:
            length, pos = varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


async def test_one_slot_runs_immediate_first_then_higher_before_lower(client: PlatformClient, tmp_path: Path) -> None:
    order, gate = tmp_path / "order.txt", tmp_path / "gate"
    recorder = script(tmp_path, "order.py", ORDER)
    definition = textwrap.dedent(f"""\
        api-version: 0.4.0
        name: order
        parameters:
          GATE: none
        operators:
        - name: record
          container: {{image: local/order, command: [python, {recorder}, {order}, "${{{{GATE}}}}"]}}
        """)
    pipeline_id = await client.create_pipeline({"order.yaml": definition})
    blocker, _ = await client.create_job(pipeline_id, "blocker", JobPriority.NORMAL)
    await client.start_job(blocker, {"GATE": str(gate)})
    for _ in range(300):
        if order.exists():
            break
        await asyncio.sleep(0.05)
    submitted = [("lower-1", JobPriority.LOWER), ("higher-1", JobPriority.HIGHER), ("lower-2", JobPriority.LOWER),
                 ("higher-2", JobPriority.HIGHER), ("immediate", JobPriority.IMMEDIATE)]
    jobs = []
    for name, priority in submitted:
        job_id, _ = await client.create_job(pipeline_id, name, priority)
        await client.start_job(job_id)
        jobs.append(job_id)
    gate.touch()
    for job_id in jobs:
        assert (await wait_stopped(client, job_id)).status == JobStatus.HEALTHY
    assert order.read_text().split() == ["blocker", "immediate", "higher-1", "higher-2", "lower-1", "lower-2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("api-version: 0.4.0\nname: bad\noperators:\n- name: a\n  container: {command: [x]\n",
         "bad.yaml:6: invalid YAML: expected ',' or '}', but got '<stream end>'"),
        ("api-version: 0.4.0\nname: bad\noperators:\n- name: a\n  container: {image: x, command: [x]}\n"
         "  input: [{from: ghost, path: /in}]\n",
         "bad.yaml:4: operator 'a': input '/in' reads from unknown operator 'ghost' (operators: a)"),
        ("api-version: 0.4.0\nname: bad\noperators:\n- name: a\n  container: {image: x, command: [x]}\n"
         "  input: [{from: b, path: /in}]\n  output: [{path: /o}]\n- name: b\n  container: {image: x, command: [x]}\n"
         "  input: [{from: a, path: /in}]\n  output: [{path: /o}]\n",
         "bad.yaml:4: operators form a cycle: a -> b -> a"),
    ],
    ids=["invalid-yaml", "unknown-from", "cycle"],
)
async def test_bad_definitions_are_refused_with_file_and_line(client: PlatformClient, text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await client.create_pipeline({"bad.yaml": text})
    assert str(caught.value) == message


async def test_traversal_names_in_uploads_are_refused(client: PlatformClient, server: ServerProcess) -> None:
    payload_id = await client.create_payload()
    async with grpc.aio.insecure_channel(server.endpoint, interceptors=token_interceptors(client_token())) as channel:
        stub = payloads_pb2_grpc.PayloadsStub(channel)
        for name, reason in [("../../escape.txt", "contains '..'"), ("/etc/passwd", "is absolute")]:
            async def chunks(name: str = name):
                details = payloads_pb2.PayloadFileDetails(name=name, size=4)
                yield payloads_pb2.PayloadsUploadRequest(payload_id={"value": payload_id}, details=details,
                                                         data=b"evil")

            response = await stub.Upload(chunks())
            assert response.header.code == -2
            assert reason in response.header.messages[0]
    assert await client.payload_details(payload_id) == []
    assert not (server.root / "data" / "escape.txt").exists()


async def test_unknown_ids_are_not_found(client: PlatformClient) -> None:
    missing = "f" * 32
    with pytest.raises(NotFound, match=f"job {missing} does not exist"):
        await client.job_status(missing)
    with pytest.raises(NotFound, match=f"pipeline {missing} does not exist"):
        await client.create_job(missing, "x")
    with pytest.raises(NotFound, match=f"payload {missing} does not exist"):
        await client.payload_details(missing)


async def test_crashing_and_hanging_operators_fault_the_job(client: PlatformClient, tmp_path: Path) -> None:
    definition = textwrap.dedent(f"""\
        api-version: 0.4.0
        name: broken
        operators:
        - name: crash
          container: {{image: local/crash, command: [python, {script(tmp_path, "crash.py", CRASH)}]}}
        - name: hang
          timeout: 1.5
          container: {{image: local/hang, command: [python, {script(tmp_path, "hang.py", HANG)}]}}
          input: [{{from: crash, path: /in}}]
          output: [{{path: /out}}]
        """).replace("- name: crash\n", "- name: crash\n  output: [{path: /out}]\n")
    pipeline_id = await client.create_pipeline({"broken.yaml": definition})
    job_id, _ = await client.create_job(pipeline_id, "crashing")
    await client.start_job(job_id)
    status = await wait_stopped(client, job_id)
    assert status.status == JobStatus.FAULTED
    assert status.messages == ("operator 'crash' exited with code 7", "last 2 log line(s) of operator 'crash':",
                               "  loading model", "  CUDA out of memory")

    hang_only = definition.replace("crash.py", "fine.py")
    script(tmp_path, "fine.py", "print('fine')\n")
    pipeline_id = await client.create_pipeline({"hang.yaml": hang_only.replace("name: broken", "name: hanging")})
    job_id, _ = await client.create_job(pipeline_id, "hanging")
    await client.start_job(job_id)
    status = await wait_stopped(client, job_id)
    assert status.status == JobStatus.FAULTED
    assert status.messages[0] == "operator 'hang' timed out after 1.5 s and was killed"
    assert status.messages[-1] == "  waiting until TRTIS is ready"
