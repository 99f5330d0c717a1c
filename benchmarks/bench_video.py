"""Video speed: seconds of video per second of wall time (x real time) on a generated 1080p clip.

    python -m benchmarks.bench_video [--seconds 60] [--items 1000] [--vpdq-python PATH] [--out DIR]

Measured in one run, on the same clip (1920 x 1080 H.264, 30 fps, a slow pan over a new picture
every 5 s, built here with PyAV from photos-dev when found, else from generated pictures):

- decode alone at vPDQ's sampling: every frame decoded, one per second converted to RGB;
- vPDQ hashing (``photomatch.vpdq.vpdq``, default options);
- the ``vpdq`` package (Meta's reference, built from source) when ``--vpdq-python`` names a Python
  that has it (it needs FFmpeg's development libraries to build: this script builds nothing);
- decode alone at photo matching's sampling (one frame a second plus scene changes, scaled to
  1280 px by the decoder): the floor under matching;
- photo-in-video matching (``Matcher.match`` on the clip, default sampling) against a store of
  ``--items`` reported photos with features, a few of which the clip shows.

Each figure is the best of ``--repeat`` alternating runs (the machine is shared), in wall seconds
and in CPU seconds (``cpu_s``: this process and its children, which other sessions' load barely
moves); the clip says whether its pictures came from photos-dev or were generated (textures
with grain).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

import av
import cv2
import numpy as np

from photomatch.matcher import Matcher
from photomatch.video import VideoReader
from photomatch.videomatch import MAX_SIDE
from photomatch.vpdq import vpdq

from .photos import photos_dev

W, H, FPS, SCENE = 1920, 1080, 30, 5


def pictures(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` RGB pictures: photos-dev's first ones when found, then smooth random textures."""
    out: list[np.ndarray] = []
    folder = photos_dev()
    if folder is not None:
        for name in sorted(os.listdir(folder))[:n]:
            im = cv2.imread(os.path.join(folder, name), cv2.IMREAD_COLOR)
            if im is not None:
                scale = 1024 / max(im.shape[:2])
                out.append(cv2.cvtColor(cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                                        cv2.COLOR_BGR2RGB))
    rng = np.random.default_rng(seed)
    while len(out) < n:
        base = rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)
        smooth = cv2.resize(base, (768, 576), interpolation=cv2.INTER_CUBIC).astype(np.int16)
        grain = cv2.resize(rng.integers(-40, 41, (144, 192, 3)).astype(np.float32), (768, 576),
                           interpolation=cv2.INTER_LINEAR).astype(np.int16)
        out.append(np.clip(smooth + grain, 0, 255).astype(np.uint8))
    return out


