"""Opening a service database: owner-only file, WAL, pragmas, schema, added columns, inline connection, batches."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from openclara.sqlite import AddedColumn, Schema, Tuning, open_database, open_inline, write_batch

SCHEMA = Schema("CREATE TABLE IF NOT EXISTS things (name TEXT PRIMARY KEY);")


async def test_a_new_database_is_owner_only_in_wal_mode_with_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.db"
    conn = await open_database(path, SCHEMA)
    try:
        assert (await conn.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"
        assert (await conn.execute_fetchall("PRAGMA busy_timeout"))[0][0] == 5000
        assert (await conn.execute_fetchall("PRAGMA synchronous"))[0][0] == 1  # NORMAL
        await conn.execute("INSERT INTO things VALUES ('a')")
        await conn.commit()
        assert [row["name"] for row in await conn.execute_fetchall("SELECT name FROM things")] == ["a"]
    finally:
        await conn.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    sqlite3.connect(path).close()
    path.chmod(0o640)
    conn = await open_database(path, SCHEMA)
    await conn.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


async def test_columns_added_since_are_added_once_to_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await (await open_database(path, SCHEMA)).close()
    newer = Schema(SCHEMA.script, (AddedColumn("things", "size", "INTEGER NOT NULL DEFAULT 7"),))
    for _ in range(2):  # the second open finds the column and leaves it
        conn = await open_database(path, newer)
        await conn.execute("INSERT OR IGNORE INTO things (name) VALUES ('a')")
        await conn.commit()
        rows = await conn.execute_fetchall("SELECT name, size FROM things")
        await conn.close()
    assert [tuple(row) for row in rows] == [("a", 7)]


async def test_autocommit_commits_every_statement_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = await open_database(path, SCHEMA, autocommit=True)
    await conn.execute("INSERT INTO things VALUES ('a')")
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM things").fetchone()[0] == 1
    await conn.close()


async def test_the_inline_connection_has_the_same_tuning(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    tuning = Tuning(synchronous="FULL", autocheckpoint=False)
    conn = await open_database(path, SCHEMA, tuning, autocommit=True)
    inline = open_inline(path, tuning)
    try:
        assert inline.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert inline.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        inline.execute("INSERT INTO things VALUES ('b')")
        assert [row["name"] for row in await conn.execute_fetchall("SELECT name FROM things")] == ["b"]
    finally:
        inline.close()
        await conn.close()


async def test_write_batch_runs_the_statements_with_rows_and_commits(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = await open_database(path, SCHEMA)
    try:
        await write_batch(
            conn,
            [
                ("INSERT INTO things VALUES (?)", [("a",), ("b",)]),
                ("DELETE FROM no_such_table WHERE name = ?", []),  # no rows: not run (it would fail)
                ("UPDATE things SET name = ? WHERE name = ?", [("c", "b")]),
            ],
        )
        other = sqlite3.connect(path)  # committed: another connection sees it
        assert sorted(row[0] for row in other.execute("SELECT name FROM things")) == ["a", "c"]
        other.close()
    finally:
        await conn.close()


async def test_a_failing_write_batch_writes_none_of_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = await open_database(path, SCHEMA)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await write_batch(conn, [("INSERT INTO things VALUES (?)", [("a",)]),
                                     ("UPDATE no_such_table SET name = ?", [("b",)])])
        await write_batch(conn, [("INSERT INTO things VALUES (?)", [("z",)])])  # a later commit
        other = sqlite3.connect(path)
        assert [row[0] for row in other.execute("SELECT name FROM things")] == ["z"]
        other.close()
    finally:
        await conn.close()
