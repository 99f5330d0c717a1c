"""CPU seconds of robust-mode queries on bench_match's data, for comparing two checkouts.

    python -m benchmarks.robust_cpu --work /tmp/rc_head --label head
    (cd ../other-checkout && python -m benchmarks.robust_cpu --work /tmp/rc_old --label old)

The data is bench_match's (``benchmarks/scan_data.py``): a store of 1,000 reported items with
features (the photos-dev photos topped up with generated pictures) and 150 re-encoded photos-dev
copies at 1-3 MP. Queries run one after the other on one thread (OpenCV too), timed in CPU seconds
of that thread, which a busy shared machine disturbs far less than wall time; run the two
checkouts alternately, a few times each, and compare medians. Each checkout builds its own store
in ``--work`` (kept for the next run), so a schema change between them does not matter.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

from benchmarks.scan_data import build_store, scaled_queries
from photomatch import Matcher


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", default="../shared/data/photos-dev", help="photos-dev folder")
    p.add_argument("--work", required=True, help="folder for this checkout's store and queries (reused)")
    p.add_argument("--label", default="this checkout")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    photos = sorted(Path(args.images).glob("*.jpg"))
    if not photos:
        p.error(f"no photos in {args.images}")
    store, queries = work / "store.db", work / "queries"
    if not store.exists():
        build_store(store, photos, 1000)
    if not queries.exists():
        scaled_queries(photos, queries, 150)
    paths = sorted(str(q) for q in queries.iterdir())
    with Matcher(store) as m:
        m.match(paths[0], mode="robust")  # features and index loaded
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        matched = sum(1 for q in paths if m.match(q, mode="robust"))
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    print(f"{args.label}: {len(paths)} robust queries, {cpu:.2f} CPU-s ({len(paths) / cpu:.1f} queries per CPU-s), "
          f"wall {wall:.1f} s, {matched} matched")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
