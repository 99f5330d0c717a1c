"""Perceptual hashes of images: the ``Hash`` value and the verbs that compute it.

PDQ (256 bits, with quality) is bit-compatible with Meta's reference as packaged by ``pdqhash``;
pHash (64 bits) with ``imagehash.phash``. The kernels run in the C core (``photomatch._accel``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from . import loading, regions
from .loading import ImageSource
from .regions import Box
from .algorithms import PDQ, PHASH, Algorithm, by_hex_length, hex_lengths
from .algorithms import get as get_algorithm
from ._codes import hamming
from ._parallel import ordered_map, resolve_workers
from .errors import HashFormatError, run_item

DIHEDRAL_NAMES = ("original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1")
"""Order of ``pdq_dihedral``'s results, as in Meta's reference."""


@dataclass(frozen=True)
class Hash:
    """An immutable perceptual hash.

    ``bits`` are the packed bits in the order of the hex string (most significant first),
    ``quality`` is PDQ's 0-100 quality (None for pHash). ``a - b`` and ``a.distance(b)`` give
    the Hamming distance.

    >>> a = Hash.from_hex("f" * 64)
    >>> b = Hash.from_hex("f" * 63 + "0")
    >>> a.algorithm, a - b
    ('pdq', 4)
    """

    algorithm: str
    bits: bytes
    quality: int | None = None

    def __post_init__(self) -> None:
        nbytes = get_algorithm(self.algorithm).nbytes
        if not isinstance(self.bits, bytes) or len(self.bits) != nbytes:
            msg = f"a {self.algorithm} hash has {nbytes} bytes, got {self.bits!r:.40}"
            raise HashFormatError(msg)
        if self.quality is not None and (
            isinstance(self.quality, bool) or not isinstance(self.quality, int) or not 0 <= self.quality <= 100
        ):
            msg = f"hash quality must be an integer from 0 to 100, got {self.quality!r}"
            raise HashFormatError(msg)

    @property
    def hex(self) -> str:
        """Lowercase hex digits (PDQ: the reference's format; pHash: imagehash's)."""
        return self.bits.hex()

    @property
    def array(self) -> np.ndarray:
        """The packed bits as a read-only uint8 array, as the index takes them."""
        return np.frombuffer(self.bits, dtype=np.uint8)

    def distance(self, other: Hash) -> int:
        """Hamming distance to another hash of the same algorithm."""
        if not isinstance(other, Hash):
            return NotImplemented
        if other.algorithm != self.algorithm:
            msg = f"cannot compare a {self.algorithm} hash with a {other.algorithm} hash"
            raise ValueError(msg)
        return int(hamming(self.array, other.array))

    __sub__ = distance

    def __str__(self) -> str:
        return self.hex

    def __repr__(self) -> str:
        q = "" if self.quality is None else f", quality={self.quality}"
        return f"Hash({self.algorithm!r}, {self.hex!r}{q})"

    def __bytes__(self) -> bytes:
        return self.bits

    @classmethod
    def from_hex(cls, text: str, algorithm: str | None = None, quality: int | None = None) -> Hash:
        """Parse hex digits strictly (surrounding whitespace allowed; case-insensitive).

        The algorithm is inferred from the length (64 digits: pdq, 16: phash) unless given.

        >>> Hash.from_hex("8" * 16).algorithm
        'phash'
        """
        if not isinstance(text, str):
            msg = f"a hash must be given as a hex string, got {type(text).__name__}"
            raise HashFormatError(msg)
        s = text.strip().lower()
        spec = get_algorithm(algorithm) if algorithm is not None else by_hex_length(len(s))
        if spec is None:
            msg = f"hash {_clip(s)!r} has {len(s)} hex digits; expected {hex_lengths()}"
            raise HashFormatError(msg)
        if len(s) != spec.hex_length:
            msg = f"a {spec.name} hash has {spec.hex_length} hex digits, got {len(s)}"
            raise HashFormatError(msg)
        if s.strip("0123456789abcdef"):
            msg = f"hash {_clip(s)!r} is not hexadecimal"
            raise HashFormatError(msg)
        return cls(spec.name, bytes.fromhex(s), quality)


def _clip(s: str) -> str:
    return s if len(s) <= 20 else s[:17] + "..."


# --- the verbs -------------------------------------------------------------------------------


def pdq(image: ImageSource, *, exact: bool = False, exif_transpose: bool = True,
        max_pixels: int = loading.DEFAULT_MAX_PIXELS) -> Hash:
    """PDQ hash (256 bits, with quality) of an image.

    ``exact=False`` lets the JPEG decoder downscale by 1/2-1/8 first (much faster on photos, a
    few bits of drift); ``exact=True`` decodes fully, for bit-exact comparison with the reference.

    >>> import numpy as np
    >>> h = pdq(np.zeros((64, 64, 3), np.uint8))
    >>> h.algorithm, len(h.hex), h.quality
    ('pdq', 64, 0)
    """
    return _hash(PDQ, image, exact=exact, exif_transpose=exif_transpose, max_pixels=max_pixels)


def pdq_dihedral(image: ImageSource, *, exact: bool = False, exif_transpose: bool = True,
                 max_pixels: int = loading.DEFAULT_MAX_PIXELS) -> tuple[Hash, ...]:
    """The 8 PDQ hashes of the image's rotations and flips, in ``DIHEDRAL_NAMES`` order.

    Computed from one DCT, as the reference does; the first is ``pdq(image)``.

    >>> import numpy as np
    >>> len(pdq_dihedral(np.zeros((8, 8, 3), np.uint8)))
    8
    """
    return _dihedral(_pixels(image, PDQ, exact, exif_transpose, max_pixels))


def phash(image: ImageSource, *, exact: bool = False, exif_transpose: bool = True,
          max_pixels: int = loading.DEFAULT_MAX_PIXELS) -> Hash:
    """64-bit pHash, identical to ``imagehash.phash`` given the same image.

    >>> import numpy as np
    >>> phash(np.zeros((40, 30, 3), np.uint8)).hex
    '0000000000000000'
    """
    # A JPEG's luma plane on the fast path: imagehash takes convert("L") first anyway.
    return _hash(PHASH, image, exact=exact, exif_transpose=exif_transpose, max_pixels=max_pixels)


def phash_of_pil(img: Image.Image) -> Hash:
    """pHash of an already loaded RGB or L image (imagehash's pipeline: L, 32x32 Lanczos, DCT)."""
    return hash_pixels(np.asarray(img, dtype=np.uint8), PHASH.name)


# --- one path for every hash: decode as the verbs do, then hash the decoded pixels -------------


def decode(image: ImageSource, algorithm: str = "pdq", *, exact: bool = False, exif_transpose: bool = True,
           max_pixels: int | None = loading.DEFAULT_MAX_PIXELS) -> loading.Pixels:
    """The image as the verbs decode it for ``algorithm``: on the fast path a JPEG's (H, W) luma
    plane, drafted down to the algorithm's ``draft_min_side``; exact, or not a JPEG, (H, W, 3) RGB.

    ``hash_pixels(decode(image, a, ...).array, a)`` is ``hash_image(image, a, ...)``, so a caller
    that needs the pixels too (``Matcher.match``) hashes exactly what ``photomatch hash`` does.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (40, 30), (200, 100, 50)).save(buf, "JPEG")
    >>> decode(buf.getvalue()).array.shape, decode(buf.getvalue(), exact=True).array.shape
    ((30, 40), (30, 40, 3))
    """
    spec = get_algorithm(algorithm)
    # The decoder's luma plane on the fast path: no chroma IDCT, upsampling or colour conversion.
    return loading.load_pixels(image, luma=not exact, exif_transpose=exif_transpose, max_pixels=max_pixels,
                               draft_min_side=None if exact else spec.draft_min_side)


def hash_pixels(pixels: np.ndarray, algorithm: str = "pdq") -> Hash:
    """Hash decoded uint8 pixels, (H, W) luma or (H, W, 3) RGB, with no loading step (regions of
    a decoded image, or what ``decode`` gave).

    >>> import numpy as np
    >>> hash_pixels(np.zeros((40, 30), np.uint8), "phash").hex
    '0000000000000000'
    """
    spec = get_algorithm(algorithm)
    bits, quality = spec.hash_pixels(np.ascontiguousarray(pixels, dtype=np.uint8))
    return Hash(spec.name, bits, quality)


def pdq_and_dihedral(pixels: np.ndarray) -> tuple[Hash, tuple[Hash, ...]]:
    """``(pdq, pdq_dihedral)`` of decoded pixels, from one DCT.

    The first dihedral variant is the PDQ hash except for an image of exactly 64x64 pixels, which
    the reference hashes without its blur but blurs for the dihedral variants: hashed apart then.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    variants = _dihedral(pixels)
    own = variants[0] if pixels.shape[:2] != (64, 64) else hash_pixels(pixels, PDQ.name)
    return own, variants


def _dihedral(pixels: np.ndarray) -> tuple[Hash, ...]:
    variants, quality = PDQ.hash_dihedral(pixels)  # type: ignore[misc]
    return tuple(Hash(PDQ.name, v, quality) for v in variants)


@dataclass(frozen=True)
class RegionHash:
    """The hash of one region of a reported image, as the store keeps it and ``photomatch hash
    --regions`` lists it: ``region_kind`` names the region (``"whole"`` first, then the regions of
    ``regions.reported_regions``), ``box`` is ``(x, y, w, h)`` in the image's pixels (None for the
    whole image)."""

    region_kind: str
    box: Box | None
    hash: Hash


def reported_hashes(rgb: np.ndarray, algorithm: Algorithm) -> list[RegionHash]:
    """The hashes the reported side keeps of a decoded image: the whole image and, for algorithms
    hashed by region (PDQ), each region of ``regions.reported_regions``."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    boxes = regions.reported_regions(rgb) if algorithm.regions else [((0, 0, rgb.shape[1], rgb.shape[0]), "whole")]
    out = []
    for box, region_kind in boxes:
        h = hash_pixels(regions.crop(rgb, box), algorithm.name)
        out.append(RegionHash(region_kind, None if region_kind == "whole" else box, h))
    return out


