"""What the small views (round avatars, grid tiles) cost a robust query, paired in one process.

Run from the repository root after the quality benchmark has made its copies::

    python -m benchmarks.bench_views --images ../shared/data/photos-dev --out quality-out

A store of the quality benchmark's reported photos, with features, as ``photomatch-robust``
builds it. Each query runs twice in a row, once as the library does it and once with
``regions.screen_regions`` switched off (so the rest of the query is identical), the order
alternating, timed in CPU seconds of this thread (OpenCV held to one thread), which a busy
shared machine disturbs far less than wall time. It prints, per kind of query, the median time
with and without the views, and the screens' time over a plain photo's:

- ``plain``: photos-dev photos as they are (the reported photos' and distractors' originals),
- ``screenshot``, ``collage``: the existing compositions,
- ``profile``, ``grid``, ``profile_fwd``, ``grid_fwd``: the screens of issue 10.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.quality import alterations as alt
from benchmarks.quality.runner import Config, cache_root, copy_path, list_photos, split
from benchmarks.small_views import parser
from photomatch import Matcher, regions

KINDS = ("plain", "screenshot", "collage", "profile", "grid", "profile_fwd", "grid_fwd")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--per-kind", type=int, default=40, help="queries of each kind")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    reported, distractors = split(list_photos(args.images), args.reported, args.seed)
    root = cache_root(Config(images=args.images, out=args.out, seed=args.seed))
    photos = [q for pair in zip(reported, distractors) for q in pair]  # half copies of reported photos
    on = regions.screen_regions
    off = lambda rgb, **kw: []  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp, Matcher(Path(tmp) / "store.db") as m:
        for pid, path in reported:
            m.add([path], label=pid, features=True)
        m.match(np.zeros((64, 64, 3), np.uint8))  # loads the features and the index
        median: dict[str, tuple[float, float]] = {}
        for kind in KINDS:
            times: dict[bool, list[float]] = {True: [], False: []}
            for i, (pid, src) in enumerate(photos[: args.per_kind]):
                path = src if kind == "plain" else copy_path(root, kind, pid, src)
                if not Path(path).is_file():
                    continue
                image = alt.load_rgb(path)  # decoded once: the timing is the matcher's
                for views in ((True, False) if i % 2 else (False, True)):
                    regions.screen_regions = on if views else off
                    t0 = time.thread_time()
                    m.match(image)
                    times[views].append(time.thread_time() - t0)
            regions.screen_regions = on
            median[kind] = (float(np.median(times[True])), float(np.median(times[False])))
            print(f"{kind:>12}: {1000 * median[kind][0]:6.1f} ms with views, {1000 * median[kind][1]:6.1f} ms without "
                  f"({median[kind][0] / median[kind][1]:.2f}x); {median[kind][0] / median['plain'][0]:.2f}x a plain photo "
                  f"(median CPU ms, n={len(times[True])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
