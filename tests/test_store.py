"""Store: persistence, search against a brute-force oracle, the index cache, errors, privacy."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

from photomatch.errors import StoreError, StoreLockedError
from photomatch.hashing import Hash
from photomatch.store import ALGORITHMS, SCHEMA_VERSION, Store

POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def brute_force(stored: dict[int, tuple[int, str, bytes]], algorithm: str, query: bytes, t: int) -> dict[int, int]:
    """The oracle: item id -> best distance, over every stored hash of ``algorithm`` (numpy popcount)."""
    best: dict[int, int] = {}
    q = np.frombuffer(query, np.uint8)
    for _hash_id, (item_id, algo, bits) in stored.items():
        if algo != algorithm:
            continue
        d = int(POPCOUNT[np.bitwise_xor(q, np.frombuffer(bits, np.uint8))].sum())
        if d <= t and d < best.get(item_id, 1 << 30):
            best[item_id] = d
    return best


def flip(code: bytes, n: int, rng: np.random.Generator) -> bytes:
    """``code`` with exactly ``n`` distinct bits flipped."""
    bits = np.unpackbits(np.frombuffer(code, np.uint8))
    idx = rng.choice(bits.size, size=n, replace=False)
    bits[idx] ^= 1
    return np.packbits(bits).tobytes()


def stored_rows(store: Store) -> dict[int, tuple[int, str, bytes]]:
    return {h.hash_id: (it.id, h.algorithm, h.bits) for it in store.items() for h in it.hashes}


def check_against_oracle(store: Store, queries: dict[str, list[bytes]], thresholds: dict[str, int]) -> int:
    """Compare ``store.range_search`` with the brute-force oracle for every query; return #hits checked."""
    stored = stored_rows(store)
    checked = 0
    for algorithm, qs in queries.items():
        t = thresholds[algorithm]
        results = store.range_search(algorithm, np.frombuffer(b"".join(qs), np.uint8).reshape(len(qs), -1), t)
        assert len(results) == len(qs)
        for q, hits in zip(qs, results):
            expected = brute_force(stored, algorithm, q, t)
            got = {h.item_id: h.distance for h in hits}
            assert got == expected
            assert len(hits) == len(got), "one hit per item"
            assert [(h.distance, h.item_id) for h in hits] == sorted((d, i) for i, d in expected.items())
            for h in hits:  # the hash that matched belongs to the item and is at that distance
                item_id, algo, bits = stored[h.hash_id]
                assert (item_id, algo) == (h.item_id, algorithm)
            checked += len(hits)
    return checked


@pytest.fixture
def populated(tmp_path: Path):
    """A store with both algorithms, several hashes per item, planted neighbours at 0..t+2."""
    rng = np.random.default_rng(1234)
    path = tmp_path / "reports.db"
    queries: dict[str, list[bytes]] = {"pdq": [], "phash": []}
    thresholds = {"pdq": 31, "phash": 10}
    with Store(path) as store:
        for algorithm, t in thresholds.items():  # the image algorithms (vpdq rows are PDQ codes too)
            nbytes = ALGORITHMS[algorithm]
            for _ in range(3):
                base = rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes()
                queries[algorithm].append(base)
                # two items per distance 0..t+2 (ties at each distance)
                store.add_items([{"hashes": [(algorithm, flip(base, d, rng), 80, None, "whole")], "label": f"d{d}"}
                                 for d in range(t + 3) for _copy in range(2)])
            # random items, and items holding several hashes of both algorithms
            store.add_items([{"hashes": [(algorithm, rng.integers(0, 256, nbytes, dtype=np.uint8))]}
                             for _ in range(200)])
        for i in range(20):
            q = queries["pdq"][i % 3]
            store.add_item([("pdq", flip(q, 40, rng)), ("pdq", flip(q, 5 + i, rng), 60, (1, 2, 30, 40), "crop"),
                            ("phash", flip(queries["phash"][i % 3], 3, rng))], label=f"multi{i}")
    return path, queries, thresholds


# ---------------------------------------------------------------------------------------------
# basics