def region_hashes(image: ImageSource, algorithm: str = "pdq", *, exif_transpose: bool = True,
                  max_pixels: int = loading.DEFAULT_MAX_PIXELS) -> list[RegionHash]:
    """What ``Matcher.add`` stores for a reported image, without a store: its region hashes,
    decoded exactly (these hashes are kept and may be shared)."""
    rgb = loading.load_rgb(image, exif_transpose=exif_transpose, max_pixels=max_pixels)
    return reported_hashes(rgb, get_algorithm(algorithm))


def _hash(algorithm: Algorithm, image: ImageSource, *, exact: bool = False, exif_transpose: bool = True,
          max_pixels: int = loading.DEFAULT_MAX_PIXELS) -> Hash:
    return hash_pixels(_pixels(image, algorithm, exact, exif_transpose, max_pixels), algorithm.name)


def hash_image(image: ImageSource, algorithm: str = "pdq", **options: Any) -> Hash:
    """Hash with the named algorithm (one of ``photomatch.algorithms.NAMES``); options as for the verbs.

    >>> import numpy as np
    >>> hash_image(np.zeros((8, 8, 3), np.uint8), "phash").algorithm
    'phash'
    """
    return _hash(get_algorithm(algorithm), image, **options)


def hash_file(path: str | os.PathLike[str], algorithm: str = "pdq", **options: Any) -> Hash:
    """Hash one image file; raises ``DecodeError`` (a ``ValueError``) naming the file when it can't be read.

    >>> import tempfile, os
    >>> from PIL import Image
    >>> p = os.path.join(tempfile.mkdtemp(), "grey.png")
    >>> Image.new("RGB", (50, 40), (90, 90, 90)).save(p)
    >>> hash_file(p).quality
    0
    """
    return hash_image(os.fspath(path), algorithm, **options)


