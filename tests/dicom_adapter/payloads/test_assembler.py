from __future__ import annotations

from pathlib import Path

import pytest

from dicom_adapter.db import AdapterDatabase, PayloadRepository
from dicom_adapter.models import PayloadState
from dicom_adapter.payloads.assembler import PayloadAssembler
from tests.dicom_adapter.fakes import FakeClock, FakeRegistry, FakeSpool, clara_ae, make_instance


@pytest.fixture
async def database(tmp_path: Path):
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    yield db
    await db.stop()


def make(database: AdapterDatabase, registry: FakeRegistry, clock: FakeClock, closed: list[str]) -> PayloadAssembler:
    return PayloadAssembler(
        PayloadRepository(database), registry, FakeSpool(), closed.append, clock=clock, minimum_timeout=0.5
    )


async def test_assembler_groups_by_study_and_closes_after_quiet_timeout(database, tmp_path):
    clock, closed = FakeClock(), []
    assembler = make(database, FakeRegistry({"CLARA": clara_ae(timeout=5)}), clock, closed)
    await assembler.ingest([make_instance(tmp_path, "1", study="A"), make_instance(tmp_path, "2", study="B")])
    clock.advance(3)
    await assembler.ingest([make_instance(tmp_path, "3", study="A")])
    clock.advance(2.5)
    assert len(await assembler.close_due()) == 1  # B closed; A's deadline slid by the third instance
    clock.advance(3)
    assert len(await assembler.close_due()) == 1
    repo = PayloadRepository(database)
    payloads = await repo.payloads([PayloadState.CLOSED])
    assert sorted((p.group_key, p.instance_count) for p in payloads) == [("A", 2), ("B", 1)]
    assert len(closed) == 2


async def test_assembler_groups_by_series_or_custom_tag(database, tmp_path):
    clock, closed = FakeClock(), []
    registry = FakeRegistry(
        {"SER": clara_ae("SER", group_by="0020,000E"), "ACC": clara_ae("ACC", group_by="0008,0050")}
    )
    assembler = make(database, registry, clock, closed)
    await assembler.ingest(
        [
            make_instance(tmp_path, "1", series="S1", called="SER"),
            make_instance(tmp_path, "2", series="S2", called="SER"),
            make_instance(tmp_path, "3", called="ACC", extra={"0008,0050": "ACC1"}),
            make_instance(tmp_path, "4", called="ACC", extra={"0008,0050": "ACC1"}),
            make_instance(tmp_path, "5", called="ACC"),  # no tag: its own group, never dropped
        ]
    )
    clock.advance(6)
    await assembler.close_due()
    payloads = await PayloadRepository(database).payloads([PayloadState.CLOSED])
    assert sorted((p.called_ae_title, p.group_key, p.instance_count) for p in payloads) == [
        ("ACC", "", 1),
        ("ACC", "ACC1", 2),
        ("SER", "S1", 1),
        ("SER", "S2", 1),
    ]


async def test_assembler_keeps_first_copy_of_resent_instance_by_default(database, tmp_path):
    clock, closed = FakeClock(), []
    assembler = make(database, FakeRegistry({"CLARA": clara_ae()}), clock, closed)
    first = make_instance(tmp_path, "1", association="a1")
    again = make_instance(tmp_path, "1", association="a2")
    await assembler.ingest([first])
    await assembler.ingest([again])
    repo = PayloadRepository(database)
    (payload,) = await repo.payloads([PayloadState.RECEIVING])
    assert [i.path for i in await repo.active_instances(payload.payload_id)] == [first.path]
    assert not again.path.exists()


async def test_assembler_overwrites_resent_instance_when_configured(database, tmp_path):
    clock, closed = FakeClock(), []
    assembler = make(database, FakeRegistry({"CLARA": clara_ae(overwrite=True)}), clock, closed)
    first = make_instance(tmp_path, "1", association="a1")
    again = make_instance(tmp_path, "1", association="a2")
    await assembler.ingest([first, again])
    repo = PayloadRepository(database)
    (payload,) = await repo.payloads([PayloadState.RECEIVING])
    assert [i.path for i in await repo.active_instances(payload.payload_id)] == [again.path]
    assert not first.path.exists()


async def test_assembler_late_instance_opens_a_new_payload(database, tmp_path):
    clock, closed = FakeClock(), []
    assembler = make(database, FakeRegistry({"CLARA": clara_ae(timeout=1)}), clock, closed)
    await assembler.ingest([make_instance(tmp_path, "1")])
    clock.advance(1.5)
    await assembler.close_due()
    await assembler.ingest([make_instance(tmp_path, "2")])
    clock.advance(1.5)
    await assembler.close_due()
    assert len(set(closed)) == 2


async def test_assembler_enforces_minimum_timeout(database, tmp_path):
    clock, closed = FakeClock(), []
    assembler = make(database, FakeRegistry({"CLARA": clara_ae(timeout=0.01)}), clock, closed)
    await assembler.ingest([make_instance(tmp_path, "1")])
    clock.advance(0.3)
    assert await assembler.close_due() == []
    clock.advance(0.3)
    assert len(await assembler.close_due()) == 1