def test_add_get_items_persist(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    sha = "ab" * 32
    with Store(path) as store:
        a = store.add_item([Hash.from_hex("0f" * 32, quality=77)], label="a", source="a.jpg", sha256=sha, size=123,
                           note="n")
        b = store.add_item([("phash", b"\x01" * 8), ("pdq", bytes(32), None, (0, 0, 5, 6), "window")])
        assert store.count() == 2
    with Store(path, create=False) as store:
        item = store.get_item(a)
        assert (item.label, item.source, item.sha256, item.size, item.note) == ("a", "a.jpg", sha, 123, "n")
        [h] = item.hashes
        assert (h.algorithm, h.bits, h.quality, h.region, h.region_kind) == ("pdq", bytes.fromhex("0f" * 32), 77, None, "whole")
        hb = store.get_item(b).hashes
        assert [(h.algorithm, h.region_kind, h.region) for h in hb] == [("phash", "whole", None),
                                                                  ("pdq", "window", (0.0, 0.0, 5.0, 6.0))]
        assert [it.id for it in store.items(batch=1)] == [a, b]
        assert store.get_item(999) is None
        assert store.has_sha256(sha) and store.find_sha256(sha) == a
        assert not store.has_sha256("cd" * 32) and store.find_sha256("cd" * 32) is None
        assert store.has_algorithm("pdq") and store.has_algorithm("phash")
        info = store.info()
        assert info["items"] == 2 and info["hashes"] == {"pdq": 2, "phash": 1, "vpdq": 0}
        assert info["schema_version"] == SCHEMA_VERSION and info["path"] == str(path)
        assert "0f0f" not in repr(item) + repr(item.hashes)  # reprs never show hashes
        assert "\\x0f" not in repr(item.hashes) and "<32 bytes>" in repr(item.hashes)


def test_add_items_all_or_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        good = {"hashes": [("phash", bytes(8))]}
        for bad in ({"hashes": [("phash", bytes(7))]}, {"hashes": [("md5", bytes(16))]}, {"hashes": []},
                    {"hashes": [("pdq", bytes(32), 101)]}, {"hashes": [("pdq", bytes(32), None, (0, 0, 0, 1))]},
                    {"hashes": [("phash", bytes(8))], "sha256": "XYZ"}, {"hashes": [("phash", bytes(8))], "oops": 1}):
            with pytest.raises((ValueError, TypeError)):
                store.add_items([good, good, bad])
        assert store.count() == 0
        assert store.add_items([]) == []


def test_remove_and_keypoints(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    codes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(5)]
    with Store(tmp_path / "s.db") as store:
        ids = [store.add_item([("pdq", c), ("phash", c[:8])]) for c in codes]
        store.set_keypoints(ids[0], b"\x00\x01descriptors", descriptor="orb")
        assert store.get_keypoints(ids[0]) == b"\x00\x01descriptors"
        assert [len(h) for h in store.range_search("pdq", codes, 0)] == [1] * 5  # index loaded before removal
        assert store.remove([ids[0], ids[2], 10_000]) == 2
        assert store.remove(ids[0]) == 0
        assert store.get_keypoints(ids[0]) is None  # cascaded
        found = store.range_search("pdq", codes, 0)
        assert [[h.item_id for h in hits] for hits in found] == [[], [ids[1]], [], [ids[3]], [ids[4]]]
        assert store.info()["hashes"] == {"pdq": 3, "phash": 3, "vpdq": 0}
        with pytest.raises(KeyError):
            store.set_keypoints(ids[0], b"x")
    with Store(tmp_path / "s.db") as store:  # from the saved cache, after removal
        found = store.range_search("phash", [c[:8] for c in codes], 0)
        assert [[h.item_id for h in hits] for hits in found] == [[], [ids[1]], [], [ids[3]], [ids[4]]]


# ---------------------------------------------------------------------------------------------
# search against the oracle, and the index cache


@pytest.fixture(params=["numpy", "faiss"])
def flat_scan(request, monkeypatch) -> str:
    """A store's newest rows are scanned by numpy's popcount when few, by FAISS otherwise: both."""
    monkeypatch.setattr("photomatch.index._SMALL_SCAN", 1 << 40 if request.param == "numpy" else 0)
    return request.param


def test_search_matches_brute_force(populated, flat_scan) -> None:
    path, queries, thresholds = populated
    with Store(path) as store:
        assert check_against_oracle(store, queries, thresholds) > 100
        # every hit, not only the best per item
        stored = stored_rows(store)
        q = queries["pdq"][0]
        hits = store.range_search("pdq", q, 31, per_item=False)[0]
        expected = sorted((int(POPCOUNT[np.bitwise_xor(np.frombuffer(q, np.uint8), np.frombuffer(b, np.uint8))].sum()),
                           hid) for hid, (_, a, b) in stored.items() if a == "pdq")
        assert [(h.distance, h.hash_id) for h in hits] == [e for e in expected if e[0] <= 31]
        crop = [h for h in hits if h.region_kind == "crop"]
        assert crop and all(h.region == (1.0, 2.0, 30.0, 40.0) and h.quality == 60 for h in crop)


def test_search_edge_cases(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.range_search("pdq", bytes(32), 31) == [[]]  # empty store
        assert store.range_search("pdq", np.empty((0, 32), np.uint8), 31) == []
        store.add_item([("pdq", bytes(32))])  # one entry
        assert [h.distance for h in store.range_search("pdq", b"\x01" + bytes(31), 1)[0]] == [1]
        assert store.range_search("pdq", b"\x03" + bytes(31), 1) == [[]]
        for bad in (("md5", bytes(32), 3), ("pdq", bytes(8), 3), ("pdq", bytes(32), 257), ("pdq", bytes(32), -1)):
            with pytest.raises((ValueError, TypeError)):
                store.range_search(*bad)


def test_index_cache_written_and_reused(populated) -> None:
    path, queries, thresholds = populated
    with Store(path) as store:
        check_against_oracle(store, queries, thresholds)
    for algorithm in thresholds:
        cache = Path(f"{path}.{algorithm}.index")
        assert cache.exists() and stat.S_IMODE(cache.stat().st_mode) == 0o600
    with Store(path) as store:
        check_against_oracle(store, queries, thresholds)
        assert {a: s["origin"] for a, s in store.info()["index"].items()} == {"pdq": "cache", "phash": "cache",
                                                                             "vpdq": None}


@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated", "stale", "foreign"])
def test_index_cache_rebuilt(populated, tmp_path: Path, damage: str) -> None:
    path, queries, thresholds = populated
    with Store(path) as store:
        store.range_search("pdq", queries["pdq"][0], 31)
    cache = Path(f"{path}.pdq.index")
    if damage == "missing":
        cache.unlink()
    elif damage == "corrupt":
        data = bytearray(cache.read_bytes())
        data[len(data) // 2] ^= 0xFF
        cache.write_bytes(bytes(data))
    elif damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:100])
    elif damage == "stale":  # a valid index file that is older than the store's record
        old = cache.read_bytes()
        with Store(path) as store:
            store.add_item([("pdq", queries["pdq"][1])], label="later")
            store.range_search("pdq", queries["pdq"][0], 31)
        cache.write_bytes(old)
    elif damage == "foreign":  # a valid index of another store with the same count
        other = tmp_path / "other.db"
        with Store(path) as store:
            n = store.info()["hashes"]["pdq"]
        rng = np.random.default_rng(9)
        with Store(other) as o:
            o.add_items([{"hashes": [("pdq", rng.integers(0, 256, 32, dtype=np.uint8))]} for _ in range(n)])
            o.range_search("pdq", bytes(32), 0)
        cache.write_bytes(Path(f"{other}.pdq.index").read_bytes())
    with Store(path) as store:
        check_against_oracle(store, queries, thresholds)
        assert store.info()["index"]["pdq"]["origin"].startswith("rebuilt")
    with Store(path) as store:  # the rebuilt cache was saved
        check_against_oracle(store, queries, thresholds)
        assert store.info()["index"]["pdq"]["origin"] == "cache"


def test_other_instances_changes_are_seen(populated, flat_scan) -> None:
    path, queries, thresholds = populated
    rng = np.random.default_rng(77)
    with Store(path) as searcher, Store(path) as writer:
        check_against_oracle(searcher, queries, thresholds)  # loads the indexes
        new = [writer.add_item([("pdq", flip(queries["pdq"][0], d, rng))]) for d in (0, 7, 31)]
        new.append(writer.add_item([("phash", flip(queries["phash"][0], 10, rng))]))
        check_against_oracle(searcher, queries, thresholds)
        assert set(new) <= {h.item_id for h in searcher.range_search("pdq", queries["pdq"][0], 31)[0]} | {new[3]}
        victims = [h.item_id for h in searcher.range_search("pdq", queries["pdq"][0], 3)[0]]
        assert writer.remove(victims) == len(victims) > 0
        check_against_oracle(searcher, queries, thresholds)
        assert not {h.item_id for h in searcher.range_search("pdq", queries["pdq"][0], 3)[0]} & set(victims)
    # The writer never loaded an index: the searcher's cache, saved at close, is behind or
    # exactly right; either way a new opener agrees with the oracle.
    with Store(path) as store, Store(path) as writer:
        check_against_oracle(store, queries, thresholds)  # main index from the cache
        writer.add_items([{"hashes": [("pdq", flip(q, d, rng))]} for q in queries["pdq"] for d in range(0, 40, 3)])
        check_against_oracle(store, queries, thresholds)  # main + new rows


# ---------------------------------------------------------------------------------------------
# errors


def test_cache_saved_before_a_removal_elsewhere(populated) -> None:
    """A removal by a process that never loaded the index deletes the cache file in the same
    transaction (the removed hashes must be in no file): the next search rebuilds it without them."""
    path, queries, thresholds = populated
    with Store(path) as store:
        victims = [h.item_id for h in store.range_search("pdq", queries["pdq"][0], 5)[0]]
    cache = Path(f"{path}.pdq.index")
    assert cache.exists()
    with Store(path) as writer:
        assert writer.remove(victims) == len(victims) > 0
        assert writer.info()["index"]["pdq"]["loaded"] is False
        assert not cache.exists()
    with Store(path) as store:
        check_against_oracle(store, queries, thresholds)
        assert store.info()["index"]["pdq"]["origin"] == "rebuilt (no cache file)"
        assert not {h.item_id for h in store.range_search("pdq", queries["pdq"][0], 5)[0]} & set(victims)


def test_schema_1_store_upgraded(populated) -> None:
    """A version-1 store (index bookkeeping in meta keys) opens as version 2 and rebuilds its cache once."""
    path, queries, thresholds = populated
    with Store(path) as store:
        check_against_oracle(store, queries, thresholds)
    con = sqlite3.connect(path)  # back to the version-1 layout
    con.executescript("DROP TABLE removals; DROP TABLE index_checkpoints;"
                      "INSERT INTO meta VALUES ('removals', '3'), ('index.pdq.count', '1'), ('index.pdq.checksum', '2');"
                      "UPDATE meta SET value = '1' WHERE key = 'schema_version'; PRAGMA user_version = 1;")
    con.close()
    with Store(path) as store:
        assert store.info()["schema_version"] == SCHEMA_VERSION == 3
        check_against_oracle(store, queries, thresholds)
        assert store.info()["index"]["pdq"]["origin"] == "rebuilt (cache not recorded in the store)"
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 3
    assert [k for (k,) in con.execute("SELECT key FROM meta ORDER BY key")] == ["app_version", "created", "schema_version"]
    con.close()
    with Store(path) as store:
        check_against_oracle(store, queries, thresholds)
        assert store.info()["index"]["pdq"]["origin"] == "cache"


def test_missing_directory_and_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(StoreError, match="directory"):
        Store(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.db.*not a photomatch store"):
        Store(junk)
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match=r"foreign\.db.*another application"):
        Store(foreign)
    assert foreign.read_bytes() == before  # left exactly as it was


def test_corrupt_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.add_items([{"hashes": [("phash", bytes([i % 256]) * 8)], "label": "x" * 200} for i in range(2000)])
    data = bytearray(path.read_bytes())
    assert len(data) > 8192
    data[4096:len(data) - 1024] = os.urandom(len(data) - 4096 - 1024)  # pages after the first
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"s\.db"):
        with Store(path) as store:
            list(store.items())
            store.range_search("phash", bytes(8), 3)


