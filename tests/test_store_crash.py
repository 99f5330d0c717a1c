"""Crash safety and concurrency of the store, with real processes.

- Crash: a child process adds items (single adds and batches, with searches and index-cache
  flushes in between) and logs each id once its add has returned; the parent SIGKILLs it at
  random moments (deterministic seed), at least 20 times. After each kill the store must open,
  pass ``PRAGMA integrity_check``, hold every logged item with its exact hashes, and its index
  must agree with it: a search for each logged code finds its item, and a search at the maximum
  threshold returns exactly the hash ids of the database.
- Concurrency: two adders and two searchers on one store for a few seconds; searchers check that
  every add logged before their search is found. Afterwards: integrity, no lost item, every
  process exited, and every operation returned within its lock timeout or raised
  StoreLockedError (counted).

Run with ``-s`` to see the figures (kills survived, operations done);
``PHOTOMATCH_CRASH_KILLS=200`` runs a longer crash campaign.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from photomatch.store import Store
from photomatch.verify import Features

SEED = 20240917
KILLS = int(os.environ.get("PHOTOMATCH_CRASH_KILLS", "22"))  # a longer campaign: set it higher
LOCK_TIMEOUT = 2.0
CONCURRENT_SECONDS = 3.0

CHILD = r'''
import json, os, sys, time
import numpy as np
from photomatch.errors import StoreLockedError
from photomatch.store import Store
from photomatch.verify import Features

SEED = int(sys.argv[4])

def codes(worker, step):
    rng = np.random.default_rng([SEED, worker, step])
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes(), rng.integers(0, 256, 8, dtype=np.uint8).tobytes()

def feats(worker, step):
    rng = np.random.default_rng([SEED, worker, step, 2])
    return Features(np.zeros((16, 2), np.float32), rng.integers(0, 256, (16, 32), dtype=np.uint8), (10, 10))

def read_log(path):
    try:
        with open(path) as f:
            data = f.read()
    except FileNotFoundError:
        return []
    # a line without its newline is still being written: ignore it
    return [tuple(map(int, line.split())) for line in data.split("\n")[:-1] if line[0] not in "rR"]

mode, path, log = sys.argv[1], sys.argv[2], sys.argv[3]
worker, start, stop_at = int(sys.argv[5]), int(sys.argv[6]), time.time() + float(sys.argv[7])
removals = mode == "add" and sys.argv[9:] == ["removals"]
store = Store(path, timeout=float(sys.argv[8]))
stats = {"ops": 0, "locked": 0, "max_op_s": 0.0, "violations": 0, "found": 0}
print("ready", flush=True)

def timed(fn, *args, **kw):
    t0 = time.monotonic()
    try:
        return fn(*args, **kw)
    except StoreLockedError:
        stats["locked"] += 1
        return None
    finally:
        stats["ops"] += 1
        stats["max_op_s"] = max(stats["max_op_s"], time.monotonic() - t0)

if mode == "add":
    # One write() per logged add: it is in the kernel once write returns, so it survives SIGKILL
    # of this process (no fsync needed: the test kills processes, not the machine).
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    rng = np.random.default_rng([SEED, worker, start, 1])
    step = start
    while time.time() < stop_at:
        r = rng.random()
        if r < 0.2:  # a batch: one transaction
            steps = list(range(step, step + 5))
            ids = timed(store.add_items, [{"hashes": [("pdq", codes(worker, s)[0], 90), ("phash", codes(worker, s)[1])],
                                           "label": f"w{worker}s{s}", "keypoints": feats(worker, s).to_bytes()}
                                          for s in steps])
        else:
            steps = [step]
            one = timed(store.add_item, [("pdq", codes(worker, step)[0], 90), ("phash", codes(worker, step)[1])],
                        label=f"w{worker}s{step}", keypoints=feats(worker, step).to_bytes())
            ids = None if one is None else [one]
        step += len(steps)
        if ids is not None:
            os.write(fd, "".join(f"{i} {worker} {s}\n" for i, s in zip(ids, steps)).encode())
        if ids is not None and removals and r < 0.04:  # now and then remove what was just added
            os.write(fd, f"r {ids[0]}\n".encode())  # intent: may or may not be applied if killed
            if timed(store.remove, [ids[0]]) is not None:
                os.write(fd, f"R {ids[0]}\n".encode())
        if r > 0.93:
            timed(store.range_search, "pdq", codes(worker, step - 1)[0], 31)  # keeps the index loaded and in sync
            timed(store.feature_votes, feats(worker, step - 1), top=1)  # and the feature index
        elif r > 0.90:
            timed(store.flush)  # writes the index cache: kills land here too
elif mode == "hog":
    # Another program holding the write lock longer than the others' timeout, again and again.
    import sqlite3
    con = sqlite3.connect(path, isolation_level=None, timeout=30)
    while time.time() < stop_at:
        con.execute("BEGIN IMMEDIATE")
        time.sleep(1.5 * float(sys.argv[8]))
        con.execute("COMMIT")
        stats["ops"] += 1
        time.sleep(0.5)
    con.close()
else:
    rng = np.random.default_rng([SEED, worker, 2])
    logs = sys.argv[9:]
    while time.time() < stop_at:
        done = [e for lg in logs for e in read_log(lg)]  # adds that returned BEFORE this search
        if not done:
            time.sleep(0.01)
            continue
        pick = [done[j] for j in rng.integers(0, len(done), 20)]
        for algo, k in (("pdq", 0), ("phash", 1)):
            q = np.frombuffer(b"".join(codes(w, s)[k] for _, w, s in pick), np.uint8).reshape(len(pick), -1)
            res = timed(store.range_search, algo, q, 0)
            if res is not None:
                for (item, _, _), hits in zip(pick, res):
                    ok = item in [h.item_id for h in hits]
                    stats["found"] += ok
                    stats["violations"] += not ok
store.close()
print(json.dumps(stats), flush=True)
'''


def codes(worker: int, step: int) -> tuple[bytes, bytes]:
    rng = np.random.default_rng([SEED, worker, step])
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes(), rng.integers(0, 256, 8, dtype=np.uint8).tobytes()


def feats(worker: int, step: int) -> Features:
    """The local features the child stores with an item (random descriptors: unique to it)."""
    rng = np.random.default_rng([SEED, worker, step, 2])
    return Features(np.zeros((16, 2), np.float32), rng.integers(0, 256, (16, 32), dtype=np.uint8), (10, 10))


def read_log(path: Path) -> tuple[list[tuple[int, int, int]], set[int], set[int]]:
    """(adds that returned, removals that returned, removals started) from a child's log."""
    adds, removed, started = [], set(), set()
    if path.exists():
        for line in path.read_text().split("\n")[:-1]:  # a line without its newline is unfinished
            parts = line.split()
            if parts[0] == "R":
                removed.add(int(parts[1]))
            elif parts[0] == "r":
                started.add(int(parts[1]))
            else:
                adds.append(tuple(map(int, parts)))
    return adds, removed, started  # type: ignore[return-value]


