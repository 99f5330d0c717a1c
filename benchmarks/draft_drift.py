"""How much does the fast JPEG path (``Image.draft``) move the hashes, and how much time does it save?

    python benchmarks/draft_drift.py [--images DIR] [--sides 128,192,256,384,512] [--min-long-side 1000]

For every JPEG of DIR (default: ../shared/data/photos-dev, or $PHOTOMATCH_PHOTOS_DEV) whose long
side is >= --min-long-side, decode it fully and with ``draft_min_side`` = each value of --sides
(photomatch.loading.open_image, EXIF orientation applied in both), hash both decodes with the
references (``pdqhash.compute`` for PDQ, ``imagehash.phash`` for pHash) and print, per side:
the mean / p99 / max Hamming distance between the draft and full-decode hashes, the mean scale
the decoder chose, and the decode CPU time (best of --repeat runs per image, summed over images)
against the full decode, plus the PDQ reference hashing time, which also shrinks with the pixels.

The recommended value is the smallest side (fastest decode) that, like every larger side
measured, meets the targets of issue 2 for PDQ (mean <= 3 bits, p99 <= 8 bits, and since p99
over a few dozen images is the worst image or two, the worst image <= 8 too); for pHash the same
targets scaled to its 64 bits (mean <= 0.75, p99 and worst <= 2). Hashes are compared, never
printed.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

try:
    import imagehash
    import pdqhash
except ImportError as e:  # the references are in the "bench" / "test" extras
    sys.exit(f"draft_drift needs the reference packages pdqhash and imagehash: {e}")

from PIL import Image

from photomatch.loading import open_image

PDQ_TARGET = (3.0, 8.0)  # mean, p99 of 256 bits (issue 2)
PHASH_TARGET = (0.75, 2.0)  # the same fractions of 64 bits


def _default_images() -> Path:
    env = os.environ.get("PHOTOMATCH_PHOTOS_DEV")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "photos-dev"


def _timed_decode(source: Path | bytes, side: int | None, repeat: int) -> tuple[Image.Image, float]:
    # CPU time of this (single-threaded) decode: less disturbed than wall time on a shared machine.
    best = float("inf")
    im = None
    for _ in range(repeat):
        t0 = time.process_time()
        im = open_image(source, draft_min_side=side)
        best = min(best, time.process_time() - t0)
    return im, best


def _synthetic_12mp() -> bytes:
    """A deterministic 4000x3000 baseline JPEG (q90) with photo-like gradients and grain."""
    rng = np.random.default_rng(12)
    small = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-10, 11, size=(3000, 4000, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _pdq_bits(im: Image.Image) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    bits, _quality = pdqhash.compute(np.asarray(im))
    return np.asarray(bits, dtype=bool), time.perf_counter() - t0


def _phash_bits(im: Image.Image) -> np.ndarray:
    return np.asarray(imagehash.phash(im).hash, dtype=bool).ravel()


def _smallest_safe(sides: list[int], ok: list[int]) -> int | None:
    """The smallest side such that it and every larger measured side meet the targets.

    Drift is not monotonic in the side on a few dozen images (one image can flip 2 bits more at
    a larger side); asking every larger side to pass keeps the choice away from a lucky value.
    """
    best = None
    for s in sorted(sides, reverse=True):
        if s not in ok:
            break
        best = s
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=_default_images(), help="folder of JPEGs (default photos-dev)")
    parser.add_argument("--sides", default="128,192,256,384,512", help="draft_min_side values, comma-separated")
    parser.add_argument("--min-long-side", type=int, default=1000, help="only images whose long side is >= this")
    parser.add_argument("--repeat", type=int, default=2, help="decode timing: best of this many runs")
    parser.add_argument("--no-synthetic", dest="synthetic", action="store_false", help="skip the 12 MP timing line")
    parser.add_argument("--limit", type=int, default=0, help="use at most this many images (0 = all)")
    args = parser.parse_args(argv)
    sides = [int(s) for s in args.sides.split(",") if s.strip()]

    if not args.images.is_dir():
        print(f"no such folder: {args.images} (pass --images DIR or set PHOTOMATCH_PHOTOS_DEV)", file=sys.stderr)
        return 2
    paths = []
    for p in sorted(args.images.iterdir()):
        if p.suffix.lower() not in (".jpg", ".jpeg"):
            continue
        with Image.open(p) as im:
            if max(im.size) >= args.min_long_side:
                paths.append(p)
    if args.limit:
        paths = paths[: args.limit]
    if not paths:
        print(f"no JPEG with long side >= {args.min_long_side} in {args.images}", file=sys.stderr)
        return 2

    n = len(paths)
    full_decode = np.zeros(n)
    full_pdq_time = np.zeros(n)
    megapixels = np.zeros(n)
    pdq_dist = {s: np.zeros(n) for s in sides}
    phash_dist = {s: np.zeros(n) for s in sides}
    decode = {s: np.zeros(n) for s in sides}
    pdq_time = {s: np.zeros(n) for s in sides}
    scale = {s: np.zeros(n) for s in sides}
    for i, path in enumerate(paths):
        full, full_decode[i] = _timed_decode(path, None, args.repeat)
        megapixels[i] = full.width * full.height / 1e6
        pdq_full, full_pdq_time[i] = _pdq_bits(full)
        phash_full = _phash_bits(full)
        for s in sides:
            draft, decode[s][i] = _timed_decode(path, s, args.repeat)
            scale[s][i] = full.width / draft.width
            bits, pdq_time[s][i] = _pdq_bits(draft)
            pdq_dist[s][i] = np.count_nonzero(bits != pdq_full)
            phash_dist[s][i] = np.count_nonzero(_phash_bits(draft) != phash_full)
        print(f"\r{i + 1}/{n} images", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    print(f"# {n} JPEGs of {args.images} with long side >= {args.min_long_side} px")
    print(f"# {megapixels.sum():.1f} megapixels in all, median {np.median(megapixels):.2f} MP per image")
    print(
        f"# full decode: {full_decode.sum() * 1e3:.0f} ms in all; pdqhash.compute on it: {full_pdq_time.sum() * 1e3:.0f} ms"
    )
    print("# distances in bits against the full decode; *_red = over the images the draft actually reduced")
    header = (
        "draft_min_side  reduced  mean_scale  decode_ms  saving  pdq_ms  "
        "pdq_mean  pdq_p99  pdq_max  pdq_mean_red  phash_mean  phash_p99  phash_max  phash_mean_red"
    )
    print(header)
    ok_pdq, ok_phash = [], []
    for s in sides:
        saving = 1.0 - decode[s].sum() / full_decode.sum()
        reduced = scale[s] > 1.0
        pm, pp, px = pdq_dist[s].mean(), np.percentile(pdq_dist[s], 99), pdq_dist[s].max()
        hm, hp, hx = phash_dist[s].mean(), np.percentile(phash_dist[s], 99), phash_dist[s].max()
        pr = pdq_dist[s][reduced].mean() if reduced.any() else 0.0
        hr = phash_dist[s][reduced].mean() if reduced.any() else 0.0
        print(
            f"{s:14d}  {reduced.sum():7d}  {scale[s].mean():10.2f}  {decode[s].sum() * 1e3:9.0f}  {saving:6.0%}  "
            f"{pdq_time[s].sum() * 1e3:6.0f}  {pm:8.2f}  {pp:7.2f}  {px:7.0f}  {pr:12.2f}  "
            f"{hm:10.2f}  {hp:9.2f}  {hx:9.0f}  {hr:14.2f}"
        )
        # With a few dozen images the p99 is set by the one or two worst: require the worst
        # image within the p99 target as well.
        if pm <= PDQ_TARGET[0] and pp <= PDQ_TARGET[1] and px <= PDQ_TARGET[1]:
            ok_pdq.append(s)
        if hm <= PHASH_TARGET[0] and hp <= PHASH_TARGET[1] and hx <= PHASH_TARGET[1]:
            ok_phash.append(s)
    print(f"# PDQ target mean <= {PDQ_TARGET[0]}, p99 and max <= {PDQ_TARGET[1]} bits: met for {ok_pdq or 'none'}")
    print(f"# pHash target mean <= {PHASH_TARGET[0]}, p99 and max <= {PHASH_TARGET[1]} bits: met for {ok_phash or 'none'}")
    if args.synthetic:
        data = _synthetic_12mp()
        _, t_full = _timed_decode(data, None, args.repeat)
        cells = []
        for scale_side in (None, 1500, 750, 375):  # 1/1, 1/2, 1/4, 1/8 of 4000x3000
            im, t = _timed_decode(data, scale_side, args.repeat)
            cells.append(f"{im.width}x{im.height} {t * 1e3:.0f} ms ({t / t_full:.0%})")
        print("# synthetic 12 MP baseline JPEG q90, decode CPU time: " + ", ".join(cells))
    print(f"# recommended PDQ_DRAFT_MIN_SIDE = {_smallest_safe(sides, ok_pdq)}")
    print(f"# recommended PHASH_DRAFT_MIN_SIDE = {_smallest_safe(sides, ok_phash)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
