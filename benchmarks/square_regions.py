"""What the reported side's centre-square hashes (region kind ``square``) cost: index size and
closeness to unrelated queries.

Run from the repository root after the quality benchmark has made its copies::

    python -m benchmarks.square_regions --images ../shared/data/photos-dev --out quality-out

It adds the reported photos of the quality benchmark's split to two hash-only stores, one as
photomatch adds them (whole, trimmed and centre-square PDQ hashes) and one without the squares,
and prints their PDQ hash counts and file sizes (store and index cache). Then it hashes every
distractor copy the way robust mode does (whole image, its 8 rotations/flips, query regions and
screen views) and searches all its hashes against the stored ones up to distance 64: for each
stored kind it prints how many distractor copies come within the match threshold (false matches)
and the distribution of the nearest distance (how much margin the threshold keeps).
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.quality import alterations as alt
from benchmarks.quality.runner import Config, cache_root, copy_path, list_photos, split
from benchmarks.small_views import parser
from photomatch import Matcher, regions
from photomatch.algorithms import PDQ


def _sizes(path: Path) -> tuple[int, int]:
    store = sum(os.path.getsize(p) for p in path.parent.glob(path.name + "*") if not str(p).endswith(".index"))
    index = sum(os.path.getsize(p) for p in path.parent.glob(path.name + "*.index"))
    return store, index


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__).parse_args(argv)
    reported, distractors = split(list_photos(args.images), args.reported, args.seed)
    root = cache_root(Config(images=args.images, out=args.out, seed=args.seed))
    t = PDQ.default_threshold
    with tempfile.TemporaryDirectory() as tmp:
        with_sq, without = Path(tmp) / "squares.db", Path(tmp) / "plain.db"
        original = regions.reported_regions
        with Matcher(with_sq) as m:
            m.add([path for _, path in reported])
            n_with = m.info()["hashes"]["pdq"]
            m.match(np.zeros((64, 64, 3), np.uint8))  # writes the index cache
        try:
            regions.reported_regions = lambda rgb, **kw: original(rgb, squares=False, **kw)
            with Matcher(without) as m:
                m.add([path for _, path in reported])
                n_without = m.info()["hashes"]["pdq"]
                m.match(np.zeros((64, 64, 3), np.uint8))
        finally:
            regions.reported_regions = original
        (s1, i1), (s0, i0) = _sizes(with_sq), _sizes(without)
        print(f"{len(reported)} reported photos: PDQ hashes {n_without} -> {n_with} with squares; "
              f"store {s0 / 1e3:.0f} -> {s1 / 1e3:.0f} kB, index cache {i0 / 1e3:.1f} -> {i1 / 1e3:.1f} kB")

        nearest: dict[str, list[int]] = defaultdict(list)
        within: dict[str, set[str]] = defaultdict(set)
        n = 0
        with Matcher(with_sq) as m:
            algos = m._stored_algorithms(features=False)
            for name in alt.ALTERATIONS:
                for pid, src in distractors[: args.limit_distractors]:
                    path = copy_path(root, name, pid, src)
                    if not path.is_file():
                        continue
                    q = m._hash_query(str(path), mode="robust", dihedral=True, exact=False, algos=algos)
                    codes = [b for _, b in q.pdq] + [r[1] for r in q.regions]
                    arr = np.frombuffer(b"".join(codes), np.uint8).reshape(len(codes), 32)
                    best: dict[str, int] = {}
                    for hits in m.store.range_search("pdq", arr, 64, per_item=False):
                        for hit in hits:
                            best[hit.region_kind] = min(best.get(hit.region_kind, 999), hit.distance)
                    for kind, d in best.items():
                        nearest[kind].append(d)
                        if d <= t:
                            within[kind].add(f"{name}/{pid}")
                    n += 1
        print(f"{n} distractor copies ({len(alt.ALTERATIONS)} alterations), every robust-mode query hash vs the stored hashes:")
        for kind in ("whole", "trim", "square"):
            if kind not in nearest:
                print(f"  {kind:>6}: no distractor copy within 64 bits")
        for kind in sorted(nearest):
            d = np.array(nearest[kind])
            print(f"  {kind:>6}: {len(within[kind])} copies within {t} (false matches); {len(d)} come within 64, "
                  f"nearest distance min {d.min()}, p1 {np.percentile(d, 1):.0f}, p10 {np.percentile(d, 10):.0f}"
                  + (f" ({', '.join(sorted(within[kind])[:5])})" if within[kind] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
