"""End to end: ``photomatch match`` over a folder of photos-dev JPEGs against a store of 1,000 items.

    pytest benchmarks/bench_match.py

The store holds the PDQ hashes of 1,000 reported items: photos-dev photos (exact decode, as
``photomatch add`` does) topped up with hashes of generated pictures. The queries are re-encoded,
half-size copies of photos-dev photos (1-3 megapixel JPEGs where the originals are that big).
Records files/s in ``extra_info``; the whole command runs (walking, decoding, hashing, search, output).
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photomatch
from photomatch.cli import main

pytest.importorskip("pytest_benchmark")

PHOTOS = Path(os.environ.get("PHOTOMATCH_PHOTOS_DEV", Path(__file__).resolve().parents[2] / "shared/data/photos-dev"))
STORE_ITEMS = 1000
N_QUERIES = 60


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not (PHOTOS / "manifest.csv").is_file():
        pytest.skip("photos-dev not found (../shared/data/photos-dev or $PHOTOMATCH_PHOTOS_DEV)")
    tmp = tmp_path_factory.mktemp("match")
    photos = sorted(PHOTOS.glob("*.jpg"))
    store = tmp / "store.db"
    with photomatch.Matcher(store) as m:
        for r in m.add_many(photos, label="reported"):
            if not r.ok:
                raise r.error
        rng = np.random.default_rng(0)
        extra = STORE_ITEMS - len(m)
        m.add_hashes([photomatch.Hash("pdq", rng.integers(0, 256, 32, dtype=np.uint8).tobytes()) for _ in range(extra)])
        assert len(m) == STORE_ITEMS
    queries = tmp / "queries"
    queries.mkdir()
    pixels = 0
    # the largest photos first, so the queries are the 1-3 megapixel kind the target speaks of
    by_size = sorted(photos, key=lambda p: -os.path.getsize(p))[:N_QUERIES]
    for i, p in enumerate(by_size):
        with Image.open(p) as im:
            im = im.convert("RGB")
            if im.width * im.height > 3_000_000:
                scale = (3_000_000 / (im.width * im.height)) ** 0.5
                im = im.resize((int(im.width * scale), int(im.height * scale)), Image.Resampling.BILINEAR)
            pixels += im.width * im.height
            im.save(queries / f"q{i:03d}.jpg", quality=80)
    return store, queries, pixels


def _match_cli(store, queries, mode_args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["match", str(store), str(queries), "--json", *mode_args])
    if code != 0:
        raise RuntimeError(f"photomatch match exited {code}")
    return out.getvalue()


@pytest.mark.parametrize("mode_args", [["--workers", "1"], ["--workers", "2"]], ids=["1-thread", "2-threads"])
def test_match_folder(benchmark, setup, mode_args):
    store, queries, pixels = setup
    benchmark.group = "match folder vs 1000-item store"
    benchmark.extra_info.update(queries=N_QUERIES, megapixels=round(pixels / 1e6, 1), store_items=STORE_ITEMS)
    out = benchmark.pedantic(_match_cli, args=(store, queries, mode_args), rounds=3, iterations=1)
    assert out.count("\n") == N_QUERIES
    benchmark.extra_info["files_per_s"] = round(N_QUERIES / benchmark.stats.stats.mean, 1)