async def test_assembler_restore_reopens_receiving_payload(database, tmp_path):
    clock, closed = FakeClock(), []
    registry = FakeRegistry({"CLARA": clara_ae(timeout=2)})
    await make(database, registry, clock, closed).ingest([make_instance(tmp_path, "1")])
    # "Restart": a new assembler resumes the receiving payload and adds to it.
    repo = PayloadRepository(database)
    (payload,) = await repo.payloads([PayloadState.RECEIVING])
    assembler = make(database, registry, clock, closed)
    assembler.restore(payload, await repo.active_instances(payload.payload_id))
    await assembler.ingest([make_instance(tmp_path, "2"), make_instance(tmp_path, "1", association="a9")])
    clock.advance(2.1)
    assert await assembler.close_due() == [payload.payload_id]
    assert len(await repo.active_instances(payload.payload_id)) == 2


async def test_assembler_worker_records_queued_instances(database, tmp_path):
    import asyncio

    closed: list[str] = []
    assembler = PayloadAssembler(
        PayloadRepository(database), FakeRegistry({"CLARA": clara_ae(timeout=0.5)}), FakeSpool(), closed.append
    )
    await assembler.start()
    try:
        for n in range(20):
            assembler.instance_stored(make_instance(tmp_path, str(n)))
        await assembler.flush()
        assert assembler.instances_recorded == 20
        for _ in range(100):
            if closed:
                break
            await asyncio.sleep(0.05)
        assert len(closed) == 1
    finally:
        await assembler.stop()


async def test_a_study_stays_open_while_an_instance_begun_before_its_deadline_arrives(database, tmp_path):
    """A 268 MB instance may take longer than the timeout to arrive: closing then split the study."""
    clock, closed, arriving = FakeClock(), [], []
    assembler = PayloadAssembler(PayloadRepository(database), FakeRegistry({"CLARA": clara_ae(timeout=1)}),
                                 FakeSpool(), closed.append, clock=clock, in_progress=lambda: list(arriving))
    await assembler.ingest([make_instance(tmp_path, "1", study="A")])
    arriving.append(("CLARA", clock() + 0.5))  # the next instance's command came within the quiet period
    clock.advance(3)
    assert await assembler.close_due() == []
    assert assembler.next_deadline() == pytest.approx(clock() + 0.05)  # looks again soon, does not spin
    arriving.clear()
    await assembler.ingest([make_instance(tmp_path, "2", study="A")])  # it arrived: same study
    clock.advance(1)
    assert len(await assembler.close_due()) == 1
    [payload] = await PayloadRepository(database).payloads([PayloadState.CLOSED])
    assert payload.instance_count == 2


async def test_instances_begun_after_the_deadline_or_for_another_ae_do_not_hold_a_study(database, tmp_path):
    clock, closed, arriving = FakeClock(), [], []
    registry = FakeRegistry({"CLARA": clara_ae(timeout=1), "OTHER": clara_ae(ae="OTHER", timeout=1)})
    assembler = PayloadAssembler(PayloadRepository(database), registry, FakeSpool(), closed.append, clock=clock,
                                 in_progress=lambda: list(arriving))
    await assembler.ingest([make_instance(tmp_path, "1", study="A")])
    arriving += [("OTHER", clock()), ("CLARA", clock() + 2)]  # a busy AE title's next study, begun later
    clock.advance(3)
    assert len(await assembler.close_due()) == 1


async def test_an_instance_acknowledged_but_not_yet_assigned_holds_its_ae_titles_due_study(database, tmp_path):
    """Between the SCP's hand-over and the record loop the instance is in neither place: it still holds."""
    clock, closed = FakeClock(), []
    assembler = PayloadAssembler(PayloadRepository(database), FakeRegistry({"CLARA": clara_ae(timeout=1)}),
                                 FakeSpool(), closed.append, clock=clock)
    await assembler.ingest([make_instance(tmp_path, "1", study="A")])
    clock.advance(3)
    late = make_instance(tmp_path, "2", study="A")
    assembler.instance_stored(late)  # queued; no record loop runs in this test
    assert await assembler.close_due() == []
    await assembler.flush()  # the record loop's turn: it joins study A
    clock.advance(2)
    assert len(await assembler.close_due()) == 1
    [payload] = await PayloadRepository(database).payloads([PayloadState.CLOSED])
    assert payload.instance_count == 2


async def test_due_within_says_whether_a_group_closes_soon(database, tmp_path):
    # What the spare pool asks before topping up: not while a study is about to be handed over.
    clock, closed = FakeClock(), []
    assembler = make(database, FakeRegistry({"CLARA": clara_ae(timeout=5)}), clock, closed)
    assert not assembler.due_within(0.25)  # nothing open
    await assembler.ingest([make_instance(tmp_path, "1", study="A")])
    assert not assembler.due_within(0.25)
    clock.advance(4.8)
    assert assembler.due_within(0.25)
    clock.advance(1)
    assert assembler.due_within(0.25)  # past due, not closed yet
    await assembler.close_due()
    assert not assembler.due_within(0.25)
