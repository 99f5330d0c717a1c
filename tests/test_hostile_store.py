"""Hostile input, second round (issue 9), the store's side: concurrent creation, read-only stores,
removal that leaves nothing behind, special files in place of the store's own files, and output
written only where it may be.

Every input is made here. Oracles: the set of items each process added (concurrent creation), the
database file's bytes before and after (read-only opens), the removed hash's 32 bytes searched in
every file of the store's folder, and the file type of an output path before and after a write.
Commands that could hang on a regression run in a subprocess with a timeout, so that CI fails
instead of hanging.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from photomatch import Store

PYTHON = sys.executable


def _run(args: list[str], *, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """``python -m photomatch ARGS`` in a subprocess: a hang fails the test at ``timeout``."""
    return subprocess.run([PYTHON, "-m", "photomatch", *args], capture_output=True, timeout=timeout, **kwargs)


# --- item 7a: several processes creating one new store at once ------------------------------


def test_store_creation_waits_for_a_writer_instead_of_failing(tmp_path):
    """SQLite does not run its busy handler for the switch to a write-ahead log while another
    connection holds the write lock: the switch failed at once ("database is locked") and the
    store raised StoreLockedError. Now it waits (up to ``timeout``) and succeeds."""
    path = tmp_path / "s.db"
    path.touch()  # a new, empty store file, as the first of several creators leaves it
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another creator holding the write lock for a moment
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    start = time.monotonic()
    try:
        with Store(path, timeout=10) as store:
            store.add_item([("pdq", bytes(32), 100)])
            waited = time.monotonic() - start
            assert store.count() == 1
    finally:
        release.join()
        other.close()
    assert waited >= 0.25  # it waited for the lock rather than going around it


_CREATOR = textwrap.dedent("""
    import os, sys, time
    from photomatch import Store
    path, k, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    open(os.path.join(ready, str(k)), "w").close()
    while len(os.listdir(ready)) < int(sys.argv[4]):  # start together, once every process is up
        time.sleep(0.001)
    with Store(path, timeout=30) as store:
        store.add_item([("pdq", bytes([k + 1]) * 32, 100)], label=f"process {k}")
""")


@pytest.mark.parametrize("round_", range(3))
def test_processes_creating_one_new_store_at_once_all_succeed(tmp_path, round_):
    n = 4
    path, ready = tmp_path / "s.db", tmp_path / "ready"
    ready.mkdir()
    procs = [subprocess.Popen([PYTHON, "-c", _CREATOR, str(path), str(k), str(ready), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in range(n)]
    outcomes = [(p.wait(timeout=120), p.stderr.read().decode(errors="replace")) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert [rc for rc, _ in outcomes] == [0] * n, [err for _, err in outcomes]
    with Store(path, create=False) as store:
        assert sorted(item.label for item in store.items()) == [f"process {k}" for k in range(n)]
        assert store._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
