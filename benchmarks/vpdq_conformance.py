"""vPDQ conformance: photomatch against ThreatExchange's sample hashes and against Meta's reference.

    python -m benchmarks.vpdq_conformance --threatexchange DIR [--vpdq-python PATH] [--exact]

DIR is a checkout of github.com/facebook/ThreatExchange (its ``tmk/sample-videos/*.mp4`` and
``vpdq/sample-hashes/<clip>.txt``, every frame's vPDQ). Nothing is fetched: without DIR the
script says so and exits 0. ``--vpdq-python`` names a Python that has the ``vpdq`` package
(the reference, built from source against FFmpeg's development libraries); its hashes of the
same clips are computed there and compared frame by frame. For each clip: frames, the share of
equal frame hashes and the worst distance against the sample file and against the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from photomatch.vpdq import VideoHash, vpdq

_REFERENCE = """
import sys, vpdq
for f in vpdq.computeHash(sys.argv[1], seconds_per_hash=0):
    print(f"{f.frame_number},{f.quality},{f.hex},{f.timestamp:.3f}")
"""


def compare(ours: VideoHash, theirs: VideoHash) -> dict[str, object]:
    pairs = list(zip(ours.features, theirs.features))
    d = [a.hash - b.hash for a, b in pairs]
    same_meta = all((a.frame, a.quality, f"{a.timestamp:.3f}") == (b.frame, b.quality, f"{b.timestamp:.3f}")
                    for a, b in pairs)
    return {"frames": [len(ours), len(theirs)], "equal": sum(x == 0 for x in d), "worst": max(d, default=0),
            "numbers_qualities_times_equal": same_meta}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threatexchange", default=None, help="a ThreatExchange checkout")
    p.add_argument("--vpdq-python", default=None, help="a Python with the vpdq package")
    p.add_argument("--exact", action="store_true", help="the reference's single-precision luma")
    args = p.parse_args(argv)
    if not args.threatexchange:
        print("vpdq_conformance: no --threatexchange checkout given: nothing to compare", file=sys.stderr)
        return 0
    clips = os.path.join(args.threatexchange, "tmk", "sample-videos")
    hashes = os.path.join(args.threatexchange, "vpdq", "sample-hashes")
    report = {}
    totals = {"frames": 0, "equal_sample": 0, "equal_reference": 0, "worst_reference": 0}
    for name in sorted(os.listdir(hashes)):
        if not name.endswith(".txt") or name.endswith("-128x128.txt"):
            continue
        clip = os.path.join(clips, name[:-4] + ".mp4")
        if not os.path.isfile(clip) or os.path.getsize(clip) < 1000:  # absent, or a Git LFS pointer
            continue
        ours = vpdq(clip, seconds_per_hash=0, exact=args.exact)
        with open(os.path.join(hashes, name), encoding="ascii") as f:
            row = {"sample_file": compare(ours, VideoHash.from_text(f.read()))}
        if args.vpdq_python:
            out = subprocess.run([args.vpdq_python, "-c", _REFERENCE, clip], check=True, capture_output=True,
                                 text=True).stdout
            row["reference"] = compare(ours, VideoHash.from_text(out))
            totals["equal_reference"] += row["reference"]["equal"]
            totals["worst_reference"] = max(totals["worst_reference"], row["reference"]["worst"])
        totals["frames"] += len(ours)
        totals["equal_sample"] += row["sample_file"]["equal"]
        report[name[:-4]] = row
    print(json.dumps({"exact": args.exact, "clips": report, "totals": totals}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
