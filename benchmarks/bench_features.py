"""Robust matching as the reported set grows: start-up, memory and queries/s at 1e3, 1e4, 1e5 items.

    python -m benchmarks.bench_features                     # 1e3, 1e4 and 1e5 items
    python -m benchmarks.bench_features --sizes 1000 10000  # a subset

Each size gets its own store, holding:

- 150 photos-dev photos added as ``photomatch add --features`` does (real PDQ hashes, real ORB
  features): the reported photos whose copies are looked for;
- ``size - 150`` synthetic items, injected through ``Store.add_items``: a random PDQ hash and
  ORB features whose descriptors are real ORB descriptors of other photos-dev photos (a pool
  from the photos not in the store), each with a few random bits flipped so no two items share
  one, at random positions in a 640x480 frame.

Why representative: the cost of feature retrieval and the false votes depend on how descriptors
are distributed (real ORB descriptors cluster; uniform random ones would spread evenly over an
inverted file and never vote together), and on how many there are per item (500, as extracted).
Extracting features from 1e5 real pictures would take hours here; these have the descriptor
statistics of real pictures at a cost of seconds.

Queries: 60 copies of the reported photos cropped to 70 % of their area (found by local features
only: recall), and 60 photos-dev photos not in the store (false matches), robust mode, 2 threads.
Measured per size, in a fresh process each (so memory is that of one matcher):

- start-up: opening the Matcher and answering the first query (which loads the feature index,
  or builds it from the store the first time: run twice to see both);
- resident memory (peak RSS of the process, after the run);
- queries/s over the 120 queries after the first; recall and false matches.

Wall-clock and CPU figures are both recorded: on a machine shared with other work the wall
clock measures the neighbours too, and the CPU seconds of the process say what it would take
on cores of its own (queries/s per 2 CPUs = 2 / CPU seconds per query).

A line per size, and a linear fit of start-up and memory against the size, extrapolated to 1e6.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from photomatch import Matcher
from photomatch.verify import Features, extract_features

from .photos import photos_dev

REPORTED = 150
QUERIES = 60
SEED = 13


def _photos() -> tuple[list[Path], list[Path], list[Path]]:
    """(reported, distractor queries, descriptor pool photos): disjoint slices of photos-dev."""
    photos_dir = photos_dev()
    if photos_dir is None:
        raise SystemExit("photos-dev not found (../shared/data/photos-dev or $PHOTOMATCH_PHOTOS_DEV)")
    photos = sorted(photos_dir.glob("*.jpg"))
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(photos))
    chosen = [photos[i] for i in order]
    return chosen[:REPORTED], chosen[REPORTED:REPORTED + QUERIES], chosen[REPORTED + QUERIES:]


def _pool(paths: list[Path]) -> np.ndarray:
    descs = []
    for p in paths:
        with Image.open(p) as im:
            descs.append(extract_features(np.asarray(im.convert("RGB"))).descriptors)
    return np.concatenate(descs)


def build(folder: Path, size: int) -> Path:
    """The store of one size (see the module docstring)."""
    reported, _, pool_photos = _photos()
    store = folder / f"store-{size}.db"
    with Matcher(store) as m:
        for r in m.add_many(reported, label="reported", features=True, workers=2):
            if not r.ok:
                raise r.error
        pool = _pool(pool_photos)
        rng = np.random.default_rng(size)
        left = size - REPORTED
        while left > 0:
            n = min(1000, left)
            items = []
            for _ in range(n):
                k = 500
                desc = pool[rng.integers(0, len(pool), k)]
                flips = np.zeros((k, 256), bool)
                flips[np.arange(k)[:, None], rng.integers(0, 256, (k, 6))] = True
                desc = desc ^ np.packbits(flips, axis=1)
                xy = (rng.random((k, 2)) * (640, 480)).astype(np.float32)
                feats = Features(xy=xy, descriptors=desc, size=(640, 480))
                code = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
                items.append({"hashes": [("pdq", code, 90, None, "whole")], "label": "synthetic",
                              "keypoints": feats.to_bytes()})
            m.store.add_items(items)
            left -= n
    return store


def _queries(folder: Path) -> tuple[list[Path], list[Path]]:
    reported, distractors, _ = _photos()
    qdir = folder / "queries"
    if not qdir.exists():
        qdir.mkdir()
        for i, p in enumerate(reported[:QUERIES]):
            with Image.open(p) as im:
                im = im.convert("RGB")
                w, h = im.size
                cw, ch = round(w * 0.7 ** 0.5), round(h * 0.7 ** 0.5)
                im.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)).save(
                    qdir / f"copy{i:03d}.jpg", quality=85)
    copies = sorted(qdir.glob("copy*.jpg"))
    return copies, distractors


def measure(store: Path, folder: Path) -> dict:
    """Run in a fresh process: start-up, q/s, peak memory, recall and false matches."""
    copies, distractors = _queries(folder)
    t0, c0 = time.perf_counter(), time.process_time()
    m = Matcher(store, create=False)
    m.match(str(distractors[0]))  # the first robust query loads the features
    startup, startup_cpu = time.perf_counter() - t0, time.process_time() - c0
    queries = [str(p) for p in copies + distractors]
    t0, c0 = time.perf_counter(), time.process_time()
    results = list(m.match_many(queries, workers=2))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    m.close()  # saves the feature index the first time
    closing = time.perf_counter() - t0
    found = sum(any(x.label == "reported" for x in r.matches) for r in results[:len(copies)])
    false = sum(bool(r.matches) for r in results[len(copies):])
    # CPU seconds are what a machine of one's own would take: on a shared one, wall time
    # measures the neighbours (queries/s per 2 CPUs = 2 / CPU seconds per query).
    return {"startup_s": round(startup, 2), "startup_cpu_s": round(startup_cpu, 2),
            "queries_per_s": round(len(queries) / seconds, 2),
            "queries_per_2cpu_s": round(2 * len(queries) / cpu, 2), "close_s": round(closing, 2),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "recall": f"{found}/{len(copies)}", "false_matches": f"{false}/{len(distractors)}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # STORE FOLDER: measure only
    parser.add_argument("--keep", default=None, help="folder to build the stores in (kept)")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), Path(args.child[1]))))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            t0 = time.perf_counter()
            store = folder / f"store-{size}.db"
            if not store.exists():
                build(folder, size)
            built = time.perf_counter() - t0
            out = subprocess.run([sys.executable, "-m", "benchmarks.bench_features", "--child", str(store), str(folder)],
                                 check=True, capture_output=True, text=True).stdout
            row = {"items": size, "build_s": round(built, 1), **json.loads(out.strip().splitlines()[-1])}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if len(rows) >= 2:
        x = np.array([r["items"] for r in rows], float)
        for key in ("startup_cpu_s", "peak_rss_gb"):
            slope, intercept = np.polyfit(x, [r[key] for r in rows], 1)
            print(f"{key}: {intercept:.3g} + {slope * 1e3:.3g} per 1,000 items -> {intercept + slope * 1e6:.3g} at 1e6")
    base = rows[0]
    for r in rows[1:]:
        print(f"{r['items']} items: start-up {r['startup_cpu_s']} CPU-s ({r['startup_cpu_s'] / base['startup_cpu_s']:.1f}x "
              f"{base['items']}'s), {r['queries_per_2cpu_s']} q/s per 2 CPUs "
              f"({r['queries_per_2cpu_s'] / base['queries_per_2cpu_s']:.2f}x), "
              f"{r['peak_rss_gb']} GB, recall {r['recall']}, false matches {r['false_matches']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
