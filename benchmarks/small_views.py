"""Small views (round avatars, grid tiles): votes and inliers of true and of unrelated pairs.

The verification rule for a small view (``photomatch.verify.VIEW_MIN_INLIERS``) and the vote
floor (``photomatch.matcher.VIEW_MIN_VOTES``) are set from what this prints. Run from the
repository root after the quality benchmark has made its screenshots::

    python -m benchmarks.quality --images ../shared/data/photos-dev --out quality-out \\
        --alterations profile,grid,profile_fwd,grid_fwd --systems photomatch-fast
    python -m benchmarks.small_views --images ../shared/data/photos-dev --out quality-out

For every copy of the screenshot alterations (reported photos' and distractors'), it finds the
views (``regions.screen_regions``), takes each view's features (``verify.view_features``), votes
for the ``--top`` reported photos with most votes (``FeatureIndex.search_many``) and verifies each
(view, candidate) pair with every rule but the inlier count (``verify(..., min_inliers=1)``).
A pair is *true* when the candidate is the photo the copy was made from, *unrelated* otherwise
(all pairs of distractor copies, and the other views and candidates of reported copies). It prints
the distributions of distinct-position inliers and of votes for both, and the time per view.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.quality.runner import Config, cache_root, copy_path, list_photos, split
from photomatch import loading, regions
from photomatch.features import FeatureIndex
from photomatch.verify import extract_features, verify, view_features

SCREENS = ("profile", "grid", "profile_fwd", "grid_fwd")


def parser(doc: str) -> argparse.ArgumentParser:
    """The options shared with square_regions.py: where the photos and the benchmark's copies are, the split."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--images", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="the quality benchmark's --out (its cached copies are used)")
    p.add_argument("--reported", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-distractors", type=int, default=None)
    return p


def _uniform_rows(path: Path) -> float:
    rgb = np.asarray(loading.open_image(path, draft_min_side=loading.PDQ_DRAFT_MIN_SIDE), dtype=np.uint8)
    return regions.uniform_row_share(rgb)


def _screen_test(photos: list[Path], root: Path) -> None:
    plain = np.array([_uniform_rows(p) for p in photos])
    print(f"near-uniform rows (regions.uniform_row_share), photos-dev photos: median {np.median(plain):.3f}, "
          f"p80 {np.percentile(plain, 80):.3f}, max {plain.max():.3f}; "
          f"{(plain >= regions.SCREEN_ROWS).mean():.1%} reach SCREEN_ROWS = {regions.SCREEN_ROWS}")
    for name in SCREENS:
        shots = sorted((root / "alterations" / name).glob("*.jpg"))
        v = np.array([_uniform_rows(p) for p in shots] or [0.0])
        print(f"  {name}: min {v.min():.3f}, median {np.median(v):.3f} over {len(shots)} screens; "
              f"{(v < regions.SCREEN_ROWS).sum()} below SCREEN_ROWS")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--limit-reported", type=int, default=None)
    p.add_argument("--top", type=int, default=4, help="candidates verified per view")
    args = p.parse_args(argv)

    reported, distractors = split(list_photos(args.images), args.reported, args.seed)
    queried_rep = reported[: args.limit_reported]
    queried_dis = distractors[: args.limit_distractors]
    root = cache_root(Config(images=args.images, out=args.out, seed=args.seed))
    _screen_test([path for _, path in reported + distractors], root)
    index = FeatureIndex()
    ids = {}
    for i, (pid, path) in enumerate(reported):  # the index holds every reported photo, as the benchmark's does
        rgb = np.asarray(loading.open_image(path), dtype=np.uint8)
        index.add(i, extract_features(rgb))
        ids[pid] = i
    index.build()

    inliers: dict[str, list[int]] = defaultdict(list)  # "true"/"unrelated" -> distinct inliers of pairs passing every other rule
    votes: dict[str, list[int]] = defaultdict(list)
    true_found = defaultdict(int)
    n_views = 0
    seconds = 0.0
    missing = 0
    for name in SCREENS:
        for group, is_rep in ((queried_rep, True), (queried_dis, False)):
            for pid, src in group:
                path = copy_path(root, name, pid, src)
                if not path.is_file():
                    missing += 1
                    continue
                img = loading.open_image(path, draft_min_side=loading.PDQ_DRAFT_MIN_SIDE)
                rgb = np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
                t0 = time.perf_counter()
                views = regions.screen_regions(rgb)
                feats = [view_features(rgb, b, round_view=k == "circle") for b, k in views]
                found = index.search_many(feats, top=args.top)
                seconds += time.perf_counter() - t0
                n_views += len(views)
                want = ids.get(pid) if is_rep else None
                hit = False
                for f, cands in zip(feats, found):
                    for item, n in cands:
                        v = verify(f, index.features_of(item), min_inliers=1)
                        kind = "true" if item == want else "unrelated"
                        votes[kind].append(n)
                        if v.ok:
                            inliers[kind].append(v.inliers)
                            hit |= kind == "true"
                true_found[name] += hit
    print(f"{n_views} views, {1000 * seconds / max(1, n_views):.1f} ms per view (regions, features, votes); {missing} copies missing")
    print("copies whose true photo passes every rule but the inlier count:", dict(true_found), f"of {len(queried_rep)} each")
    for kind in ("unrelated", "true"):
        a = np.array(inliers[kind] or [0])
        print(f"{kind}: {len(inliers[kind])} pairs pass the other rules; distinct inliers max {a.max()}, "
              f"p99 {np.percentile(a, 99):.0f}, p50 {np.percentile(a, 50):.0f}, histogram {np.bincount(np.minimum(a, 40)).tolist()}")
        b = np.array(votes[kind] or [0])
        print(f"  votes: p50 {np.percentile(b, 50):.0f}, p99 {np.percentile(b, 99):.0f}, max {b.max()} over {len(votes[kind])} pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
