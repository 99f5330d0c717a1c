"""Video quality: reported photos found in videos made from photos-dev, and vPDQ video matches.

    python -m benchmarks.quality_video [--limit 30] [--photos DIR] [--samplers every,luma,keyframes]
                                       [--cases slideshow,fast,screen,low,trimmed,unrelated,vpdq] [--out DIR]

The photos (photos-dev unless ``--photos``) are shuffled (seed 0): the first ``--limit`` are
reported (stored with features), the next ``--limit`` make the unrelated videos. Cases, each
H.264 (x264 defaults, so its own keyframe placement) made here with PyAV:

- slideshow: 10 photos per 1280x720 video, 2 s each with 0.5 s cross-fades;
- fast: the same photos in 1280x720 videos of hard cuts, 0.7 s each (shorter than the
  once-a-second sampling: what the scene-change sampling is for);
- screen: one 720x1280 "phone screen recording" per photo: status and navigation bars, a
  caption, the photo scrolling up into view, resting, scrolling out;
- low: each slideshow re-encoded at half resolution and a low bitrate (crf 38);
- trimmed: the middle half of each slideshow, re-encoded at crf 30 (the photos it still shows
  fully for a second or more, in its own time);
- unrelated: slideshows of the other photos (any match is a false match).

``--cases`` runs some of them (and ``vpdq``, the video-to-video part) only.

Recall counts a reported photo found in its video with a time span overlapping the seconds it is
fully shown. Every video is matched once per sampler (``--samplers``): ``every`` (one frame a
second only), ``luma`` (plus photomatch's scene changes on the decoded luma: the default) and
``keyframes`` (plus the encoder's keyframes); each sampler's recall, false matches, frames
sampled, frames searched (the rest were nearly identical to the sample before and took its
answer) and matching seconds are reported side by side. The recall figures of the cases are
the default sampler's. The peer is per-frame ``pdqhash`` on the frames the default sampler
takes, against the reported photos' ``pdqhash``, at distance 31. vPDQ video-to-video: the
slideshows are stored as reported videos; their trimmed copies (the middle half, re-encoded)
must match them, and the unrelated slideshows must not; per-frame ``pdqhash`` of the same
vPDQ frames (one a second) under the same rule is the peer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction

import av
import cv2
import numpy as np

from photomatch.hashing import Hash
from photomatch.matcher import Matcher
from photomatch.video import VideoReader
from photomatch.videomatch import VideoOptions
from photomatch.vpdq import VideoHash, VpdqFeature
from photomatch.vpdq import match as vpdq_match

from .photos import PHOTOS_DEV_HINT, photos_dev

FPS = 10


def _load(folder: str, limit: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    order = np.random.default_rng(0).permutation(len(names))
    pics = []
    for i in order[: 2 * limit]:
        im = cv2.imread(os.path.join(folder, names[i]), cv2.IMREAD_COLOR)
        scale = 1024 / max(im.shape[:2])
        pics.append(cv2.cvtColor(cv2.resize(im, None, fx=min(1.0, scale), fy=min(1.0, scale),
                                            interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    return pics[:limit], pics[limit:]


def _fit(pic: np.ndarray, w: int, h: int) -> np.ndarray:
    s = min(w / pic.shape[1], h / pic.shape[0])
    small = cv2.resize(pic, (max(2, round(pic.shape[1] * s)), max(2, round(pic.shape[0] * s))),
                       interpolation=cv2.INTER_AREA)
    board = np.zeros((h, w, 3), np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    board[y : y + small.shape[0], x : x + small.shape[1]] = small
    return board


def _write(path: str, frames, w: int, h: int, crf: int = 23) -> None:
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=Fraction(FPS))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "veryfast", "crf": str(crf)}
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        c.mux(s.encode())


def slideshow(path: str, pics: list[np.ndarray], w: int = 1280, h: int = 720, crf: int = 23, *,
              hold: float = 2.0, fade: float = 0.5) -> list[tuple[float, float]]:
    """Writes the slideshow (each photo ``hold`` s, then a ``fade`` s cross-fade into the next);
    returns each photo's fully shown interval (s)."""
    boards = [_fit(p, w, h) for p in pics]
    shown, frames = [], []
    hold, fade = round(hold * FPS), round(fade * FPS)
    for i, b in enumerate(boards):
        start = len(frames) / FPS
        frames += [b] * hold
        shown.append((start, len(frames) / FPS))
        if i + 1 < len(boards):
            frames += [((1 - a) * b + a * boards[i + 1]).astype(np.uint8)
                       for a in (np.arange(1, fade + 1) / (fade + 1))]
    _write(path, frames, w, h, crf)
    return shown


