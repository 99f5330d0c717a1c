"""Region matching experiments: recall and false matches of whole PDQ, region hashes, regions +
verification, and local-feature retrieval + verification, on altered copies of photos-dev.

Usage (from the repository root, with photomatch installed)::

    python -m benchmarks.region_experiments --reported 50 --distractors 100

The looser region distance (``--loose``) and the retrieval candidates verified (``--top``) default
to the matcher's own (``CANDIDATE_THRESHOLD``, ``FEATURE_CANDIDATES``). Figures and the command
that produced them are in ``benchmarks/README.md``.

Reported and distractor photos are chosen by a seeded shuffle of photos-dev; each alteration is
applied to every reported photo (recall) and every distractor (false matches: a distractor copy
that matches any reported item). Alterations are generated here (seeded) so the script does not
depend on the quality benchmark.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.photos import PHOTOS_DEV_HINT, photos_dev
from photomatch import _accel
from photomatch._codes import hamming as _hamming
from photomatch.features import FeatureIndex
from photomatch.matcher import CANDIDATE_THRESHOLD, FEATURE_CANDIDATES
from photomatch.regions import crop, query_regions, reported_regions
from photomatch.verify import extract_features, verify, verify_region


def pdq(rgb: np.ndarray) -> np.ndarray:
    """Packed PDQ bits (32 bytes) from photomatch's kernels."""
    h, _q = _accel.kernels.pdq_hash(np.ascontiguousarray(rgb))
    return np.frombuffer(h, np.uint8)


def hamming(q: np.ndarray, db: list[np.ndarray]) -> np.ndarray:
    return _hamming(np.asarray(db, np.uint8), q)


def load(path: Path, max_side: int = 1024) -> np.ndarray:
    im = Image.open(path)
    im.draft("RGB", (max_side, max_side))
    im = im.convert("RGB")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(im)