def test_schema_2_store_upgraded_to_know_vpdq(populated) -> None:
    """A version-2 store (its CHECK without vpdq) keeps every row, hash id and index cache."""
    path, queries, thresholds = populated
    with Store(path) as store:
        check_against_oracle(store, queries, thresholds)  # writes the index caches
        before = [(i.id, i.hashes) for i in map(store.get_item, range(1, 40)) if i is not None]
    con = sqlite3.connect(path)  # back to the version-2 table: only pdq and phash allowed
    old = con.execute("SELECT sql FROM sqlite_master WHERE name = 'hashes'").fetchone()[0]
    con.executescript(
        "CREATE TABLE hashes_v2 " + old[old.index("("):].replace(", 'vpdq'", "").replace(" WHEN 'vpdq' THEN 32", "")
        + "; INSERT INTO hashes_v2 SELECT * FROM hashes; DROP TABLE hashes; ALTER TABLE hashes_v2 RENAME TO hashes;"
        "CREATE INDEX hashes_item ON hashes (item_id); CREATE INDEX hashes_algorithm ON hashes (algorithm, hash_id);"
        "UPDATE meta SET value = '2' WHERE key = 'schema_version'; PRAGMA user_version = 2;")
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO hashes (item_id, algorithm, bits) VALUES (1, 'vpdq', ?)", (bytes(32),))
    seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'hashes'").fetchone()[0]
    con.close()
    with Store(path) as store:
        assert store.info()["schema_version"] == 3
        assert [(i.id, i.hashes) for i in map(store.get_item, range(1, 40)) if i is not None] == before
        check_against_oracle(store, queries, thresholds)
        assert store.info()["index"]["pdq"]["origin"] == "cache"  # hash ids kept: the cache stands
        new = store.add_item([("vpdq", bytes(32), 90)])
        assert store.get_item(new).hashes[0].hash_id > seq  # the id sequence went on


