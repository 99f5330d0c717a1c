"""The data of the end-to-end benchmarks (bench_match, bench_ray): a store and a folder of queries.

The store holds the photos-dev photos as reported items (PDQ of the whole and border-trimmed
picture, and ORB features, as ``photomatch add --features`` keeps them), topped up with
generated pictures (a power-law spectrum, like photos). The queries are re-encoded copies of
every other photos-dev photo, each scaled to 1-3 megapixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import photomatch

MIN_PIXELS, MAX_PIXELS = 1_000_000, 3_000_000


def generated(seed: int, h: int = 480, w: int = 640) -> np.ndarray:
    """A picture with a photo-like power-law spectrum (as tests/images.py makes)."""
    rng = np.random.default_rng(seed)
    f = np.sqrt(np.fft.rfftfreq(w)[None, :] ** 2 + np.fft.fftfreq(h)[:, None] ** 2)
    f[0, 0] = 1.0
    amp = f ** -1.6
    amp[0, 0] = 0.0
    chans = [np.fft.irfft2(amp * np.exp(2j * np.pi * rng.random(amp.shape)), s=(h, w)) for _ in range(3)]
    img = np.stack(chans, axis=-1)
    img = (img - img.mean()) / (img.std() + 1e-12)
    return np.clip(128 + 48 * img, 0, 255).astype(np.uint8)


def build_store(store: Path, photos: list[Path], items: int) -> None:
    """``items`` reported items with features: the photos (at most ``items``), then generated pictures."""
    with photomatch.Matcher(store) as m:
        for r in m.add_many(photos[:items], label="reported", features=True):
            if not r.ok:
                raise r.error
        extra = items - len(m)
        m.add([generated(seed) for seed in range(extra)], label="generated", features=True)
        if len(m) != items:
            raise RuntimeError(f"store holds {len(m)} items, expected {items}")


def scaled_queries(photos: list[Path], folder: Path, n: int) -> int:
    """Every other photo (at most ``n``), re-encoded at 1-3 megapixels into ``folder``; total pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = 0
    for i, p in enumerate(photos[::2][:n]):
        with Image.open(p) as im:
            im = im.convert("RGB")
            area = im.width * im.height
            if not MIN_PIXELS <= area <= MAX_PIXELS:
                scale = ((MIN_PIXELS if area < MIN_PIXELS else MAX_PIXELS) / area) ** 0.5
                im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BICUBIC)
            pixels += im.width * im.height
            im.save(folder / f"q{i:03d}.jpg", quality=80)
    return pixels