def make_clip(path: str, seconds: int, shown: list[np.ndarray]) -> None:
    """A ``seconds`` long 1080p clip: each picture fills the frame and pans slowly for SCENE s."""
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=Fraction(FPS))
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"preset": "veryfast", "crf": "23"}
        for i in range(seconds * FPS):
            pic = shown[(i // (SCENE * FPS)) % len(shown)]
            t = (i % (SCENE * FPS)) / (SCENE * FPS)
            scale = max(W / pic.shape[1], H / pic.shape[0]) * (1.15 - 0.1 * t)  # slow zoom out
            m = np.array([[scale, 0, W / 2 - scale * pic.shape[1] / 2 + 40 * t],
                          [0, scale, H / 2 - scale * pic.shape[0] / 2]], np.float32)
            frame = cv2.warpAffine(pic, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            c.mux(s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(s.encode())


def decode_alone(path: str) -> None:
    with VideoReader(path) as v:
        period = max(1, int(v.info.fps))
        for n, frame in v.decoded():
            if n % period == 0:
                v.rgb(frame, rotate=False)


def sample_alone(path: str) -> None:
    """Decoding at photo matching's sampling (one frame a second and scene changes, scaled to
    ``videomatch.MAX_SIDE``): the floor under matching's time."""
    with VideoReader(path) as v:
        for _ in v.sample(max_side=MAX_SIDE):
            pass


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children) of ``fn()``. CPU time barely
    moves with other sessions' load, wall time does: both are reported."""
    c0, t0 = _cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, _cpu() - c0


def timed(fn) -> float:
    return measured(fn)[0]


def reference(python: str, path: str) -> tuple[float, float] | None:
    code = ("import time, vpdq, sys; t = time.perf_counter(); vpdq.computeHash(sys.argv[1]); "
            "print(time.perf_counter() - t)")
    c0 = _cpu()
    try:
        out = subprocess.run([python, "-c", code, path], check=True, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as e:
        print(f"bench_video: the vpdq reference did not run ({e})", file=sys.stderr)
        return None
    return float(out.stdout.strip().splitlines()[-1]), _cpu() - c0  # CPU includes its interpreter's start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--vpdq-python", default=None, help="a Python with the vpdq package (the reference)")
    p.add_argument("--out", default=None, help="folder for the clip and store (default: a temporary one)")
    p.add_argument("--repeat", type=int, default=2, help="runs of each measurement, alternating; the best counts")
    args = p.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="bench_video_")
    os.makedirs(out, exist_ok=True)
    source = "photos-dev" if photos_dev() is not None else "generated"  # the clip and store are kept per source
    clip = os.path.join(out, f"clip_{args.seconds}s_1080p_{source}.mp4")
    pics = pictures(args.items + 4)
    reported, unrelated = pics[: args.items], pics[args.items :]
    if not os.path.exists(clip):
        t = timed(lambda: make_clip(clip, args.seconds, [reported[0], unrelated[0], reported[1], unrelated[1],
                                                         unrelated[2], reported[2]]))
        print(f"bench_video: clip written in {t:.0f} s", file=sys.stderr)
    store = os.path.join(out, f"store_{args.items}_{source}.db")
    if not os.path.exists(store):
        with Matcher(store) as m:
            t = timed(lambda: m.add(reported, label="reported", features=True))
        print(f"bench_video: {args.items} reported photos added in {t:.0f} s", file=sys.stderr)

    # Alternating runs, the best of each: the machine is shared, and the first read of the clip
    # pays for the page cache.
    runs: dict[str, list[tuple[float, float]]] = {"decode_alone_s": [], "vpdq_s": [], "reference_vpdq_s": [],
                                                  "sample_alone_s": [], "match_s": []}
    hashes: list = []
    found: list = []
    with Matcher(store, create=False) as m:
        m.match(reported[0])  # loads the feature index once, as a long-running matcher would
        for _ in range(args.repeat):
            runs["decode_alone_s"].append(measured(lambda: decode_alone(clip)))
            hashes[:] = []
            runs["vpdq_s"].append(measured(lambda: hashes.append(vpdq(clip))))
            if args.vpdq_python:
                t = reference(args.vpdq_python, clip)
                if t is not None:
                    runs["reference_vpdq_s"].append(t)
            runs["sample_alone_s"].append(measured(lambda: sample_alone(clip)))
            found[:] = []
            runs["match_s"].append(measured(lambda: found.extend(m.match(clip))))
    results = {k: (min(w for w, _ in v) if v else None) for k, v in runs.items()}
    cpu = {k: (min(c for _, c in v) if v else None) for k, v in runs.items()}
    seconds = float(args.seconds)
    report = {
        "clip": {"seconds": seconds, "size": [W, H], "fps": FPS, "codec": "h264", "bytes": os.path.getsize(clip),
                 "pictures": source},
        "items": args.items,
        "cpus": len(os.sched_getaffinity(0)),
        **{k: (round(v, 2) if v is not None else None) for k, v in results.items()},
        "cpu_s": {k[:-2]: (round(v, 2) if v is not None else None) for k, v in cpu.items()},
        "runs": {k: [round(w, 2) for w, _ in v] for k, v in runs.items()},
        "x_real_time": {k[:-2]: (round(seconds / v, 2) if v else None) for k, v in results.items()},
        "vpdq_vs_decode": round(results["decode_alone_s"] / results["vpdq_s"], 3),
        "vpdq_vs_decode_cpu": round(cpu["decode_alone_s"] / cpu["vpdq_s"], 3),
        "match_vs_sample_alone": round(results["sample_alone_s"] / results["match_s"], 3),
        "vpdq_vs_reference": (round(results["reference_vpdq_s"] / results["vpdq_s"], 2)
                              if results["reference_vpdq_s"] else None),
        "vpdq_frames": len(hashes[0]),
        "matched": sorted({(x.label, tuple(map(tuple, x.time or ()))) for x in found}),
    }
    print(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