def test_wrong_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=rf"s\.db.*schema version {SCHEMA_VERSION + 1}"):
        Store(path)


def test_locked_store_waits_then_raises(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path, timeout=0.2) as store:
        store.add_item([("phash", bytes(8))])
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            with pytest.raises(StoreLockedError, match=r"s\.db.*locked") as info:
                store.add_item([("phash", b"\x01" * 8)])
            assert isinstance(info.value, StoreError) and isinstance(info.value, TimeoutError)
            # WAL: readers are not blocked by a writer
            assert [h.distance for h in store.range_search("phash", bytes(8), 0)[0]] == [0]
            assert store.count() == 1
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.add_item([("phash", b"\x01" * 8)])  # the lock released: works again
        assert store.count() == 2


def test_closed_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.count()


# ---------------------------------------------------------------------------------------------
# privacy


def test_files_owner_only_under_umask_0(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    old = os.umask(0)
    try:
        with Store(path) as store:
            store.add_item([("pdq", bytes(32)), ("phash", bytes(8))])
            store.range_search("pdq", bytes(32), 0)
            store.range_search("phash", bytes(8), 0)
            with Store(path) as second:  # a second connection keeps the -wal/-shm files alive
                second.count()
                store.flush()
                for suffix in ("", "-wal", "-shm", ".pdq.index", ".phash.index"):
                    f = Path(f"{path}{suffix}")
                    assert f.exists(), suffix
                    assert stat.S_IMODE(f.stat().st_mode) == 0o600, suffix
    finally:
        os.umask(old)
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["s.db", "s.db.pdq.index", "s.db.phash.index"]


def test_empty_file_is_initialised(tmp_path: Path) -> None:
    # What a creator killed between creating the file and initialising it leaves behind.
    path = tmp_path / "s.db"
    path.write_bytes(b"")
    with Store(path, create=False) as store:
        store.add_item([("phash", bytes(8))])
        assert store.count() == 1 and store.info()["schema_version"] == SCHEMA_VERSION


def test_shared_between_threads(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(11)
    codes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(40)]
    with Store(tmp_path / "s.db") as store:
        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(lambda c: store.add_item([("pdq", c)]), codes))
            found = list(pool.map(lambda c: store.range_search("pdq", c, 0)[0], codes))
        assert [[h.item_id for h in hits] for hits in found] == [[i] for i in ids]


