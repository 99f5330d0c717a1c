"""One record per hash algorithm: everything photomatch knows about it, in one place.

Sizes, default threshold, quality floor, the decoder's draft size and the kernels that hash
decoded pixels live on one frozen :class:`Algorithm` (python-threatexchange's ``PdqSignal`` is
the model). Every table of the package derives from these records: ``Hash`` validation and hex
lengths, the store's SQL ``CHECK``, the matcher's thresholds, hash lists' columns and the CLI's
``--algo`` choices. Adding an algorithm is adding a record here and its kernels in ``_core``.

>>> from photomatch.algorithms import ALGORITHMS, get
>>> [(a.name, a.bits, a.nbytes, a.hex_length, a.default_threshold) for a in ALGORITHMS.values()]
[('pdq', 256, 32, 64, 31), ('phash', 64, 8, 16, 10), ('vpdq', 256, 32, 64, 31)]
>>> get("md5")
Traceback (most recent call last):
...
photomatch.errors.UnknownAlgorithmError: unknown hash algorithm 'md5'; expected one of pdq, phash, vpdq
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from PIL import Image

from . import loading
from ._accel import kernels
from .errors import UnknownAlgorithmError

__all__ = ["ALGORITHMS", "ALL", "Algorithm", "CHOICES", "IMAGE_NAMES", "NAMES", "PDQ", "PHASH", "VPDQ",
           "by_hex_length", "get", "hex_lengths", "select"]


def _pdq_pixels(pixels: np.ndarray) -> tuple[bytes, int]:
    # A JPEG's decoded luma plane (H, W) or RGB (H, W, 3); grey v hashes as RGB (v, v, v).
    bits, quality = (kernels.pdq_hash_gray if pixels.ndim == 2 else kernels.pdq_hash)(pixels)
    return bytes(bits), int(quality)


def _pdq_dihedral(pixels: np.ndarray) -> tuple[list[bytes], int]:
    variants, quality = (kernels.pdq_dihedral_gray if pixels.ndim == 2 else kernels.pdq_dihedral)(pixels)
    return [bytes(v) for v in variants], int(quality)


def _phash_pixels(pixels: np.ndarray) -> tuple[bytes, None]:
    # imagehash's pipeline: L, 32x32 Lanczos (Pillow's, for bit equality), then the DCT kernel.
    # The luma of big RGB pixels is taken in stripes: no 4-byte-a-pixel PIL copy of the image.
    grey = pixels if pixels.ndim == 2 else loading.luma(pixels)
    small = Image.fromarray(np.ascontiguousarray(grey), "L").resize((32, 32), Image.Resampling.LANCZOS)
    return bytes(kernels.phash_bits(np.ascontiguousarray(np.asarray(small, dtype=np.uint8)))), None


@dataclass(frozen=True)
class Algorithm:
    """Everything about one hash algorithm.

    ``bits``: code length; ``default_threshold``: inclusive Hamming distance up to which two
    hashes match by default; ``quality_floor``: quality below which a hash is flagged as
    unreliable (None: the algorithm has no quality); ``draft_min_side``: the smallest side the
    JPEG decoder may scale down to on the fast path (measured by ``benchmarks/draft_drift.py``);
    ``regions``: whether regions of images (borders trimmed, photos inside screenshots) are
    hashed and searched with it too. ``hash_pixels`` hashes a C-contiguous uint8 array, (H, W)
    luma or (H, W, 3) RGB, into ``(bits, quality)``; ``hash_dihedral``, when the algorithm has
    it, gives the hashes of the 8 rotations/flips in ``hashing.DIHEDRAL_NAMES`` order at once.
    ``video``: the algorithm hashes videos (a list of frame hashes per item, ``photomatch.vpdq``);
    ``hash_pixels`` then hashes one frame, and image-only selections (``"both"``) leave it out.
    """

    name: str
    bits: int
    default_threshold: int
    quality_floor: int | None
    draft_min_side: int
    hash_pixels: Callable[[np.ndarray], tuple[bytes, int | None]] = field(repr=False, compare=False)
    hash_dihedral: Callable[[np.ndarray], tuple[list[bytes], int]] | None = field(default=None, repr=False,
                                                                                 compare=False)
    regions: bool = False
    video: bool = False

    @property
    def nbytes(self) -> int:
        """Packed length in bytes."""
        return self.bits // 8

    @property
    def hex_length(self) -> int:
        """Length of the hex form (lowercase, most significant first)."""
        return self.bits // 4

    def check_threshold(self, value: Any) -> int:
        """``value`` as a threshold for this algorithm (None: the default); raises ValueError out of 0..bits."""
        if value is None:
            return self.default_threshold
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            msg = f"a {self.name} threshold must be a whole number from 0 to {self.bits}, got {value!r}"
            raise TypeError(msg)
        if not 0 <= value <= self.bits:
            msg = f"a {self.name} threshold must be from 0 to {self.bits}, got {value}"
            raise ValueError(msg)
        return int(value)


# PDQ's threshold is the reference's recommendation, its quality floor Meta's advice (flat or
# tiny images hash unreliably); pHash's threshold is imagehash's usual cut.
PDQ = Algorithm(
    "pdq", bits=256, default_threshold=31, quality_floor=50, draft_min_side=loading.PDQ_DRAFT_MIN_SIDE,
    hash_pixels=_pdq_pixels, hash_dihedral=_pdq_dihedral, regions=True,
)
PHASH = Algorithm(
    "phash", bits=64, default_threshold=10, quality_floor=None, draft_min_side=loading.PHASH_DRAFT_MIN_SIDE,
    hash_pixels=_phash_pixels,
)
# Meta's video hash: PDQ of frames at one per second, matched with vPDQ's rule (photomatch.vpdq);
# its frame threshold and quality floor are the reference's.
VPDQ = Algorithm(
    "vpdq", bits=256, default_threshold=31, quality_floor=50, draft_min_side=loading.PDQ_DRAFT_MIN_SIDE,
    hash_pixels=_pdq_pixels, video=True,
)

#: Every algorithm by name, in the order used for listings and CLI choices.
ALGORITHMS: Mapping[str, Algorithm] = MappingProxyType({a.name: a for a in (PDQ, PHASH, VPDQ)})
NAMES: tuple[str, ...] = tuple(ALGORITHMS)
#: The algorithms that hash still images.
IMAGE_NAMES: tuple[str, ...] = tuple(a.name for a in ALGORITHMS.values() if not a.video)
#: The selection meaning "every image algorithm" (``photomatch add --algo both``, ``Matcher.add``).
ALL = "both"
#: What a caller may choose where several image algorithms can be computed at once.
CHOICES: tuple[str, ...] = IMAGE_NAMES + (ALL,)

# A bare hex string names an image algorithm (a vPDQ frame hash has PDQ's length: it comes
# with its frame number, quality and time, never alone).
_BY_HEX_LENGTH = {a.hex_length: a for a in ALGORITHMS.values() if not a.video}
if len(_BY_HEX_LENGTH) != len(IMAGE_NAMES):  # hash lists and Hash.from_hex infer the algorithm from it
    msg = "two algorithms have the same hex length"
    raise RuntimeError(msg)


def get(name: Any, *, path: object | None = None, line: int | None = None) -> Algorithm:
    """The record of ``name`` (exact, lowercase); UnknownAlgorithmError otherwise (``path`` and
    ``line`` name the hash list it came from, if any)."""
    algorithm = ALGORITHMS.get(name) if isinstance(name, str) else None
    if algorithm is None:
        raise UnknownAlgorithmError(name, NAMES, path=path, line=line)
    return algorithm


def by_hex_length(length: int) -> Algorithm | None:
    """The algorithm whose hex form has ``length`` digits, or None."""
    return _BY_HEX_LENGTH.get(length)


def hex_lengths() -> str:
    """"64 (pdq) or 16 (phash)": the hex lengths that name an algorithm, for error messages."""
    parts = [f"{a.hex_length} ({a.name})" for a in _BY_HEX_LENGTH.values()]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def select(choice: Any) -> tuple[Algorithm, ...]:
    """The image algorithms a choice names: one name, or ``"both"`` for all of them."""
    if choice == ALL:
        return tuple(ALGORITHMS[name] for name in IMAGE_NAMES)
    if isinstance(choice, str) and choice in IMAGE_NAMES:
        return (ALGORITHMS[choice],)
    raise UnknownAlgorithmError(choice, CHOICES)
