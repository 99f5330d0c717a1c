"""End to end: ``photomatch match`` over a folder of photos-dev JPEGs against a store of 1,000 items.

    pytest benchmarks/bench_match.py

The store holds 1,000 reported items, added as ``photomatch add --features`` does (PDQ of the
whole and border-trimmed picture, and ORB features): the 369 photos-dev photos topped up with
generated pictures (a power-law spectrum, like photos). The queries are re-encoded copies of the
photos-dev photos (every other one), each scaled to 1-3 megapixels. Both modes run, on 1 and 2 threads; the whole
command runs (walking, decoding, hashing, regions, features, search, verification, output).
Records files/s in ``extra_info``. The issue's target: robust mode >= 20 query photos/s on 2 cores.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from photomatch.cli import main

from .scan_data import build_store, scaled_queries

pytest.importorskip("pytest_benchmark")

STORE_ITEMS = 1000
N_QUERIES = 150


@pytest.fixture(scope="module")
def setup(tmp_path_factory, photos_dev_dir):
    tmp = tmp_path_factory.mktemp("match")
    photos = sorted(photos_dev_dir.glob("*.jpg"))
    store = tmp / "store.db"
    build_store(store, photos, STORE_ITEMS)
    queries = tmp / "queries"
    pixels = scaled_queries(photos, queries, N_QUERIES)
    return store, queries, pixels


def _match_cli(store, queries, mode_args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["match", str(store), str(queries), "--json", *mode_args])
    if code != 0:
        raise RuntimeError(f"photomatch match exited {code}")
    return out.getvalue()


@pytest.mark.parametrize("workers", ["1", "2"], ids=["1-thread", "2-threads"])
@pytest.mark.parametrize("mode", ["fast", "robust"])
def test_match_folder(benchmark, setup, mode, workers):
    store, queries, pixels = setup
    mode_args = ["--mode", mode, "--workers", workers]
    benchmark.group = "match folder vs 1000-item store"
    benchmark.extra_info.update(queries=N_QUERIES, megapixels=round(pixels / 1e6, 1), store_items=STORE_ITEMS,
                                mode=mode, workers=int(workers))
    out = benchmark.pedantic(_match_cli, args=(store, queries, mode_args), rounds=3, iterations=1)
    assert out.count("\n") == N_QUERIES
    benchmark.extra_info["files_per_s"] = round(N_QUERIES / benchmark.stats.stats.mean, 1)
