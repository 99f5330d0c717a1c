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
N_QUERIES = 150
MIN_PIXELS, MAX_PIXELS = 1_000_000, 3_000_000


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not (PHOTOS / "manifest.csv").is_file():
        pytest.skip("photos-dev not found (../shared/data/photos-dev or $PHOTOMATCH_PHOTOS_DEV)")
    tmp = tmp_path_factory.mktemp("match")
    photos = sorted(PHOTOS.glob("*.jpg"))
    store = tmp / "store.db"
    with photomatch.Matcher(store) as m:
        for r in m.add_many(photos, label="reported", features=True):
            if not r.ok:
                raise r.error
        extra = STORE_ITEMS - len(m)
        m.add([_generated(seed) for seed in range(extra)], label="generated", features=True)
        assert len(m) == STORE_ITEMS
    queries = tmp / "queries"
    queries.mkdir()
    pixels = 0
    # every other photo, scaled into the 1-3 megapixel range the target speaks of
    for i, p in enumerate(photos[::2][:N_QUERIES]):
        with Image.open(p) as im:
            im = im.convert("RGB")
            area = im.width * im.height
            if not MIN_PIXELS <= area <= MAX_PIXELS:
                scale = ((MIN_PIXELS if area < MIN_PIXELS else MAX_PIXELS) / area) ** 0.5
                im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BICUBIC)
            pixels += im.width * im.height
            im.save(queries / f"q{i:03d}.jpg", quality=80)
    return store, queries, pixels


def _generated(seed: int, h: int = 480, w: int = 640) -> np.ndarray:
    """A picture with a photo-like power-law spectrum (as tests/images.py makes)."""
    rng = np.random.default_rng(seed)
    f = np.sqrt(np.fft.rfftfreq(w)[None, :] ** 2 + np.fft.fftfreq(h)[:, None] ** 2)
    f[0, 0] = 1.0
    amp = f ** -1.6
    amp[0, 0] = 0.0
    chans = [np.fft.irfft2(amp * np.exp(2j * np.pi * rng.random(amp.shape)), s=(h, w)) for _ in range(3)]
    img = np.stack(chans, axis=-1)
    img = (img - img.mean()) / (img.std() + 1e-12)
    return np.clip(128 + 48 * img, 0, 255).astype(np.uint8)


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