def screen(path: str, pic: np.ndarray, w: int = 720, h: int = 1280) -> tuple[float, float]:
    """A phone screen recording: bars, a caption, the photo scrolling in, resting, scrolling out."""
    content_w = w - 40
    ph = round(pic.shape[0] * content_w / pic.shape[1])
    photo = cv2.resize(pic, (content_w, ph), interpolation=cv2.INTER_AREA)
    page_h = h + ph + 600
    page = np.full((page_h, w, 3), 245, np.uint8)
    rng = np.random.default_rng(ph)
    for y in range(300, page_h - 100, 46):  # lines of "text" above and below the photo
        page[y : y + 14, 20 : 20 + int(rng.integers(200, w - 40))] = 90
    top = h // 2 + 200
    page[top : top + ph, 20 : 20 + content_w] = photo
    frames, shown = [], None
    rest = top + ph // 2 - h // 2  # the scroll offset that centres the photo
    offsets = list(np.linspace(0, rest, 2 * FPS)) + [rest] * (2 * FPS) + list(np.linspace(rest, page_h - h, 2 * FPS))
    for i, off in enumerate(offsets):
        off = int(off)
        f = page[off : off + h].copy()
        f[:60] = (30, 30, 30)  # status bar
        f[-110:] = (20, 20, 20)  # navigation bar
        f[-80:-30, w // 2 - 25 : w // 2 + 25] = 200
        frames.append(f)
        inside = off + 60 <= top and top + ph <= off + h - 110
        if inside:
            shown = (shown[0] if shown else i / FPS, (i + 1) / FPS)
    _write(path, frames, w, h)
    return shown or (2.0, 4.0)


def trimmed(src: str, dst: str) -> tuple[float, float]:
    """Writes the middle half of ``src`` re-encoded at crf 30; returns the seconds of ``src`` it keeps."""
    with VideoReader(src) as v:
        n = int(v.info.frames or 0)
        frames = [v.rgb(f, rotate=False)[0] for k, f in v.decoded() if n // 4 <= k < 3 * n // 4]
    _write(dst, frames, frames[0].shape[1], frames[0].shape[0], crf=30)
    return (n // 4) / FPS, (3 * n // 4) / FPS


def within(shown: dict[int, tuple[float, float]], window: tuple[float, float],
           least: float = 1.0) -> dict[int, tuple[float, float]]:
    """The photos a trimmed copy still shows fully for ``least`` seconds (one sampling period),
    with their intervals in the copy's own time."""
    t0, t1 = window
    out = {}
    for i, (a, b) in shown.items():
        a, b = max(a, t0), min(b, t1)
        if b - a >= least - 1e-9:
            out[i] = (round(a - t0, 6), round(b - t0, 6))
    return out


def low(src: str, dst: str) -> None:
    with VideoReader(src) as v:
        frames = [v.rgb(f, rotate=False, max_side=640)[0] for _, f in v.decoded()]
    _write(dst, frames, frames[0].shape[1], frames[0].shape[0], crf=38)


def _overlaps(spans, interval) -> bool:
    a, b = interval
    return any(s < b and e > a for s, e in spans)


def pdqhash_peer(path: str, reported_codes: np.ndarray) -> dict[int, list[float]]:
    """Per-frame pdqhash on the same sampled frames: reported index -> sample times it matched."""
    import pdqhash

    hits: dict[int, list[float]] = {}
    with VideoReader(path) as v:
        for f in v.sample(max_side=1280):
            bits, _q = pdqhash.compute(np.ascontiguousarray(f.pixels))
            code = np.packbits(bits.astype(np.uint8))
            d = np.unpackbits(reported_codes ^ code, axis=1).sum(axis=1)
            for i in np.flatnonzero(d <= 31):
                hits.setdefault(int(i), []).append(f.time)
    return hits


CASES = ("slideshow", "fast", "screen", "low", "trimmed", "unrelated", "vpdq")
"""Photo cases (recall), unrelated videos (false matches), and vPDQ video-to-video."""

SAMPLERS = {
    "every": VideoOptions(scene_changes=False),
    "luma": VideoOptions(),  # the default
    "keyframes": VideoOptions(scene_changes=False, keyframes=True),
}
DEFAULT_SAMPLER = "luma"


def pdq_vpdq_peer(path: str) -> VideoHash:
    """vPDQ's frames (one a second, full size, no rotation) hashed by ``pdqhash`` instead."""
    import pdqhash

    out = []
    with VideoReader(path) as v:
        period = max(1, int(v.info.fps))
        for n, frame in v.decoded():
            if n % period == 0:
                bits, q = pdqhash.compute(v.rgb(frame, rotate=False)[0])
                h = Hash("pdq", np.packbits(bits.astype(np.uint8)).tobytes(), int(q))
                out.append(VpdqFeature(n, h, n / v.info.fps))
    return VideoHash(tuple(out))


def _sampler_row() -> dict[str, float]:
    return {"found": 0, "shown": 0, "frames": 0, "searched": 0, "seconds": 0.0, "videos": 0, "false": 0}


def run(photos: str, limit: int, out: str, samplers: list[str], cases: tuple[str, ...] = CASES) -> dict:
    """Makes the videos in ``out``, matches them, and returns the report (see the module doc)."""
    reported, other = _load(photos, limit)
    import pdqhash

    reported_codes = np.stack([np.packbits(pdqhash.compute(r)[0].astype(np.uint8)) for r in reported])
    store = os.path.join(out, "store.db")
    for suffix in ("", "-wal", "-shm", ".pdq.index", ".vpdq.index", ".features.index"):
        if os.path.exists(store + suffix):
            os.unlink(store + suffix)
    truth: dict[str, dict[int, tuple[float, float]]] = {}
    shows = []  # the slideshows: a case, the source of the low and trimmed copies, the reported videos
    for k in range(0, len(reported), 10):
        path = os.path.join(out, f"slideshow_{k:03d}.mp4")
        shown = dict(zip(range(k, k + 10), slideshow(path, reported[k : k + 10])))
        shows.append(path)
        if "slideshow" in cases:
            truth[path] = shown
        if "fast" in cases:
            fast_path = os.path.join(out, f"fast_{k:03d}.mp4")
            truth[fast_path] = dict(zip(range(k, k + 10), slideshow(fast_path, reported[k : k + 10], hold=0.7, fade=0)))
        if "low" in cases:
            low_path = os.path.join(out, f"low_{k:03d}.mp4")
            low(path, low_path)
            truth[low_path] = shown
        if "trimmed" in cases or "vpdq" in cases:
            window = trimmed(path, path.replace("slideshow_", "trimmed_"))
            if "trimmed" in cases:
                truth[path.replace("slideshow_", "trimmed_")] = within(shown, window)
    if "screen" in cases:
        for i, pic in enumerate(reported):
            path = os.path.join(out, f"screen_{i:03d}.mp4")
            truth[path] = {i: screen(path, pic)}
    unrelated = []
    for k in range(0, len(other), 10) if {"unrelated", "vpdq"} & set(cases) else ():
        path = os.path.join(out, f"unrelated_{k:03d}.mp4")
        slideshow(path, other[k : k + 10])
        unrelated.append(path)
    results: dict[str, dict[str, list[int]]] = {}
    by_sampler: dict[str, dict[str, dict[str, float]]] = {}
    false = {name: 0 for name in ("photomatch", "pdqhash", *samplers)}
    false["videos"] = len(unrelated) if "unrelated" in cases else 0
    with Matcher(store) as m:
        ids = m.add(reported, label="photo", features=True)
        index_of = {item: i for i, item in enumerate(ids)}
        video_ids = {m.add([p], label=os.path.basename(p))[0]: p for p in shows}

        def matched(path: str, sampler: str) -> dict[int, tuple]:
            """Reported photo index -> its time spans, with the sampler's frames and seconds counted."""
            case = os.path.basename(path).split("_")[0]
            row = by_sampler.setdefault(case, {}).setdefault(sampler, _sampler_row())
            t0 = time.perf_counter()
            [r] = m.match_many([path], video_options=SAMPLERS[sampler])
            row["seconds"] += time.perf_counter() - t0
            if r.error is not None:
                raise RuntimeError(f"{path}: {r.error}")
            row["frames"] += r.video.frames
            row["searched"] += r.video.searched
            row["videos"] += 1
            return {index_of[x.id]: x.time or () for x in r.matches if x.algorithm != "vpdq" and x.id in index_of}

        for path, want in sorted(truth.items()):
            case = os.path.basename(path).split("_")[0]
            for sampler in samplers:
                found = matched(path, sampler)
                row = by_sampler[case][sampler]
                row["shown"] += len(want)
                row["found"] += sum(i in found and _overlaps(found[i], iv) for i, iv in want.items())
                if sampler == DEFAULT_SAMPLER:
                    r = results.setdefault(case, {"photomatch": [0, 0], "pdqhash": [0, 0]})
                    peer = pdqhash_peer(path, reported_codes)
                    for i, interval in want.items():
                        r["photomatch"][0] += bool(i in found and _overlaps(found[i], interval))
                        r["pdqhash"][0] += bool(i in peer and any(interval[0] <= t < interval[1] for t in peer[i]))
                        r["photomatch"][1] += 1
                        r["pdqhash"][1] += 1
        for path in unrelated if "unrelated" in cases else ():
            for sampler in samplers:
                hit = bool(matched(path, sampler))
                false[sampler] += hit
                by_sampler["unrelated"][sampler]["false"] += hit
                if sampler == DEFAULT_SAMPLER:
                    false["photomatch"] += hit
            false["pdqhash"] += bool(pdqhash_peer(path, reported_codes))
        vpdq_recall = {"photomatch": [0, 0], "pdqhash": [0, 0], "unrelated_matched": {"photomatch": 0, "pdqhash": 0}}
        peers = {item: pdq_vpdq_peer(path) for item, path in video_ids.items()} if "vpdq" in cases else {}
        for item, path in video_ids.items() if peers else ():
            cut = path.replace("slideshow_", "trimmed_")
            got = [x.id for x in m.match(cut) if x.algorithm == "vpdq"]
            vpdq_recall["photomatch"][0] += got == [item]
            cut_peer = pdq_vpdq_peer(cut)
            vpdq_recall["pdqhash"][0] += [i for i, h in peers.items() if vpdq_match(cut_peer, h).matched] == [item]
            vpdq_recall["photomatch"][1] += 1
            vpdq_recall["pdqhash"][1] += 1
        for path in unrelated if peers else ():
            vpdq_recall["unrelated_matched"]["photomatch"] += any(x.algorithm == "vpdq" for x in m.match(path))
            q = pdq_vpdq_peer(path)
            vpdq_recall["unrelated_matched"]["pdqhash"] += any(vpdq_match(q, h).matched for h in peers.values())
    samples = {case: {name: {**({"false_matches": int(r["false"])} if case == "unrelated"
                                else {"recall_percent": round(100 * r["found"] / r["shown"], 1) if r["shown"] else None}),
                             "frames": int(r["frames"]), "searched": int(r["searched"]),
                             "seconds": round(r["seconds"], 1),
                             "frames_per_video": round(r["frames"] / max(1, r["videos"]), 1)}
                      for name, r in rows.items()}
               for case, rows in by_sampler.items()}
    return {
        "limit": limit,
        "cases": list(cases),
        "recall_percent": {case: {k: round(100 * a / b, 1) if b else None for k, (a, b) in r.items()}
                           for case, r in results.items()},
        "counts": results,
        "false_matches_unrelated_videos": false,
        "samplers": samples,
        "vpdq_trimmed_copies_matched": vpdq_recall,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--photos", default=None, help="a folder of photos (default: photos-dev)")
    p.add_argument("--samplers", default=",".join(SAMPLERS),
                   help=f"comma-separated, from {', '.join(SAMPLERS)} (the default sampler is always run)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    cases = tuple(x for x in args.cases.split(",") if x)
    unknown_cases = sorted(set(cases) - set(CASES))
    if unknown_cases or not cases:
        p.error(f"unknown case {unknown_cases[0]!r} (choose from {', '.join(CASES)})" if unknown_cases else "no case")
    samplers = [x for x in args.samplers.split(",") if x]
    unknown = sorted(set(samplers) - set(SAMPLERS))
    if unknown:
        p.error(f"unknown sampler {unknown[0]!r} (choose from {', '.join(SAMPLERS)})")
    if DEFAULT_SAMPLER not in samplers:
        samplers.append(DEFAULT_SAMPLER)
    if args.limit < 1:
        p.error("--limit must be at least 1")
    folder = args.photos or photos_dev()
    if folder is None:
        print(f"quality_video: photos-dev not found ({PHOTOS_DEV_HINT})", file=sys.stderr)
        return 0
    out = args.out or tempfile.mkdtemp(prefix="quality_video_")
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    report = run(str(folder), args.limit, out, samplers, cases)
    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