def test_side_files_never_more_open_than_the_db(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    keeper = sqlite3.connect(path)  # keeps -wal/-shm alive between our connections
    try:
        keeper.execute("INSERT INTO meta (key, value) VALUES ('test', 'x')")  # a WAL with content
        keeper.commit()  # (SQLite itself resets the mode of an empty WAL only)
        wal = Path(f"{path}-wal")
        os.chmod(wal, 0o666)  # as a careless tool or an old version might have left it
        with Store(path) as store:
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
            os.chmod(path, 0o640)  # an owner sharing the store with a group on purpose
            os.chmod(wal, 0o666)
        with Store(path):
            assert stat.S_IMODE(wal.stat().st_mode) == 0o640
    finally:
        keeper.close()


def test_cannot_create_in_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"absent/s\.db: cannot create the store"):
        Store(tmp_path / "absent" / "s.db")


def test_close_does_not_wait_long_for_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.add_item([("phash", bytes(8))])
    store = Store(path, timeout=30)
    assert [h.distance for h in store.range_search("phash", bytes(8), 0)[0]] == [0]  # index built, unsaved
    Path(f"{path}.phash.index").unlink(missing_ok=True)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        store.close()  # returns (after about a second, not 30) without saving the cache
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not Path(f"{path}.phash.index").exists()
    with Store(path) as store:  # the next opener rebuilds it
        assert store.range_search("phash", bytes(8), 0)[0][0].distance == 0
        assert store.info()["index"]["phash"]["origin"].startswith("rebuilt")
