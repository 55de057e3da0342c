"""Services in the job runner: started once per job before their first operator, shared, stopped at the end."""

from __future__ import annotations

from pathlib import Path

from platform_server.domain import JobPriority, JobStatus
from platform_server.jobs.gpus import GpuPool
from platform_server.jobs.services import JobServices, ServiceContext, expand, model_mounts
from platform_server.pipelines.spec import Connection, Resources, ServiceSpec
from tests.platform_server.conftest import FakeExecutor, Platform, build

TRITON = """\
api-version: 0.4.0
name: ai
pull-secrets: [ngc-clara]
operators:
- name: segment
  container: {image: example/ai-seg, tag: "1.0"}
  input: [{path: /input}]
  output: [{path: /output}]
  services: &triton  # a YAML anchor: the second operator lists the very same service
  - name: trtis
    container:
      image: example/triton
      tag: "19.08"
      command: ["trtserver", "--model-store=$(NVIDIA_CLARA_SERVICE_DATA_PATH)/models", "--x=$$(KEEP)"]
    requests: {gpu: 1}
    connections:
      http: [{name: NVIDIA_CLARA_TRTISURI, port: 8000}]
- name: second
  container: {image: example/ai-seg, tag: "1.0", command: [run]}
  input: [{from: segment, path: /input}]
  output: [{path: /output}]
  services: *triton
"""


async def start_job(platform: Platform, definition: str = TRITON) -> str:
    pipeline = await platform.pipelines.create([("ai.yaml", definition)], {})
    job = await platform.service.create(pipeline.pipeline_id, "job", JobPriority.NORMAL, [], {})
    await platform.service.start(job.job_id, {})
    return job.job_id


def test_expand_replaces_known_variables_and_keeps_escapes() -> None:
    env = {"A": "1", "DATA": "/d"}
    assert expand("$(DATA)/models:$(A)", env) == "/d/models:1"
    assert expand("$(UNSET) $$(A)", env) == "$(UNSET) $(A)"


async def test_service_starts_once_before_its_operators_and_stops_with_the_job(tmp_path: Path) -> None:
    fake = FakeExecutor()
    platform = await build(tmp_path, fake, gpus=1)
    try:
        job_id = await start_job(platform)
        job = await platform.wait_stopped(job_id)
        assert job.status == JobStatus.HEALTHY, job.messages
        assert [s.name for s in fake.services] == ["trtis"]  # shared by both operators
        service = fake.services[0]
        assert service.image == "example/triton:19.08" and service.ports == (8000,)
        assert service.command == ("trtserver", "--model-store=/clara/service-data/models", "--x=$(KEEP)")
        assert service.resources.gpu_ids == (0,) and service.pull_secrets == ("ngc-clara",)
        assert [r.env["NVIDIA_CLARA_TRTISURI"] for r in fake.runs] == ["localhost:8000", "localhost:8000"]
        assert fake.runs[0].command == () and fake.runs[0].image == "example/ai-seg:1.0"
        assert fake.runs[0].pull_secrets == ("ngc-clara",)
        assert fake.begun == [job_id] and fake.ended == [job_id]
    finally:
        await platform.scheduler.stop(5)
        await platform.db.stop()


async def test_service_failure_faults_the_job_and_still_ends_it(tmp_path: Path) -> None:
    fake = FakeExecutor(fail={"trtis"})
    gpu_platform = await build(tmp_path / "g", fake, gpus=1)
    try:
        job_id = await start_job(gpu_platform)
        job = await gpu_platform.wait_stopped(job_id)
        assert job.status == JobStatus.FAULTED
        assert job.messages[0] == "service 'trtis' did not answer"
        assert fake.runs == [] and fake.ended == [job_id]
    finally:
        await gpu_platform.scheduler.stop(5)
        await gpu_platform.db.stop()


async def test_service_gpus_go_back_to_the_pool(tmp_path: Path) -> None:
    fake = FakeExecutor()
    pool = GpuPool(1)
    services = JobServices(fake, pool, ServiceContext("j" * 32, tmp_path, tmp_path / "models", 5.0))
    spec = ServiceSpec("svc", "img", requests=Resources(gpu=1), connections=(Connection("SVC", 9000),))
    assert await services.environment([spec], ()) == {"SVC": "localhost:9000"}
    assert pool.free == 0
    await services.close()
    assert pool.free == 1


def test_model_mounts_name_the_models_or_all_of_them(tmp_path: Path) -> None:
    for name in ("liver", "lung", ".archives"):
        (tmp_path / name).mkdir()
    assert [m.container_path for m in model_mounts(tmp_path, ())] == [
        "/clara/service-data/models/liver", "/clara/service-data/models/lung"]
    only = model_mounts(tmp_path, ("lung",))
    assert [(m.host_path, m.read_only) for m in only] == [(tmp_path / "lung", True)]


async def test_gpus_for_services_and_an_operator_that_cannot_all_fit_fault_at_once(tmp_path: Path) -> None:
    """Triton keeps its GPU while the job runs: with one GPU an operator that needs one would wait for ever."""
    fake = FakeExecutor()
    platform = await build(tmp_path, fake, gpus=1)
    try:
        greedy = TRITON.replace("  container: {image: example/ai-seg, tag: \"1.0\", command: [run]}",
                                "  container: {image: example/ai-seg, tag: \"1.0\", command: [run]}\n"
                                "  requests: {gpu: 1}")
        job = await platform.wait_stopped(await start_job(platform, greedy))
        assert job.status == JobStatus.FAULTED
        assert job.messages[0].startswith("the job needs 2 GPU(s) at once (1 for its services while they run, "
                                          "1 for its largest operator) but the platform has 1")
        assert fake.runs == [] and fake.services == []
    finally:
        await platform.scheduler.stop(5)
        await platform.db.stop()
