"""Hashing throughput, decoding included, side by side with the reference pipelines.

    pytest benchmarks/bench_hashing.py --benchmark-group-by=group

On photos-dev JPEGs of 1500 px or more (skipped when ../shared is absent) and on a generated
12-megapixel JPEG. Each test hashes the whole set once per round; ``extra_info`` records files and
pixels. At the end the ratios the issue sets targets for are printed, from this one run:
photomatch PDQ (fast path) vs the reference pipeline (Pillow full decode + ``pdqhash.compute``),
photomatch vs Pillow's decode alone at the same draft scale and mode (the luma plane), and 2
threads vs 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photomatch
from photomatch import loading

pytest.importorskip("pytest_benchmark")
pdqhash = pytest.importorskip("pdqhash")
imagehash = pytest.importorskip("imagehash")

PHOTOS = Path(os.environ.get("PHOTOMATCH_PHOTOS_DEV", Path(__file__).resolve().parents[2] / "shared/data/photos-dev"))
_means: dict[str, float] = {}


def _big_photos() -> list[Path]:
    if not (PHOTOS / "manifest.csv").is_file():
        return []
    out = []
    for p in sorted(PHOTOS.glob("*.jpg")):
        with Image.open(p) as im:
            if max(im.size) >= 1500:
                out.append(p)
    return out


def _generated_12mp(tmp: Path) -> list[Path]:
    rng = np.random.default_rng(12)
    small = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-10, 11, size=(3000, 4000, 3))
    path = tmp / "generated-12mp.jpg"
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=90)
    return [path]


@pytest.fixture(scope="module", params=["photos-dev", "generated"])
def files(request, tmp_path_factory):
    paths = _big_photos() if request.param == "photos-dev" else _generated_12mp(tmp_path_factory.mktemp("gen"))
    if not paths:
        pytest.skip("photos-dev not found (../shared/data/photos-dev or $PHOTOMATCH_PHOTOS_DEV)")
    return request.param, paths


@pytest.fixture(scope="module", autouse=True)
def report_ratios(request):
    yield
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is None:
        return
    for dataset in ("photos-dev", "generated"):
        m = {k.split("/", 1)[1]: v for k, v in _means.items() if k.startswith(dataset + "/")}
        lines = []
        if {"reference-pdq", "photomatch-pdq-fast"} <= m.keys():
            lines.append(f"PDQ fast vs reference pipeline: {m['reference-pdq'] / m['photomatch-pdq-fast']:.1f}x faster (target >= 10x)")
        if {"pillow-draft-decode", "photomatch-pdq-fast"} <= m.keys():
            lines.append(f"PDQ fast time / Pillow draft decode alone: {m['photomatch-pdq-fast'] / m['pillow-draft-decode']:.2f} (target <= 1.2)")
        if {"photomatch-pdq-fast", "photomatch-pdq-fast-2threads"} <= m.keys():
            lines.append(f"2 threads vs 1: {m['photomatch-pdq-fast'] / m['photomatch-pdq-fast-2threads']:.2f}x (target >= 1.7x)")
        if {"imagehash-phash", "photomatch-phash-fast"} <= m.keys():
            lines.append(f"pHash fast vs imagehash.phash: {m['imagehash-phash'] / m['photomatch-phash-fast']:.1f}x faster")
        if lines:
            tr.write_line(f"\n[{dataset}] ratios measured in this run:")
            for line in lines:
                tr.write_line("  " + line)


def _run(benchmark, name, files, fn, rounds):
    dataset, paths = files
    pixels = 0
    for p in paths:
        with Image.open(p) as im:
            pixels += im.width * im.height
    benchmark.group = f"hashing {dataset}"
    benchmark.extra_info.update(files=len(paths), megapixels=round(pixels / 1e6, 1))
    benchmark.pedantic(fn, args=(paths,), rounds=rounds, iterations=1, warmup_rounds=0)
    _means[f"{dataset}/{name}"] = benchmark.stats.stats.mean
    benchmark.extra_info["files_per_s"] = round(len(paths) / benchmark.stats.stats.mean, 2)


def _reference_pdq(paths):
    for p in paths:
        with Image.open(p) as im:
            pdqhash.compute(np.asarray(im.convert("RGB")))


def _draft_decode(paths):
    for p in paths:
        with Image.open(p) as im:
            _draft(im)
            np.asarray(im)


def _draft(im):
    # the request photomatch's fast path makes (loading.open_luma): the luma plane only ("L"),
    # at the largest 1/2-1/8 reduction that keeps both sides >= the requested size
    side = loading.PDQ_DRAFT_MIN_SIDE
    im.draft("L", (side, side))


def _pm_fast(paths):
    for p in paths:
        photomatch.pdq(p)


def _pm_fast_2threads(paths):
    for r in photomatch.hash_files(paths, workers=2):
        if not r.ok:
            raise r.error


def _pm_exact(paths):
    for p in paths:
        photomatch.pdq(p, exact=True)


def _imagehash_phash(paths):
    for p in paths:
        with Image.open(p) as im:
            imagehash.phash(im)


def _pm_phash(paths):
    for p in paths:
        photomatch.phash(p)


def test_reference_pdq(benchmark, files):
    _run(benchmark, "reference-pdq", files, _reference_pdq, rounds=1)


def test_pillow_draft_decode(benchmark, files):
    _run(benchmark, "pillow-draft-decode", files, _draft_decode, rounds=5)


def test_photomatch_pdq_fast(benchmark, files):
    _run(benchmark, "photomatch-pdq-fast", files, _pm_fast, rounds=5)


def test_photomatch_pdq_fast_2threads(benchmark, files):
    _run(benchmark, "photomatch-pdq-fast-2threads", files, _pm_fast_2threads, rounds=5)


def test_photomatch_pdq_exact(benchmark, files):
    _run(benchmark, "photomatch-pdq-exact", files, _pm_exact, rounds=2)


def test_imagehash_phash(benchmark, files):
    _run(benchmark, "imagehash-phash", files, _imagehash_phash, rounds=1)


def test_photomatch_phash_fast(benchmark, files):
    _run(benchmark, "photomatch-phash-fast", files, _pm_phash, rounds=5)


def test_fast_path_decodes_at_the_benchmarked_scale(files):
    """Guards the comparison above: the draft decode benchmarked is the one photomatch does."""
    _, paths = files
    for p in paths[:3]:
        with Image.open(p) as im:
            _draft(im)
            expected = (np.asarray(im).shape, im.mode)
        got = loading.open_luma(p, draft_min_side=loading.PDQ_DRAFT_MIN_SIDE, exif_transpose=False)
        assert (np.asarray(got).shape, got.mode) == expected
