"""SQLite persistence: WAL, crash safety, a disk that fails and recovers, web-only readers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tamma_dash.models import Sample
from tamma_dash.store import Store
from tamma_dash.store.sqlite import DB_NAME, Batch, Database

REPO = Path(__file__).resolve().parents[1]
T0 = 1000.0
WIDE = 100  # series per tick: ~1.2 kB per tick row, so a few ticks need a new page


def wide_tick(ts: float, i: int) -> list[Sample]:
    return [Sample(ts, "svc", f"m{j}", float(i * 1000 + j)) for j in range(WIDE)]


def open_store(path: Path, **kw: object) -> Store:
    opts: dict[str, object] = dict(interval_s=1.0, retention_s=3600.0, rollup_step_s=60.0,
                                   clock=lambda: T0)
    opts.update(kw)
    return Store.open(path, **opts)  # type: ignore[arg-type]


def disk_ticks(data_dir: Path) -> list[float]:
    with sqlite3.connect(data_dir / DB_NAME) as conn:
        return [r[0] for r in conn.execute("SELECT ts FROM ticks ORDER BY ts")]


def append_range(store: Store, first: int, last: int) -> None:
    for i in range(first, last):
        store.append(T0 + i, wide_tick(T0 + i, i))


def assert_all_back(data_dir: Path, n: int) -> None:
    """Reopen ``data_dir``: ticks 0..n-1 with their exact values."""
    store = open_store(data_dir, clock=lambda: T0 + n)
    frame = store.frame(["svc/m0", f"svc/m{WIDE - 1}"], T0, T0 + n)
    assert frame.index.tolist() == [T0 + i for i in range(n)]
    assert frame[f"svc/m{WIDE - 1}"].tolist() == [float(i * 1000 + WIDE - 1) for i in range(n)]
    store.close()


def test_the_database_is_in_wal_mode_with_the_schema(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"series", "ticks", "latest", "rollups"}


def test_a_full_disk_keeps_ticks_in_memory_and_they_reach_disk_later(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    append_range(store, 0, 5)
    writer = store._persister.db  # type: ignore[union-attr]  # the real writing connection
    assert writer is not None
    pages = writer.execute("PRAGMA page_count")[0][0]
    writer.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now reports "disk is full"
    append_range(store, 5, 40)
    stats = store.stats()
    assert not stats.persist_ok
    assert stats.persist_error is not None
    assert "disk is full" in stats.persist_error and "TAMMA_DATA_DIR" in stats.persist_error
    on_disk = disk_ticks(tmp_path)
    assert len(on_disk) < 40
    assert stats.pending_ticks == 40 - len(on_disk)
    assert store.frame(["svc/m0"], T0, T0 + 40).shape == (40, 1)  # memory has everything
    writer.execute("PRAGMA max_page_count = 1073741823")  # space is back
    append_range(store, 40, 41)
    stats = store.stats()
    assert stats.persist_ok and stats.persist_error is None and stats.pending_ticks == 0
    assert disk_ticks(tmp_path) == [T0 + i for i in range(41)]
    store.close()
    assert_all_back(tmp_path, 41)


def test_an_unusable_data_dir_runs_from_memory_then_catches_up(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    store = open_store(blocker / "history")
    append_range(store, 0, 10)
    stats = store.stats()
    assert not stats.persist_ok and stats.pending_ticks == 10
    assert stats.persist_error is not None
    assert str(blocker / "history") in stats.persist_error
    assert "TAMMA_DATA_DIR" in stats.persist_error
    blocker.unlink()  # the problem is fixed
    store.flush()
    assert store.stats().persist_ok and store.stats().pending_ticks == 0
    store.close()
    assert_all_back(blocker / "history", 10)


def test_the_backlog_is_bounded_by_the_window(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a directory")
    store = open_store(blocker, retention_s=10.0)
    append_range(store, 0, 30)
    assert store.stats().pending_ticks == 11  # ticks older than the window are gone
    blocker.unlink()
    store.flush()
    assert disk_ticks(blocker) == [T0 + i for i in range(19, 30)]
    store.close()


def test_a_file_that_is_not_a_database_is_named_and_replaced_when_moved_aside(
    tmp_path: Path,
) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not SQLite " * 500)
    store = open_store(tmp_path)
    append_range(store, 0, 3)
    error = store.stats().persist_error
    assert error is not None and "move it aside" in error and DB_NAME in error
    (tmp_path / DB_NAME).rename(tmp_path / "old.sqlite3")
    append_range(store, 3, 4)
    assert store.stats().persist_ok
    store.close()
    assert_all_back(tmp_path, 4)


def test_history_not_loaded_at_start_is_never_overwritten(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not yet a directory")
    store = open_store(blocker)
    append_range(store, 0, 2)
    blocker.unlink()
    other = open_store(blocker)  # another run wrote different series meanwhile
    other.append(T0, [Sample(T0, "other", "x", 1.0)])
    other.close()
    store.flush()
    error = store.stats().persist_error
    assert error is not None and "restart tamma-dash" in error
    assert disk_ticks(blocker) == [T0]
    store.close()


def permissions_enforced(tmp_path: Path) -> bool:
    """False for root with CAP_DAC_OVERRIDE, which writes into read-only directories."""
    probe = tmp_path / "probe"
    probe.mkdir(mode=0o555)
    try:
        (probe / "x").touch()
    except PermissionError:
        return True
    finally:
        probe.chmod(0o755)
    return False


def test_a_read_only_data_dir_is_reported_then_caught_up(tmp_path: Path) -> None:
    if not permissions_enforced(tmp_path):
        pytest.skip("this user ignores file permissions (root); run as another user")
    store = open_store(tmp_path)
    append_range(store, 0, 3)
    store.close()
    os.chmod(tmp_path / DB_NAME, 0o444)
    os.chmod(tmp_path, 0o555)
    try:
        store = open_store(tmp_path)
        assert store.frame(["svc/m0"], T0, T0 + 10).shape == (3, 1)  # history still loads
        append_range(store, 3, 6)
        stats = store.stats()
        assert stats.persist_error is not None and "read-only" in stats.persist_error
        assert stats.pending_ticks == 3
    finally:
        os.chmod(tmp_path, 0o755)
        os.chmod(tmp_path / DB_NAME, 0o644)
    store.flush()
    assert store.stats().persist_ok and store.stats().pending_ticks == 0
    store.close()
    assert_all_back(tmp_path, 6)


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tamma_dash.models import Sample
    from tamma_dash.store import Store

    store = Store.open(Path(sys.argv[1]), interval_s=1.0, retention_s=3600.0,
                       clock=lambda: 1000.0)
    i = 0
    while True:
        ts = 1000.0 + i
        store.append(ts, [Sample(ts, "svc", f"m{j}", float(i * 1000 + j)) for j in range(100)])
        print(ts, flush=True)  # printed only once the tick is committed
        i += 1
""")