@dataclass(frozen=True)
class HashResult:
    """One item of ``hash_files``: the path and either its hash or the error that stopped it."""

    path: str
    hash: Hash | None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def hash_files(paths: Iterable[str | os.PathLike[str]], algorithm: str = "pdq", *, workers: int | None = None,
               **options: Any) -> Iterator[HashResult]:
    """Hash many files on a thread pool (the decoder and the C core release the GIL).

    Streams results in input order, holding only a bounded window of files in flight, so it
    suits millions of paths. A file that fails gives a ``HashResult`` with ``error`` set; the
    others go on.

    >>> import tempfile, os
    >>> from PIL import Image
    >>> d = tempfile.mkdtemp()
    >>> Image.new("RGB", (50, 40)).save(os.path.join(d, "a.png"))
    >>> open(os.path.join(d, "b.jpg"), "wb").close()
    >>> [r.ok for r in hash_files([os.path.join(d, "a.png"), os.path.join(d, "b.jpg")])]
    [True, False]
    """
    # Checked here, at the call, before any file is opened or thread started.
    get_algorithm(algorithm)
    n = resolve_workers(workers)
    unknown = set(options) - _OPTIONS
    if unknown:
        msg = f"hash_files() got unexpected options {sorted(unknown)}; expected some of {sorted(_OPTIONS)}"
        raise TypeError(msg)

    def one(p: str) -> HashResult:
        h, error = run_item(p, lambda: hash_image(p, algorithm, **options))
        return HashResult(p, h, error)

    return ordered_map(one, (os.fspath(p) for p in paths), workers=n)


_OPTIONS = frozenset({"exact", "exif_transpose", "max_pixels"})


# --- loading glue ----------------------------------------------------------------------------

def _pixels(image: ImageSource, algorithm: Algorithm, exact: bool, exif_transpose: bool,
            max_pixels: int | None) -> np.ndarray:
    """What ``decode`` gives, as an array. Arrays go through the loader too, so they meet the same
    size checks as files."""
    return decode(image, algorithm.name, exact=exact, exif_transpose=exif_transpose, max_pixels=max_pixels).array