def jpeg(rgb: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


# --- alterations (rng: numpy Generator; others: distractor photos for collages) ---------------


def alt_jpeg30(rgb, rng, others):
    return jpeg(rgb, 30)


def alt_resize_half(rgb, rng, others):
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def _crop_area(rgb, rng, frac):
    h, w = rgb.shape[:2]
    s = np.sqrt(frac)
    cw, ch = round(w * s), round(h * s)
    x = int(rng.integers(0, w - cw + 1))
    y = int(rng.integers(0, h - ch + 1))
    return rgb[y : y + ch, x : x + cw].copy()


def alt_crop90(rgb, rng, others):
    return _crop_area(rgb, rng, 0.9)


def alt_crop70(rgb, rng, others):
    return _crop_area(rgb, rng, 0.7)


def alt_crop50(rgb, rng, others):
    return _crop_area(rgb, rng, 0.5)


def alt_border(rgb, rng, others):
    h, w = rgb.shape[:2]
    colour = [(0, 0, 0), (255, 255, 255), tuple(int(c) for c in rng.integers(0, 256, 3))][int(rng.integers(0, 3))]
    if rng.random() < 0.5:  # letterbox: bars above and below
        pad = int(h * rng.uniform(0.15, 0.4))
        out = cv2.copyMakeBorder(rgb, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=colour)
    else:  # pillarbox / frame
        pad = int(w * rng.uniform(0.1, 0.3))
        out = cv2.copyMakeBorder(rgb, pad // 3, pad // 3, pad, pad, cv2.BORDER_CONSTANT, value=colour)
    return jpeg(out, 80)


def alt_screenshot(rgb, rng, others):
    cw, ch = 720, 1280
    bg = (255, 255, 255) if rng.random() < 0.6 else (24, 24, 28)
    fg = (20, 20, 20) if bg[0] > 128 else (230, 230, 230)
    canvas = np.full((ch, cw, 3), bg, np.uint8)
    bar = tuple(int(c) for c in rng.integers(0, 256, 3))
    canvas[:110] = bar
    cv2.putText(canvas, "Photos", (30, 75), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    cv2.circle(canvas, (70, 180), 40, tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
    cv2.putText(canvas, "Jane Doe", (130, 195), cv2.FONT_HERSHEY_SIMPLEX, 1.1, fg, 2)
    h, w = rgb.shape[:2]
    pw = int(cw * rng.uniform(0.55, 1.0))
    ph = round(h * pw / w)
    if ph > 800:
        ph = 800
        pw = round(w * ph / h)
    x = int(rng.integers(0, cw - pw + 1))
    y = int(rng.integers(240, 240 + max(1, 1000 - ph - 240) + 1)) if ph < 760 else 240
    canvas[y : y + ph, x : x + pw] = cv2.resize(rgb, (pw, ph), interpolation=cv2.INTER_AREA)
    ty = y + ph + 50
    while ty < ch - 20:
        cv2.putText(canvas, "lorem ipsum dolor sit amet consectetur", (30, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.9, fg, 2)
        ty += 45
    return jpeg(canvas, 85)


def alt_collage(rgb, rng, others):
    cw, ch = 400, 300
    gutter = 0 if rng.random() < 0.5 else 8
    canvas = np.full((2 * ch + gutter, 2 * cw + gutter, 3), 255, np.uint8)
    pick = rng.choice(len(others), 3, replace=False)
    cells = [rgb] + [others[i] for i in pick]
    order = rng.permutation(4)
    for k, pos in enumerate(order):
        cx = (pos % 2) * (cw + gutter)
        cy = (pos // 2) * (ch + gutter)
        canvas[cy : cy + ch, cx : cx + cw] = cv2.resize(cells[k], (cw, ch), interpolation=cv2.INTER_AREA)
    return jpeg(canvas, 85)


def alt_rot5(rgb, rng, others):
    angle = 5.0 if rng.random() < 0.5 else -5.0
    return np.asarray(Image.fromarray(rgb).rotate(angle, resample=Image.Resampling.BILINEAR))


def alt_text(rgb, rng, others):
    out = rgb.copy()
    h, w = out.shape[:2]
    scale = w / 500
    for k in range(3):
        y = int(h * (0.25 + 0.25 * k))
        cv2.putText(out, "SHARE THIS NOW!!", (int(w * 0.05), y), cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, (255, 255, 255), max(1, int(3 * scale)))
    return out


OWN_ALTERATIONS = {
    "jpeg30": alt_jpeg30,
    "resize_half": alt_resize_half,
    "crop90": alt_crop90,
    "crop70": alt_crop70,
    "crop50": alt_crop50,
    "border": alt_border,
    "screenshot": alt_screenshot,
    "collage": alt_collage,
    "rot5": alt_rot5,
    "text": alt_text,
}


QUALITY_DEFAULT = "jpeg_q30,resize_0.5,crop_90,crop_70,crop_50,border,screenshot,collage,rotate_5,text,stretch_w1.3"


def make_altered(source: str, name: str, rgb: np.ndarray, pid: str, seed: int, fillers: list[np.ndarray]) -> np.ndarray:
    """One altered copy, decoded from its saved JPEG (as the quality benchmark makes it)."""
    if source == "own":
        rng = np.random.default_rng(list(hashlib.sha256(f"{seed}{name}{pid}".encode()).digest()[:8]))
        return OWN_ALTERATIONS[name](rgb, rng, fillers)
    from benchmarks.quality import alterations as qa

    fill = [Image.fromarray(f) for f in fillers] if name in qa.NEEDS_FILLERS else []
    out = qa.apply(name, Image.fromarray(rgb), qa.rng_for(pid, name, seed), fill)
    data = np.frombuffer(qa.encode(name, out), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, default=photos_dev(), help="photos-dev (default: found as the benchmarks do)")
    p.add_argument("--reported", type=int, default=50)
    p.add_argument("--distractors", type=int, default=100)
    p.add_argument("--source", choices=("quality", "own"), default="quality",
                   help="alterations of benchmarks/quality (default) or this script's own")
    p.add_argument("--alterations", default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--strict", type=int, default=31, help="region hash distance accepted without verification")
    p.add_argument("--loose", type=int, default=CANDIDATE_THRESHOLD,
                   help="region hash distance accepted with verification (default: the matcher's)")
    p.add_argument("--crops", default="", help="reported-side centre crop fractions, e.g. 0.8,0.65")
    p.add_argument("--windows", type=int, default=0, help="reported-side window grid (0: none)")
    p.add_argument("--max-regions", type=int, default=12)
    p.add_argument("--top", type=int, default=FEATURE_CANDIDATES,
                   help="retrieval candidates verified (default: the matcher's)")
    p.add_argument("--filler", type=int, default=0, help="extra photos-dev images added to the store (index size)")
    args = p.parse_args(argv)
    if args.photos is None or not args.photos.is_dir():
        print(f"photos-dev not found: pass --photos DIR, or {PHOTOS_DEV_HINT}", file=sys.stderr)
        return 2
    # Single-threaded CPU time per stage: the budget is ~50 ms per query on one core.
    cv2.setNumThreads(1)
    import faiss

    faiss.omp_set_num_threads(1)

    paths = sorted(args.photos.glob("*.jpg"))
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(paths))
    rep_paths = [paths[i] for i in order[: args.reported]]
    dis_paths = [paths[i] for i in order[args.reported : args.reported + args.distractors]]
    reported = [load(q) for q in rep_paths]
    distract = [load(q) for q in dis_paths]
    crops = tuple(float(c) for c in args.crops.split(",") if c)

    # Store: region hashes (item, kind) and features.
    t0 = time.process_time()
    whole_db, reg_db, reg_item = [], [], []
    findex = FeatureIndex()
    for i, rgb in enumerate(reported):
        for box, kind in reported_regions(rgb, crops=crops, windows=args.windows):
            h = pdq(crop(rgb, box))
            reg_db.append(h)
            reg_item.append(i)
            if kind == "whole":
                whole_db.append(h)
        findex.add(i, extract_features(rgb))
    # Filler items grow the store towards 1000 without adding true matches: mirror images of every
    # photo (a reflection is not a similarity, and PDQ of a mirror image is unrelated).
    if args.filler:
        for k in range(args.filler):
            src = load(paths[k % len(paths)], 1024)
            src = src[:, ::-1] if k < len(paths) else src[::-1]
            src = np.ascontiguousarray(src)
            item = 100_000 + k
            for box, kind in reported_regions(src, crops=crops, windows=args.windows):
                h = pdq(crop(src, box))
                reg_db.append(h)
                reg_item.append(item)
                if kind == "whole":
                    whole_db.append(h)
            findex.add(item, extract_features(src))
    whole_db = np.array(whole_db)
    reg_db = np.array(reg_db)
    reg_item = np.array(reg_item)
    print(f"store: {len(reported)} reported, {len(reg_db)} region hashes, built in {time.process_time() - t0:.1f}s", file=sys.stderr)

    if args.alterations is None:
        args.alterations = QUALITY_DEFAULT if args.source == "quality" else ",".join(OWN_ALTERATIONS)
    alts = [a for a in args.alterations.split(",") if a]
    systems = ["whole", "regions", "regions+verify", "retrieval+verify", "combined"]
    rows = []
    times = {k: [] for k in ("regions", "hash", "features", "retrieval", "verify")}
    nregions = []
    inl_right: list[int] = []
    inl_wrong: list[int] = []
    for alt in alts:
        hits = {s: 0 for s in systems}
        falses = {s: 0 for s in systems}
        for group, imgs in (("rep", reported), ("dis", distract)):
            for i, rgb in enumerate(imgs):
                pid = f"{group}{i}"
                frng = np.random.default_rng(list(hashlib.sha256(f"fill{pid}".encode()).digest()[:8]))
                pool = [k for k in range(len(distract)) if not (group == "dis" and k == i)]
                fillers = [distract[k] for k in frng.choice(pool, 3, replace=False)]
                q = make_altered(args.source, alt, rgb, pid, args.seed, fillers)
                # (a) whole
                t = time.process_time()
                regs = query_regions(q, max_regions=args.max_regions)
                times["regions"].append(time.process_time() - t)
                nregions.append(len(regs))
                t = time.process_time()
                hs = [pdq(crop(q, b)) for b, _ in regs]
                times["hash"].append(time.process_time() - t)
                dw = hamming(hs[0], whole_db)
                found = {s: set() for s in systems}
                found["whole"] = set(np.flatnonzero(dw <= args.strict).tolist())
                # (b) region hashes at the strict threshold; (c) loose + verification
                loose: dict[int, tuple[int, tuple]] = {}
                for h, (box, _kind) in zip(hs, regs):
                    d = hamming(h, reg_db)
                    for j in np.flatnonzero(d <= args.strict):
                        found["regions"].add(int(reg_item[j]))
                    for j in np.flatnonzero(d <= args.loose):
                        it = int(reg_item[j])
                        if int(d[j]) < loose.get(it, (999, None))[0]:
                            loose[it] = (int(d[j]), box)
                t = time.process_time()
                qf = extract_features(q)
                times["features"].append(time.process_time() - t)
                t = time.process_time()
                cands = findex.search(qf, top=args.top)
                times["retrieval"].append(time.process_time() - t)
                t = time.process_time()
                def check(it: int, box: tuple | None = None) -> bool:
                    if box is None or box == regs[0][0]:
                        v = verify(qf, findex.features_of(it))
                    else:  # the region that hashed close: verify it alone (its own keypoints)
                        v = verify_region(q, box, findex.features_of(it))
                    right = group == "rep" and it == i
                    (inl_right if right else inl_wrong).append(v.inliers)
                    return v.ok

                for it, (dist, box) in loose.items():
                    if dist <= args.strict or check(it, box):
                        found["regions+verify"].add(it)
                for it, _v in cands:
                    if check(it):
                        found["retrieval+verify"].add(it)
                times["verify"].append(time.process_time() - t)
                found["combined"] = found["regions+verify"] | found["retrieval+verify"]
                for s in systems:
                    if group == "rep":
                        hits[s] += i in found[s]
                        # A wrong reported item matched for a reported query is a false match too.
                        falses[s] += len(found[s] - {i}) > 0
                    else:
                        falses[s] += len(found[s]) > 0
        n_rep, n_all = len(reported), len(reported) + len(distract)
        row = {"alteration": alt}
        for s in systems:
            row[s] = f"{100 * hits[s] / n_rep:.0f}% ({falses[s]}F)"
        rows.append(row)
        print(" | ".join(f"{v}" for v in row.values()), file=sys.stderr)

    print(f"\nreported={len(reported)} distractors={len(distract)} strict={args.strict} loose={args.loose} "
          f"crops={crops} windows={args.windows} max_regions={args.max_regions} top={args.top}")
    print("recall % (false matches over reported+distractor copies)\n")
    print("| alteration | " + " | ".join(systems) + " |")
    print("|" + "---|" * (len(systems) + 1))
    for row in rows:
        print("| " + " | ".join(row.values()) + " |")
    print("\nmean CPU ms per query (one thread): " + ", ".join(f"{k} {1000 * np.mean(v):.1f}" for k, v in times.items()))
    print("verification inliers: wrong items max %d, 99.9th pct %.0f (n=%d); right items median %.0f, 5th pct %.0f (n=%d)" % (
        max(inl_wrong, default=0), np.percentile(inl_wrong, 99.9) if inl_wrong else 0, len(inl_wrong),
        np.median(inl_right) if inl_right else 0, np.percentile(inl_right, 5) if inl_right else 0, len(inl_right)))
    print(f"regions per query: mean {np.mean(nregions):.1f}, max {max(nregions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
