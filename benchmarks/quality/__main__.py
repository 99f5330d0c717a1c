"""CLI: ``python -m benchmarks.quality --images DIR --out OUTDIR`` (see the package docstring)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import alterations as alt
from . import report
from .runner import Config, run
from .systems import SYSTEM_NAMES


def _names(value: str) -> list[str]:
    return [v for v in value.replace(",", " ").split() if v]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.quality",
        description="Recall and false-match rate of photomatch and its peers on altered copies of a folder of photos.",
    )
    p.add_argument("--images", required=True, type=Path, help="folder of photos (searched recursively)")
    p.add_argument("--out", required=True, type=Path, help="folder for results.json, results.md, recall.png and the cache")
    p.add_argument("--reported", type=int, default=150, help="photos reported (the rest are distractors); default 150")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of the alterations; default 0")
    p.add_argument("--systems", nargs="+", type=_names, default=[list(SYSTEM_NAMES)], help=f"names, comma- or space-separated; default all: {','.join(SYSTEM_NAMES)}")
    p.add_argument("--alterations", nargs="+", type=_names, default=[list(alt.ALTERATIONS)], help=f"subset, comma- or space-separated; default all: {','.join(alt.ALTERATIONS)}")
    p.add_argument("--limit-reported", type=int, default=None, help="query only the first N reported photos (quick runs; the index holds them only)")
    p.add_argument("--limit-distractors", type=int, default=None, help="query only the first N distractors (quick runs)")
    p.add_argument("--workers", type=int, default=2, help="processes for altered copies and peer hashing; default 2")
    p.add_argument(
        "--sample-slow",
        type=int,
        default=20,
        help="slow systems (imagehash-crop-resistant, ~0.5 s per image) run on the copies of N reported and N distractor photos (a seeded draw, the same for every alteration); 0 skips them, -1 runs all; default 20",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    for flag in ("limit_reported", "limit_distractors"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            p.error(f"--{flag.replace('_', '-')} {v}: must be at least 1")
    if args.workers < 1:
        p.error(f"--workers {args.workers}: must be at least 1")
    cfg = Config(
        images=args.images,
        out=args.out,
        reported=args.reported,
        seed=args.seed,
        systems=[n for group in args.systems for n in group],
        alterations=[n for group in args.alterations for n in group],
        limit_reported=args.limit_reported,
        limit_distractors=args.limit_distractors,
        workers=args.workers,
        sample_slow=args.sample_slow,
        progress=not args.quiet,
        command="python -m benchmarks.quality " + shlex.join(sys.argv[1:] if argv is None else list(argv)),
    )
    t0 = time.perf_counter()
    try:
        result = run(cfg)
    except ValueError as exc:
        p.error(str(exc))
    summary = report.write(result, args.out)
    print(report.markdown(summary))
    print(f"wrote {args.out}/results.json, results.md, recall.png, queries.jsonl in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
