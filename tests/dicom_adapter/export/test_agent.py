"""ExportAgent against fake results/payloads/destinations and a real in-process Storage SCP."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydicom.uid import JPEG2000Lossless

from dicom_adapter.dicom.status import StoreStatus
from dicom_adapter.export.agent import ExportAgent
from dicom_adapter.export.progress import ProgressRepository
from dicom_adapter.export.settings import ExportSettings
from tests.conftest import free_port
from tests.dicom_adapter.export.fakes import FakeDestinations, FakePayloads, FakeResults, LapsingResults
from tests.dicom_adapter.export.peer import storage_scp
from tests.support.instances import make_series


@pytest.fixture
def payload(tmp_path):
    root = tmp_path / "payloads"
    files = make_series(root / "payload-1" / "seg", 4)
    return root, [f"seg/{f.name}" for f in files]


def _settings(tmp_path, **overrides) -> ExportSettings:
    values = {
        "state_dir": tmp_path / "state",
        "poll_interval_min_seconds": 0.02,
        "poll_interval_max_seconds": 0.1,
        "retry_backoff_base_seconds": 0.2,
        "retry_backoff_max_seconds": 0.5,
        **overrides,
    }
    return ExportSettings(**values)


def _agent(tmp_path, results, destinations, root, **overrides) -> ExportAgent:
    settings = _settings(tmp_path, **overrides)
    return ExportAgent(
        settings,
        destinations,
        progress=ProgressRepository.from_settings(settings),
        payloads=FakePayloads(root),
        results=results,
    )


async def _until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_agent_delivers_every_file_to_each_listed_destination_once(tmp_path, payload):
    root, uris = payload
    results, destinations = FakeResults(), FakeDestinations()
    with storage_scp("PACS1") as (port1, got1), storage_scp("PACS2") as (port2, got2):
        destinations.add("ONE", "PACS1", port1)
        destinations.add("two", "PACS2", port2)
        results.add("t1", '["one", "TWO"]', uris)
        agent = _agent(tmp_path, results, destinations, root)
        await agent.start()
        await _until(lambda: results.reports)
        await agent.stop()
    assert results.reports == [("t1", "success", None, "")]
    assert len(got1.instances) == len(got2.instances) == 4
    assert not (tmp_path / "state" / "spool" / "t1").exists()


async def test_agent_fails_an_unknown_destination_permanently_with_the_reason(tmp_path, payload):
    root, uris = payload
    results = FakeResults()
    results.add("t1", '"NOPE"', uris)
    agent = _agent(tmp_path, results, FakeDestinations(), root)
    await agent.start()
    await _until(lambda: results.reports)
    await agent.stop()
    [(task_id, outcome, retry_later, error)] = results.reports
    assert (task_id, outcome, retry_later) == ("t1", "failure", False)
    assert "unknown destination 'NOPE'" in error


async def test_agent_fails_invalid_parameters_permanently(tmp_path, payload):
    root, uris = payload
    results = FakeResults()
    results.add("t1", '{"to": 1}', uris)
    agent = _agent(tmp_path, results, FakeDestinations(), root)
    await agent.start()
    await _until(lambda: results.reports)
    await agent.stop()
    assert results.reports[0][2] is False
    assert "must be a destination name or a list of names" in results.reports[0][3]


async def test_agent_retries_a_down_destination_and_delivers_once_when_it_is_up(tmp_path, payload):
    root, uris = payload
    results, destinations = FakeResults(), FakeDestinations()
    port = free_port()
    destinations.add("PACS", "PACS", port)
    results.add("t1", '"PACS"', uris)
    agent = _agent(tmp_path, results, destinations, root)
    await agent.start()
    await _until(lambda: results.reports)
    assert results.reports[0][:3] == ("t1", "failure", True)
    assert "cannot connect to 127.0.0.1" in results.reports[0][3]
    with storage_scp("PACS") as (live_port, got):
        destinations.add("PACS", "PACS", live_port)
        await _until(lambda: results.states["t1"] in ("Succeeded", "Failed"))
        await agent.stop()
    assert results.states["t1"] == "Succeeded"
    assert len(got.instances) == 4


async def test_a_down_destination_does_not_block_the_others(tmp_path, payload):
    root, uris = payload
    results, destinations = FakeResults(), FakeDestinations()
    destinations.add("DOWN", "DOWN", free_port())
    with storage_scp("UP") as (port, got):
        destinations.add("UP", "UP", port)
        for index in range(3):
            results.add(f"down{index}", '"DOWN"', uris)
        results.add("up", '"UP"', uris)
        agent = _agent(tmp_path, results, destinations, root, max_concurrent_tasks=2, lease_size=1)
        await agent.start()
        await _until(lambda: results.states["up"] == "Succeeded")
        await agent.stop()
    assert len(got.instances) == 4


async def test_agent_resumes_without_resending_acknowledged_files(tmp_path, payload):
    root, uris = payload
    progress = ProgressRepository(tmp_path / "state" / "progress.db")
    await progress.open()
    await progress.record("t1", "PACS", uris[0], "x", 0)
    await progress.record("t1", "PACS", uris[1], "y", 0)
    await progress.close()
    results, destinations = FakeResults(), FakeDestinations()
    with storage_scp("PACS") as (port, got):
        destinations.add("PACS", "PACS", port)
        results.add("t1", '"PACS"', uris)
        agent = _agent(tmp_path, results, destinations, root)
        await agent.start()
        await _until(lambda: results.reports)
        await agent.stop()
    assert results.reports == [("t1", "success", None, "")]
    assert len(got.instances) == 2


async def test_agent_transcodes_for_a_peer_refusing_the_stored_syntax(tmp_path):
    root = tmp_path / "payloads"
    files = make_series(root / "payload-1", 2, transfer_syntax=JPEG2000Lossless)
    results, destinations = FakeResults(), FakeDestinations()
    with storage_scp("PACS") as (port, got):
        destinations.add("PACS", "PACS", port)
        results.add("t1", '"PACS"', [f.name for f in files])
        agent = _agent(tmp_path, results, destinations, root)
        await agent.start()
        await _until(lambda: results.reports)
        await agent.stop()
    assert results.reports == [("t1", "success", None, "")]
    assert {syntax for _, syntax in got.instances} == {"1.2.840.10008.1.2.1"}


async def test_agent_fails_a_non_dicom_result_permanently_and_still_sends_the_rest(tmp_path, payload):
    root, uris = payload
    (root / "payload-1" / "seg" / "notes.txt").write_text("hello")
    results, destinations = FakeResults(), FakeDestinations()
    with storage_scp("PACS") as (port, got):
        destinations.add("PACS", "PACS", port)
        results.add("t1", '"PACS"', [*uris, "seg/notes.txt"])
        agent = _agent(tmp_path, results, destinations, root)
        await agent.start()
        await _until(lambda: results.reports)
        await agent.stop()
    [(_, outcome, retry_later, error)] = results.reports
    assert (outcome, retry_later) == ("failure", False)
    assert "notes.txt: not a DICOM Part-10 file" in error
    assert len(got.instances) == 4


async def test_agent_reports_refused_stores_for_retry(tmp_path, payload):
    root, uris = payload
    results, destinations = FakeResults(), FakeDestinations()
    with storage_scp("PACS") as (port, got):
        got.status = StoreStatus.REFUSED_OUT_OF_RESOURCES
        destinations.add("PACS", "PACS", port)
        results.add("t1", '"PACS"', uris)
        agent = _agent(tmp_path, results, destinations, root)
        await agent.start()
        await _until(lambda: results.reports)
        await agent.stop()
    _, outcome, retry_later, error = results.reports[0]
    assert (outcome, retry_later) == ("failure", True)
    assert "4 of 4 files refused" in error and "refused_out_of_resources" in error


async def test_a_hung_destination_does_not_starve_the_others(tmp_path, payload):
    """A peer that accepts TCP and never answers holds its association slot; other tasks still flow."""
    root, uris = payload
    hung = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    hung_port = hung.sockets[0].getsockname()[1]
    results, destinations = FakeResults(), FakeDestinations()
    destinations.add("HUNG", "HUNG", hung_port)
    with storage_scp("UP") as (port, got):
        destinations.add("UP", "UP", port)
        for index in range(3):
            results.add(f"hung{index}", '"HUNG"', uris)
        results.add("up", '"UP"', uris)
        agent = _agent(
            tmp_path,
            results,
            destinations,
            root,
            max_concurrent_tasks=2,
            lease_size=1,
            max_associations_per_destination=1,
            acse_timeout_seconds=60,
            stop_timeout_seconds=0.5,
        )
        await agent.start()
        await _until(lambda: results.states["up"] == "Succeeded", timeout=15)
        await agent.stop()
    hung.close()
    assert len(got.instances) == 4
    assert all(results.states[f"hung{i}"] == "InProgress" for i in range(3))  # still leased, never reported


async def test_warning_statuses_count_as_delivered(tmp_path, payload):
    root, uris = payload
    results, destinations = FakeResults(), FakeDestinations()
    with storage_scp("PACS") as (port, got):
        got.status = StoreStatus.COERCION_OF_DATA_ELEMENTS  # stored, with a warning
        destinations.add("PACS", "PACS", port)
        results.add("t1", '"PACS"', uris)
        agent = _agent(tmp_path, results, destinations, root)
        await agent.start()
        await _until(lambda: results.reports)
        await agent.stop()
    assert results.reports == [("t1", "success", None, "")]


async def test_a_retry_after_one_destination_failed_sends_only_to_that_destination(tmp_path, payload):
    root, uris = payload
    results, destinations = FakeResults(), FakeDestinations()
    down_port = free_port()
    with storage_scp("UP") as (up_port, up):
        destinations.add("UP", "UP", up_port)
        destinations.add("LATE", "LATE", down_port)
        results.add("t1", '["UP", "LATE"]', uris)
        agent = _agent(tmp_path, results, destinations, root)
        await agent.start()
        await _until(lambda: results.reports)
        assert results.reports[0][:3] == ("t1", "failure", True)
        assert "LATE" in results.reports[0][3] and "UP" not in results.reports[0][3].replace("LATE", "")
        with storage_scp("LATE") as (late_port, late):
            destinations.add("LATE", "LATE", late_port)
            await _until(lambda: results.states["t1"] == "Succeeded")
            await agent.stop()
    assert len(up.instances) == 4  # not resent on the retry
    assert len(late.instances) == 4


async def test_a_task_leased_again_while_still_delivering_is_not_sent_twice(tmp_path, payload):
    """A slow PACS outlasts the lease and the results service hands the task back: one pass, no duplicates."""
    root, uris = payload
    results, destinations = LapsingResults(), FakeDestinations()
    with storage_scp("PACS") as (port, got):
        got.delay = 0.1
        destinations.add("PACS", "PACS", port)
        results.add("t1", '"PACS"', uris)
        agent = _agent(tmp_path, results, destinations, root)
        await agent.start()
        await _until(lambda: results.reports)
        await agent.stop()
    assert results.leases > 1  # the overlap really happened
    assert results.reports == [("t1", "success", None, "")]
    assert sorted(uid for uid, _ in got.instances) == sorted({uid for uid, _ in got.instances})
    assert len(got.instances) == 4
