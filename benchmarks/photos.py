"""Where the benchmarks find their images: photos-dev, and the one generated 12-megapixel JPEG.

Scripts run as modules from the repository root (``python -m benchmarks.draft_drift``); the pytest
benchmarks get these through the fixtures of ``benchmarks/conftest.py``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

#: How to point the benchmarks at photos-dev when it is not beside the repository.
PHOTOS_DEV_HINT = "set PHOTOMATCH_PHOTOS_DEV or check out ../shared beside the repository"


def photos_dev() -> Path | None:
    """The photos-dev folder: ``$PHOTOMATCH_PHOTOS_DEV``, else ``../shared/data/photos-dev`` beside
    the repository; None when neither holds its ``manifest.csv``."""
    env = os.environ.get("PHOTOMATCH_PHOTOS_DEV")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "photos-dev"
    return path if (path / "manifest.csv").is_file() else None


def synthetic_12mp_jpeg() -> bytes:
    """A deterministic 4000x3000 baseline JPEG (q90) with photo-like gradients and grain."""
    rng = np.random.default_rng(12)
    small = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-10, 11, size=(3000, 4000, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()
