"""What each query-side repair recovers against plain PDQ hashes, and what it costs (issue 14).

The store a StopNCII-style partner holds is one reference PDQ hash per reported photo, so this
measures, for each damaging alteration of the quality benchmark, the smallest PDQ distance from
any view of the copy to its original's reference hash: the plain copy, the regions
(``photomatch.regions.query_regions``), and each repair of ``photomatch.repairs`` applied to the
copy and to its regions. A view "recovers" a copy at distance <= 31 (the PDQ threshold). For
distractor copies (photos not in the list) it gives the smallest distance from any view to ANY
listed hash: how close a false match came.

    python benchmarks/hashonly_experiments.py --images ../shared/data/photos-dev --n 60

Photos are split with a seeded permutation: the first N are listed, the next N are distractors.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # noqa: E402 (run as a script)

from benchmarks.quality import alterations as A  # noqa: E402
from photomatch import regions, repairs  # noqa: E402
from photomatch._accel import kernels  # noqa: E402

DAMAGE = ("text", "sticker", "rotate_5", "crop_90", "collage", "meme")
LOOSE = (40, 44, 48, 56, 64)
VIEWS = ("whole", "regions", "straightened", "uncropped")


def pdq(rgb: np.ndarray) -> bytes:
    bits, _ = kernels.pdq_hash(np.ascontiguousarray(rgb))
    return bytes(bits)


def hamming(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def views_of(rgb: np.ndarray) -> dict[str, list[np.ndarray]]:
    """The copy's views by family; repairs are applied to the copy and to each of its regions."""
    boxes = [box for box, kind in regions.query_regions(rgb) if kind != "whole"]
    out: dict[str, list[np.ndarray]] = {v: [] for v in VIEWS}
    out["whole"].append(rgb)
    out["regions"] += [regions.crop(rgb, b) for b in boxes]
    for base in [rgb] + [regions.crop(rgb, b) for b in boxes[:1]]:
        for name, view in repairs.repair_views(base):
            out[name].append(view)
    return out


def copy_of(alt: str, photo: Image.Image, photo_id: str, fillers: list[Image.Image]) -> np.ndarray:
    out = A.apply(alt, photo, A.rng_for(photo_id, alt, 0), fillers if alt in A.NEEDS_FILLERS else ())
    with Image.open(io.BytesIO(A.encode(alt, out))) as im:
        return np.asarray(im.convert("RGB"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", default="../shared/data/photos-dev")
    p.add_argument("--n", type=int, default=60, help="listed photos, and as many distractors")
    p.add_argument("--alterations", default=",".join(DAMAGE))
    a = p.parse_args()
    paths = sorted(Path(a.images).glob("*.jpg"))
    perm = np.random.default_rng(0).permutation(len(paths))
    listed = [paths[i] for i in perm[: a.n]]
    distractors = [paths[i] for i in perm[a.n : 2 * a.n]]
    photos = {q: A.load_rgb(q) for q in listed + distractors}
    reference = {q: pdq(np.asarray(photos[q])) for q in listed}
    codes = list(reference.values())
    print(f"{a.n} listed photos, {a.n} distractors; recall % at distance <= 31 (median distance); "
          "distractors: smallest distance to any listed hash; ms per copy")
    for alt in a.alterations.split(","):
        best: dict[str, list[int]] = {v: [] for v in VIEWS + ("all",)}
        closest: dict[str, int] = {v: 256 for v in VIEWS + ("all",)}
        secs = 0.0
        for side, group in (("listed", listed), ("distractor", distractors)):
            for q in group:
                fillers = [photos[f] for f in distractors if f != q][:3]
                rgb = copy_of(alt, photos[q], q.name, fillers)
                t0 = time.perf_counter()
                views = views_of(rgb)
                hashes = {v: [pdq(x) for x in xs if min(x.shape[:2]) >= 16] for v, xs in views.items()}
                secs += time.perf_counter() - t0
                hashes["all"] = [h for hs in hashes.values() for h in hs]
                for v, hs in hashes.items():
                    if side == "listed":
                        best[v].append(min((hamming(h, reference[q]) for h in hs), default=256))
                    else:
                        closest[v] = min(closest[v], min((hamming(h, c) for h in hs for c in codes), default=256))
        fam = np.array([best[v] for v in VIEWS])  # families x copies
        srt = np.sort(fam, axis=0)
        agree = {t: 100 * np.mean((srt[0] <= t) & (srt[1] <= 64)) for t in LOOSE}
        print(f"== {alt}   ({1000 * secs / (2 * a.n):.0f} ms per copy, every view); two families agree (best <= t, second <= 64): {agree}")
        for v, ds in best.items():
            d = np.array(ds)
            loose = " ".join(f"{100 * np.mean(d <= t):5.1f}" for t in LOOSE)
            print(f"   {v:17s} {100 * np.mean(d <= 31):5.1f} % ({np.median(d):4.0f})  at {LOOSE}: {loose}   distractors' closest {closest[v]:3d}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