def spawn(script: Path, mode: str, store: Path, log: Path, worker: int, start: int, seconds: float,
          logs: list[Path] = (), timeout: float = LOCK_TIMEOUT) -> subprocess.Popen:
    args = [sys.executable, str(script), mode, str(store), str(log), str(SEED), str(worker), str(start),
            str(seconds), str(timeout), *map(str, logs)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != "ready":
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"child did not start: {line!r} {err[-2000:]}")


def verify(path: Path, log: tuple[list[tuple[int, int, int]], set[int], set[int]],
           in_flight_max: int) -> tuple[int, int]:
    """The store opens, is intact, holds every logged add (less the logged removals), and its
    index agrees with it."""
    adds, removed, started = log
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()
    with Store(path, timeout=10) as store:
        items = {it.id: it for it in store.items()}
        assert not removed & set(items), "a removal that returned did not stick"
        maybe_gone = started - removed  # killed while removing: either outcome is right
        logged = [e for e in adds if e[0] not in removed and not (e[0] in maybe_gone and e[0] not in items)]
        for item_id, worker, step in logged:
            item = items.get(item_id)
            assert item is not None, f"item {item_id} was added (logged) but is missing"
            pdq, ph = codes(worker, step)
            assert [(h.algorithm, h.bits) for h in item.hashes] == [("pdq", pdq), ("phash", ph)]
            assert item.label == f"w{worker}s{step}"
        # An add in flight when killed may be present without its log line; it must be whole.
        for item in items.values():
            worker, step = map(int, item.label[1:].split("s"))
            pdq, ph = codes(worker, step)
            assert [(h.algorithm, h.bits) for h in item.hashes] == [("pdq", pdq), ("phash", ph)]
        unlogged = len(items) - len(logged)
        assert 0 <= unlogged <= in_flight_max
        db_hash_ids = {alg: {h.hash_id for it in items.values() for h in it.hashes if h.algorithm == alg}
                       for alg in ("pdq", "phash")}
        for alg, k, bits in (("pdq", 0, 256), ("phash", 1, 64)):
            if logged:
                q = np.frombuffer(b"".join(codes(w, s)[k] for _, w, s in logged), np.uint8).reshape(len(logged), -1)
                for (item_id, _, _), hits in zip(logged, store.range_search(alg, q, 0)):
                    assert item_id in [h.item_id for h in hits]
            # at the maximum threshold every stored code matches: the index holds exactly the db's hashes
            everything = store.range_search(alg, bytes(bits // 8), bits, per_item=False)[0]
            assert sorted(h.hash_id for h in everything) == sorted(db_hash_ids[alg])
        # The feature index (a cache file beside the store, like the hash indexes') agrees too:
        # every item's own descriptors vote for it alone, and it holds exactly the db's items.
        for item in items.values():
            worker, step = map(int, item.label[1:].split("s"))
            assert store.feature_votes(feats(worker, step), top=2) == [(item.id, 16)]
        assert store.info()["feature_index"]["items"] == len(items)
        return len(items), unlogged


@pytest.mark.slow
def test_sigkill_during_adds(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    path = tmp_path / "reports.db"
    log = tmp_path / "added.log"
    rng = np.random.default_rng(SEED)
    survived, in_open, unlogged = 0, 0, 0
    for run in range(KILLS):
        proc = spawn(script, "add", path, log, worker=0, start=run * 1_000_000, seconds=600, logs=["removals"])
        if run % 6 == 5:  # now and then, kill it anywhere: while importing, opening or adding
            time.sleep(float(rng.uniform(0.0, 1.0)))
            in_open += 1
        else:
            wait_ready(proc)
            time.sleep(float(rng.uniform(0.01, 0.4)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        adds, removed, started = read_log(log)
        n, unlogged = verify(path, (adds, removed, started), in_flight_max=unlogged + 5)  # one batch per kill
        survived += 1
    adds, removed, _ = read_log(log)
    logged = len(adds)
    print(f"\n[crash] kills survived: {survived}/{KILLS} ({in_open} at random points incl. start-up); "
          f"adds logged: {logged}, removals logged: {len(removed)}; items in store: {n} "
          f"(of which {unlogged} committed by an add killed before it returned)")
    assert survived == KILLS and logged > 0


@pytest.mark.slow
@pytest.mark.parametrize("hog", [False, True], ids=["plain", "with-lock-hog"])
def test_two_adders_two_searchers(tmp_path: Path, hog: bool) -> None:
    """With ``hog``, a fifth process holds the write lock for 1.5x the others' timeout, over and
    over: their writes must fail with StoreLockedError after the timeout, never hang."""
    timeout = 1.0 if hog else LOCK_TIMEOUT
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    path = tmp_path / "reports.db"  # not created yet: the four processes race to create it
    if hog:  # ... unless the hog is there to lock them out of creating it (that raises, as it should)
        Store(path).close()
    logs = [tmp_path / "adder0.log", tmp_path / "adder1.log"]
    procs = [spawn(script, "add", path, logs[w], worker=w, start=0, seconds=CONCURRENT_SECONDS, timeout=timeout)
             for w in (0, 1)]
    procs += [spawn(script, "search", path, tmp_path / "unused.log", worker=10 + w, start=0,
                    seconds=CONCURRENT_SECONDS, logs=logs, timeout=timeout) for w in (0, 1)]
    if hog:
        procs.append(spawn(script, "hog", path, tmp_path / "unused.log", worker=20, start=0,
                           seconds=CONCURRENT_SECONDS, timeout=timeout))
    stats = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=CONCURRENT_SECONDS + 60)  # a hung process fails here
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a process did not finish: unbounded wait")
        assert p.returncode == 0, err[-3000:]
        lines = out.split()
        assert lines[0] == "ready"
        stats.append(json.loads(out.splitlines()[-1]))
    logged = read_log(logs[0])[0] + read_log(logs[1])[0]
    n, _ = verify(path, (logged, set(), set()), in_flight_max=0)  # clean exits: nothing in flight
    adders, searchers = stats[:2], stats[2:4]
    assert all(s["max_op_s"] < timeout + 5 for s in stats), stats  # bounded: timeout, then an error
    if hog:
        assert sum(s["locked"] for s in adders) > 0, adders
    assert sum(s["violations"] for s in searchers) == 0, searchers
    assert all(s["found"] > 0 for s in searchers) and len(logged) > 0
    print(f"\n[concurrency{' + lock hog' if hog else ''}] {CONCURRENT_SECONDS:g} s, 2 adders + 2 searchers, "
          f"lock timeout {timeout:g} s: "
          f"adder ops {[s['ops'] for s in adders]}, items added {len(logged)} (store holds {n}), "
          f"searcher ops {[s['ops'] for s in searchers]}, logged adds checked by searchers "
          f"{sum(s['found'] for s in searchers)}, StoreLockedError {sum(s['locked'] for s in stats)}, "
          f"slowest op {max(s['max_op_s'] for s in stats):.3f} s")


@pytest.mark.slow
def test_sigkill_during_creation(tmp_path: Path) -> None:
    """Killed while importing, creating or initialising a new store: what is left opens."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = np.random.default_rng(SEED + 1)
    states = []
    for run in range(4):
        path = tmp_path / f"new{run}.db"
        proc = spawn(script, "add", path, tmp_path / f"new{run}.log", worker=0, start=0, seconds=600)
        time.sleep(float(rng.uniform(0.5, 3.0)))  # start-up (imports) takes about 1-2 s here
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        states.append("absent" if not path.exists() else f"{path.stat().st_size} bytes")
        with Store(path) as store:  # creates it if absent, initialises it if empty
            adds, _, _ = read_log(tmp_path / f"new{run}.log")
            assert store.count() >= len(adds)
            store.add_item([("phash", bytes(8))])
        con = sqlite3.connect(path)
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            con.close()
    print(f"\n[creation kills] store state found after each kill: {states}")
