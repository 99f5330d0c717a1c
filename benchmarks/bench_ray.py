"""Ray Data: images/s with 1 and 2 workers, and the engine's per-image overhead against the plain loop.

    python -m benchmarks.bench_ray                      # 120 queries, robust mode
    python -m benchmarks.bench_ray --queries 60 --mode fast

Data (benchmarks/scan_data.py): a store of the photos-dev photos with features (``--items``;
topped up with generated pictures past 369), and re-encoded copies of every other photo scaled
to 1-3 megapixels as queries (the data of bench_match.py). Three runs, in this order, in one
process, all in the given mode:

- ``plain``: ``Matcher.match_many(paths, workers=1)``, the loop ``photomatch match --workers 1`` runs;
- ``ray-1``: ``photomatch.ray.match_dataset`` with 1 actor, on a local cluster of 2 CPUs;
- ``ray-2``: the same with 2 actors.

Each Ray run is timed from submitting the dataset: its start-up (starting the actors, each
importing photomatch and opening the store: paid once per job, whatever its size) and its
steady rate from the first batch to the last row. Overhead per image = ray-1 steady time per
image / plain time per image - 1 (target <= 15 %); speed-up = ray-2 steady images/s / ray-1
(target >= 1.7). Figures with start-up included are recorded too. All three runs must give the
same matches (checked).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from photomatch import Matcher

from .photos import PHOTOS_DEV_HINT, photos_dev
from .scan_data import build_store, scaled_queries

BATCH = 4  # images per batch: small, so both actors get work early and the first batch comes soon


def _present(matches: list[dict]) -> list[dict]:
    """A match's fields that have a value: a Ray table has a column for every field (a photo's
    match carries the video fields as nulls), the JSON of one match leaves them out."""
    return [{k: v for k, v in m.items() if v is not None} for m in matches]


def _plain(store: Path, paths: list[str], mode: str) -> tuple[float, list]:
    t0 = time.perf_counter()
    with Matcher(store, create=False) as m:
        rows = [(r.query, _present([x.to_json() for x in r.matches]))
                for r in m.match_many(paths, mode=mode, workers=1)]
    return time.perf_counter() - t0, rows


def _ray(store: Path, paths: list[str], mode: str, workers: int) -> tuple[float, float, float, list]:
    """(total s, start-up s, steady s per image, rows): start-up is the wait for the first batch
    less its share of steady work; steady is the rate from the first batch's arrival to the end."""
    from photomatch.ray import match_dataset, read_images

    t0 = time.perf_counter()
    ds = match_dataset(read_images(paths), store, mode=mode, workers=workers, batch_size=BATCH)
    rows, first = [], None
    for r in ds.iter_rows():
        if first is None:
            first = time.perf_counter()
        rows.append((r["query"], _present(r["matches"])))
    end = time.perf_counter()
    steady = (end - first) / max(1, len(rows) - BATCH)
    return end - t0, (first - t0) - BATCH * steady / workers, steady, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--items", type=int, default=369, help="reported items in the store")
    parser.add_argument("--mode", choices=("robust", "fast"), default="robust")
    args = parser.parse_args(argv)
    photos_dir = photos_dev()
    if photos_dir is None:
        print(f"photos-dev not found: {PHOTOS_DEV_HINT}", file=sys.stderr)
        return 2
    import ray

    photos = sorted(photos_dir.glob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store.db"
        build_store(store, photos, args.items)
        pixels = scaled_queries(photos, Path(tmp) / "queries", args.queries)
        paths = sorted(str(p) for p in (Path(tmp) / "queries").iterdir())
        n = len(paths)

        plain_s, expected = _plain(store, paths, args.mode)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        try:
            ray1_s, start1, steady1, rows1 = _ray(store, paths, args.mode, 1)
            ray2_s, start2, steady2, rows2 = _ray(store, paths, args.mode, 2)
        finally:
            ray.shutdown()
    if rows1 != expected or rows2 != expected:
        bad = next((a, b) for a, b in zip(expected, rows1 if rows1 != expected else rows2) if a != b)
        print(f"Ray runs gave other matches than the plain loop, first: {bad}", file=sys.stderr)
        return 1
    record = {
        "queries": n, "megapixels": round(pixels / 1e6, 1), "store_items": args.items, "mode": args.mode,
        "matched": sum(bool(m) for _, m in expected),
        "plain_images_per_s": round(n / plain_s, 2),
        "ray1_images_per_s": round(n / ray1_s, 2),
        "ray2_images_per_s": round(n / ray2_s, 2),
        "ray1_steady_images_per_s": round(1 / steady1, 2),
        "ray2_steady_images_per_s": round(1 / steady2, 2),
        "ray1_startup_s": round(start1, 1),
        "ray2_startup_s": round(start2, 1),
        "overhead_per_image": round(steady1 * n / plain_s - 1, 3),
        "overhead_with_startup": round(ray1_s / plain_s - 1, 3),
        "speedup_2_workers": round(steady1 / steady2, 2),
        "speedup_2_workers_with_startup": round(ray1_s / ray2_s, 2),
    }
    print(json.dumps(record))
    print(f"plain loop {record['plain_images_per_s']} img/s; Ray 1 worker {record['ray1_steady_images_per_s']} img/s "
          f"steady (overhead per image {record['overhead_per_image']:+.1%}, target <= +15%), Ray 2 workers "
          f"{record['ray2_steady_images_per_s']} img/s (x{record['speedup_2_workers']}, target >= 1.7); "
          f"start-up {record['ray1_startup_s']} s and {record['ray2_startup_s']} s per job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