def test_sigkill_loses_at_most_the_last_tick(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True, env=env, cwd=REPO)
    assert child.stdout is not None
    reported = [float(child.stdout.readline()) for _ in range(300)]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    reported += [float(line) for line in child.stdout.read().split()]  # buffered or unread lines
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    store = open_store(tmp_path, clock=lambda: reported[-1])
    frame = store.frame(["svc/m0", "svc/m99"], T0, reported[-1] + 10)
    stored = frame.index.tolist()
    assert stored[: len(reported) - 1] == reported[:-1]
    assert len(stored) - len(reported) in (-1, 0, 1)  # the tick being written at the kill
    assert frame["svc/m99"].tolist() == [(ts - 1000.0) * 1000 + 99 for ts in stored]
    store.close()


def test_a_readonly_store_reads_what_the_collector_writes(tmp_path: Path) -> None:
    reader = open_store(tmp_path, readonly=True)
    assert not reader.stats().persist_ok
    assert "start the collector" in str(reader.stats().persist_error)
    writer = open_store(tmp_path)
    append_range(writer, 0, 5)
    assert reader.refresh() == 5
    assert reader.stats().persist_ok
    append_range(writer, 5, 8)
    assert reader.refresh() == 3
    assert reader.refresh() == 0
    assert reader.frame(["svc/m7"], T0, T0 + 8)["svc/m7"].tolist() == [
        float(i * 1000 + 7) for i in range(8)]
    assert reader.latest()["svc/m1"].value == 7001.0
    with pytest.raises(RuntimeError, match="readonly"):
        reader.append(T0 + 9, [])
    writer.close()
    reader.close()
    assert len(disk_ticks(tmp_path)) == 8


def test_a_batch_is_written_all_or_nothing(tmp_path: Path) -> None:
    db = Database.open(tmp_path / DB_NAME)
    bad = Batch(series=[(0, "svc/a")], ticks=[(1.0, b"", b""), (2.0, None, b"")])  # type: ignore[list-item]
    with pytest.raises(sqlite3.IntegrityError):
        db.write(bad)
    assert db.series() == [] and db.ticks(0.0, 10) == []
    db.close()
