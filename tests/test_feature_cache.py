"""The store's feature index: a cache file beside the store, reused when it matches its checkpoint,
caught up with other processes' adds and removals, rebuilt when damaged or when features are
replaced; the votes always equal those of an index built afresh from the database (the oracle)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from photomatch.features import FeatureIndex
from photomatch.feature_cache import INDEXED_KEYPOINTS
from photomatch.store import Store
from photomatch.verify import Features


def feats(seed: int, n: int = 300) -> Features:
    rng = np.random.default_rng(seed)
    return Features(rng.random((n, 2), dtype=np.float32) * 100, rng.integers(0, 256, (n, 32), dtype=np.uint8),
                    (100, 100))


def add(store: Store, seeds: list[int]) -> list[int]:
    return store.add_items([{"hashes": [("phash", bytes([s % 256]) * 8)], "keypoints": feats(s).to_bytes()}
                            for s in seeds])


def oracle(store: Store, query: Features) -> list[tuple[int, int]]:
    """Votes of an index built afresh from the database's rows."""
    index = FeatureIndex()
    with Store(store.path, create=False, read_only=True) as ro:
        for item in ro.items():
            blob = ro.get_keypoints(item.id)
            if blob is not None:
                index.add(item.id, Features.from_bytes(blob).descriptors[:INDEXED_KEYPOINTS])
    return index.search(query, top=5)


def test_written_reused_and_caught_up(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store:
        ids = add(store, list(range(1, 9)))
        assert store.feature_votes(feats(3), top=1) == [(ids[2], INDEXED_KEYPOINTS)]
        assert store.info()["feature_index"]["origin"].startswith("rebuilt")
    cache = tmp_path / "s.db.features.index"
    assert cache.exists() and stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    with Store(path) as store, Store(path) as other:
        assert store.feature_votes(feats(5), top=1)[0][0] == ids[4]
        assert store.info()["feature_index"]["origin"] == "cache"
        [new] = add(other, [42])  # another process adds, then removes
        assert store.feature_votes(feats(42), top=1) == [(new, INDEXED_KEYPOINTS)]
        other.remove([ids[0]])
        assert all(item != ids[0] for item, _ in store.feature_votes(feats(1), top=5))
        for seed in (1, 5, 42):
            assert store.feature_votes(feats(seed), top=5) == oracle(store, feats(seed))


def test_damaged_or_stale_cache_is_rebuilt(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store:
        ids = add(store, [1, 2, 3])
        store.feature_votes(feats(1), top=1)
    cache = tmp_path / "s.db.features.index"
    good = cache.read_bytes()
    cache.write_bytes(good[: len(good) // 2])  # truncated
    with Store(path) as store:
        assert store.feature_votes(feats(2), top=1)[0][0] == ids[1]
        assert "unreadable" in store.info()["feature_index"]["origin"]
    with Store(path) as store:  # saved again on close: reused
        store.feature_votes(feats(2), top=1)
        assert store.info()["feature_index"]["origin"] == "cache"
    with Store(path) as store:
        add(store, [4])
        store.feature_votes(feats(4), top=1)
        store.flush()  # the file and its checkpoint now hold 4 items
    cache.write_bytes(good)  # now it lacks item 4: its checkpoint tells
    with Store(path) as store:
        assert store.feature_votes(feats(4), top=1)[0][1] == INDEXED_KEYPOINTS
        assert "does not match" in store.info()["feature_index"]["origin"]


def test_replaced_features_rebuild_every_index(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store, Store(path) as other:
        ids = add(store, [1, 2])
        assert store.feature_votes(feats(1), top=1)[0][0] == ids[0]
        other.set_keypoints(ids[0], feats(77).to_bytes())  # replaced in place, by another process
        assert store.feature_votes(feats(77), top=1) == [(ids[0], INDEXED_KEYPOINTS)]
        assert store.feature_votes(feats(1), top=1) == oracle(store, feats(1))
    with Store(path) as store:
        assert store.feature_votes(feats(77), top=1) == [(ids[0], INDEXED_KEYPOINTS)]


def test_read_only_store_searches_without_writing(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store:
        ids = add(store, [1, 2])
    with Store(path, read_only=True) as store:
        assert store.feature_votes(feats(2), top=1)[0][0] == ids[1]
    assert not (tmp_path / "s.db.features.index").exists()  # never written by a reader


@pytest.mark.parametrize("n", [0, 1])
def test_small_stores(tmp_path, n):
    with Store(tmp_path / "s.db") as store:
        add(store, list(range(1, n + 1)))
        assert store.has_features() == bool(n)
        assert len(store.feature_votes(feats(1), top=3)) == n
