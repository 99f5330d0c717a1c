"""Synthetic test pictures with a photo-like (1/f) spectrum.

PDQ and pHash threshold DCT coefficients at their median; on pictures whose energy sits in a few
coefficients (a smooth upsampled grid) most coefficients are noise and hashes are fragile. Real
photos have amplitude falling roughly as a power of the frequency, and so do these.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def photo_like(h: int, w: int, seed: int) -> np.ndarray:
    """A uint8 (h, w, 3) picture with a power-law (f^-1.6) amplitude spectrum, correlated colour, distinct per seed."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amplitude = f ** -1.6
    amplitude[0, 0] = 0.0
    mix = np.array([[1.0, 0.3, 0.2], [0.3, 1.0, 0.3], [0.2, 0.3, 1.0]])
    channels = []
    for _ in range(3):
        phase = rng.uniform(0, 2 * np.pi, size=amplitude.shape)
        channels.append(np.fft.irfft2(amplitude * np.exp(1j * phase), s=(h, w)))
    img = np.stack(channels, axis=-1) @ mix
    img = (img - img.mean()) / (img.std() + 1e-12)
    return np.clip(128 + 48 * img, 0, 255).astype(np.uint8)


def jpeg_bytes(rgb: np.ndarray, quality: int = 50) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
