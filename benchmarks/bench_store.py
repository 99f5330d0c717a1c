"""Store costs: durable adds (single vs batched), opening with and without the index cache, and
the refresh a search pays when another process has written.

    pytest benchmarks/bench_store.py --benchmark-group-by=group -s

N = 100,000 PDQ items (random codes, deterministic seed). Ratios from this one run are printed at
the end: batch vs single add per item, rebuild vs cached open, refreshed vs unchanged search.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from photomatch.store import Store

pytest.importorskip("pytest_benchmark")

N = 100_000
_means: dict[str, float] = {}


def _codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32), dtype=np.uint8)


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "big.db"
    codes = _codes(N, 1)
    with Store(path) as store:
        for i in range(0, N, 10_000):
            store.add_items([{"hashes": [("pdq", c, 90)], "label": "bench"} for c in codes[i:i + 10_000]])
        store.range_search("pdq", codes[:1], 31)  # builds the index; close() writes the cache
    return path


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    lines = []
    if {"add_single", "add_batch"} <= _means.keys():
        lines.append(f"batched add is {_means['add_single'] / _means['add_batch']:.0f}x faster per item than single adds")
    if {"open_cached", "open_rebuild"} <= _means.keys():
        lines.append(f"opening + first search: rebuild from SQLite takes {_means['open_rebuild'] / _means['open_cached']:.1f}x"
                     " the cached open")
    if {"search_unchanged", "search_refreshed"} <= _means.keys():
        lines.append(f"search after another process's add: {_means['search_refreshed'] / _means['search_unchanged']:.1f}x"
                     " an unchanged search")
    if lines:
        print("\n[store ratios, N=%d] " % N + "; ".join(lines))


@pytest.mark.benchmark(group="store add (per item)")
def test_add_single(benchmark, tmp_path: Path) -> None:
    codes = _codes(20, 2)
    with Store(tmp_path / "s.db") as store:
        def run() -> None:
            for c in codes:
                store.add_item([("pdq", c, 90)])
        benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["items_per_round"] = len(codes)
    _means["add_single"] = benchmark.stats.stats.mean / len(codes)


@pytest.mark.benchmark(group="store add (per item)")
def test_add_batch(benchmark, tmp_path: Path) -> None:
    codes = _codes(2000, 3)
    with Store(tmp_path / "s.db") as store:
        benchmark.pedantic(lambda: store.add_items([{"hashes": [("pdq", c, 90)]} for c in codes]),
                           rounds=3, iterations=1)
    benchmark.extra_info["items_per_round"] = len(codes)
    _means["add_batch"] = benchmark.stats.stats.mean / len(codes)


def _open_and_search(path: Path) -> None:
    with Store(path) as store:
        store.range_search("pdq", bytes(32), 31)


@pytest.mark.benchmark(group="store open + first search, N=1e5")
def test_open_cached(benchmark, big_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "c.db"
    for suffix in ("", ".pdq.index"):
        shutil.copy(f"{big_store}{suffix}", f"{copy}{suffix}")
    benchmark.pedantic(_open_and_search, args=(copy,), rounds=3, iterations=1)
    benchmark.extra_info["items"] = N
    _means["open_cached"] = benchmark.stats.stats.mean


@pytest.mark.benchmark(group="store open + first search, N=1e5")
def test_open_rebuild(benchmark, big_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "r.db"
    shutil.copy(big_store, copy)

    def setup() -> None:
        Path(f"{copy}.pdq.index").unlink(missing_ok=True)

    benchmark.pedantic(_open_and_search, args=(copy,), setup=setup, rounds=3, iterations=1)
    benchmark.extra_info["items"] = N
    _means["open_rebuild"] = benchmark.stats.stats.mean


@pytest.mark.benchmark(group="store search (20 queries, t=31), N=1e5")
def test_search_unchanged(benchmark, big_store: Path) -> None:
    q = _codes(20, 4)
    with Store(big_store) as store:
        store.range_search("pdq", q, 31)
        benchmark.pedantic(store.range_search, args=("pdq", q, 31), rounds=10, iterations=1)
    _means["search_unchanged"] = benchmark.stats.stats.mean


@pytest.mark.benchmark(group="store search (20 queries, t=31), N=1e5")
def test_search_refreshed(benchmark, big_store: Path) -> None:
    q = _codes(20, 4)
    extra = iter(_codes(100, 5))
    with Store(big_store) as store, Store(big_store) as other:
        store.range_search("pdq", q, 31)
        # another connection commits before every round: the search sees it and refreshes
        benchmark.pedantic(store.range_search, args=("pdq", q, 31), rounds=10, iterations=1,
                           setup=lambda: other.add_item([("pdq", next(extra))]) and None)
        other.remove([i.id for i in other.items() if i.label is None])
    _means["search_refreshed"] = benchmark.stats.stats.mean
