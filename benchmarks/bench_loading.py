"""Loading speed: photomatch.loading against Pillow's own decode, full and with the JPEG draft.

    pytest benchmarks/bench_loading.py --benchmark-group-by=group

On a deterministic generated 12-megapixel baseline JPEG (4000x3000, q90). In each group the
peer is plain Pillow (``Image.open`` + ``draft`` + ``convert("RGB")``) on the same bytes, so the
ratio printed at the end is the loader's overhead (EXIF check, mode handling, error mapping) and
the draft's saving, measured in this one run. ``extra_info`` records decoded pixels per call.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from photomatch import loading

pytest.importorskip("pytest_benchmark")

_means: dict[str, float] = {}


def _pillow(data: bytes, side: int | None) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        if side is not None:
            im.draft("RGB", (side, side))
        return np.asarray(im.convert("RGB"))


def _ours(data: bytes, side: int | None) -> np.ndarray:
    return loading.load_rgb(data, draft_min_side=side)


SIDES = {"full": None, "pdq-draft": loading.PDQ_DRAFT_MIN_SIDE, "phash-draft": loading.PHASH_DRAFT_MIN_SIDE}


@pytest.mark.parametrize("who", ["pillow", "photomatch"])
@pytest.mark.parametrize("scale", list(SIDES))
def test_decode_12mp(benchmark, jpeg_12mp, who, scale):
    side = SIDES[scale]
    fn = _pillow if who == "pillow" else _ours
    benchmark.group = f"decode 12MP JPEG, {scale}"
    rgb = benchmark.pedantic(fn, args=(jpeg_12mp, side), rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(files=1, pixels=int(rgb.shape[0] * rgb.shape[1]), draft_min_side=side)
    _means[f"{who}/{scale}"] = benchmark.stats.stats.mean


def test_zz_report_ratios():
    """Print the ratios from this run (overhead of photomatch vs Pillow; draft saving)."""
    if len(_means) < 2 * len(SIDES):
        pytest.skip("the decode benchmarks did not all run (use --benchmark-enable, not --benchmark-disable)")
    for scale in SIDES:
        print(f"\n{scale}: photomatch / Pillow = {_means[f'photomatch/{scale}'] / _means[f'pillow/{scale}']:.2f}")
    for scale in ("pdq-draft", "phash-draft"):
        print(f"{scale} / full decode (photomatch) = {_means[f'photomatch/{scale}'] / _means['photomatch/full']:.2f}")
