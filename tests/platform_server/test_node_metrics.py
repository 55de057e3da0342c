"""The node's CPU, memory and disks from a /proc of our own making, and the real one."""

from __future__ import annotations

from pathlib import Path

from platform_server.node_metrics import NodeReader, cpu_times, memory

STAT = "cpu  {user} 0 {system} {idle} {iowait} 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n"
MEMINFO = "MemTotal:       16000 kB\nMemFree:         1000 kB\nMemAvailable:    4000 kB\n"


def fake_proc(root: Path, user: int, system: int, idle: int, iowait: int) -> None:
    root.mkdir(exist_ok=True)
    (root / "stat").write_text(STAT.format(user=user, system=system, idle=idle, iowait=iowait))
    (root / "meminfo").write_text(MEMINFO)
    (root / "loadavg").write_text("1.50 0.80 0.40 2/300 1234\n")


def test_cpu_busy_and_total_from_proc_stat() -> None:
    assert cpu_times(STAT.format(user=30, system=10, idle=50, iowait=10)) == (40, 100)
    assert cpu_times("") == (0, 0)


def test_memory_from_meminfo_in_bytes() -> None:
    assert memory(MEMINFO) == (16000 * 1024, 4000 * 1024)
    assert memory("") == (0, 0)


def test_utilisation_covers_the_time_since_the_last_reading(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fake_proc(proc, user=100, system=0, idle=100, iowait=0)
    reader = NodeReader({"data": tmp_path / "not-made-yet"}, proc)
    first = reader.sample()
    assert first.cpu_utilization == 0.5 and first.load1 == 1.5
    assert (first.memory_total, first.memory_available) == (16000 * 1024, 4000 * 1024)
    fake_proc(proc, user=130, system=10, idle=150, iowait=10)  # 40 busy of 100 more ticks
    assert reader.sample().cpu_utilization == 0.4
    [disk] = first.disks
    assert disk.volume == "data" and 0 < disk.available <= disk.total  # measured at the nearest parent


def test_the_real_node(tmp_path: Path) -> None:
    sample = NodeReader({"data": tmp_path}).sample()
    assert sample.cpus >= 1 and 0.0 <= sample.cpu_utilization <= 1.0
    assert sample.memory_total >= sample.memory_available > 0


def test_without_proc_cpu_and_memory_read_zero(tmp_path: Path) -> None:
    sample = NodeReader({}, tmp_path / "no-proc").sample()
    assert (sample.cpu_utilization, sample.memory_total, sample.load1, sample.disks) == (0.0, 0, 0.0, ())
