"""Fuzz harness: bytes -> photomatch.video.VideoReader (PyAV/FFmpeg) -> sampled frames -> vPDQ.

    python fuzz/fuzz_video.py [libFuzzer flags] [CORPUS_DIR ...]   # fuzz (seeds: fuzz/corpus/videos)
    python fuzz/fuzz_video.py crash-1234abcd                       # replay one input

An input is "fine" when the reader refuses it with a PhotomatchError that names the source
(``<bytes>``), or when every frame it yields is RGB uint8 within the pixel limit, at
non-decreasing sample times, and every skipped packet or frame is counted. Anything else (another
exception type, a broken invariant, a crash in FFmpeg, a hang, runaway memory) is a finding.
The limits are small so that a mutated header can't make one execution slow.
"""

from __future__ import annotations

import sys

import atheris
import av  # noqa: F401  -- imported before instrumentation: only photomatch is instrumented
import numpy as np

with atheris.instrument_imports(include=["photomatch"]):
    from photomatch.errors import PhotomatchError
    from photomatch.video import VideoReader
    from photomatch.vpdq import vpdq

MAX_PIXELS = 1 << 18  # 512 x 512
MAX_DURATION = 30.0


class FuzzFinding(Exception):
    """An input broke an invariant of the video reader (not an expected refusal)."""


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise FuzzFinding(what)


def TestOneInput(data: bytes) -> None:  # noqa: N802 -- the name libFuzzer/atheris expect
    try:
        with VideoReader(data, max_pixels=MAX_PIXELS, max_duration=MAX_DURATION, threads=1) as v:
            last = -1.0
            for f in v.sample(fps=2.0, max_side=64):
                _check(f.pixels.dtype == np.uint8 and f.pixels.ndim == 3 and f.pixels.shape[2] == 3,
                       f"frame of shape {f.pixels.shape} dtype {f.pixels.dtype}")
                _check(f.pixels.shape[0] * f.pixels.shape[1] <= MAX_PIXELS, "frame above the pixel limit")
                _check(f.time >= 0, f"negative time {f.time}")
                last = max(last, f.time)
            _check(v.skipped >= len(v.skip_reasons) or len(v.skip_reasons) == 20, "skips not counted")
        if len(data) % 4 == 0:  # a share of the inputs through the vPDQ path too
            h = vpdq(data, max_pixels=MAX_PIXELS, max_duration=MAX_DURATION, threads=1)
            _check(all(len(x.hash.bits) == 32 and 0 <= x.quality <= 100 for x in h), "bad vPDQ frame")
    except PhotomatchError as e:
        _check(str(e).startswith("<bytes>: "), f"error does not name the source: {e!r}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
