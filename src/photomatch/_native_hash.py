"""numpy twins of the hashing kernels (PDQ, pHash): the specification and the fallback.

Each function has the same name, arguments and results as its C counterpart in
``photomatch._ext`` (src/photomatch/_core/pdq.c and phash.c); the tests check both against
the references (``pdqhash`` for PDQ, ``imagehash`` for pHash) and against each other.

Exactness is the point: every floating-point operation happens in the same precision and the
same order as in Meta's PDQ reference (as vendored by the ``pdqhash`` PyPI package), so the bits
agree and not just nearly. That is why the box filter and the DCT below loop along one axis
in float32 instead of calling a faster but differently rounded numpy routine.

>>> import numpy as np
>>> h, q = pdq_hash(np.zeros((8, 8, 3), np.uint8))
>>> len(h), q
(32, 0)
"""

from __future__ import annotations

import math

import numpy as np

from ._native_buffer import check_buffer

__all__ = ["pdq_hash", "pdq_dihedral", "pdq_hash_gray", "pdq_dihedral_gray", "phash_bits"]

_F32 = np.float32
_MIN_HASHABLE_DIM = 5  # the reference gives an all-zero hash below this size


def _check_image(obj: object, name: str, *, ndim: int, shape: tuple[int | None, ...]) -> np.ndarray:
    """A uint8 C-contiguous view of ``obj`` of the given layout, or raise as the C binding does."""
    arr = check_buffer(obj, name, ndim, np.uint8)
    for got, want in zip(arr.shape, shape):
        if want is not None and got != want:
            msg = f"{name}: expected shape {_shape_text(shape)}, got {arr.shape}"
            raise ValueError(msg)
    return arr


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"


# ---------------------------------------------------------------- PDQ


def _pdq_dct_matrix() -> np.ndarray:
    # As the reference builds it: the scale factor is rounded to float first, then the product
    # with the double cosine is rounded to float. math.cos is the C library's cos, as in C.
    scale = float(_F32(math.sqrt(2.0 / 64.0)))
    step = math.pi / 2.0 / 64.0
    d = np.empty((16, 64), _F32)
    for i in range(16):
        for j in range(64):
            d[i, j] = _F32(scale * math.cos(step * (i + 1) * (2 * j + 1)))
    return d


_PDQ_DCT = _pdq_dct_matrix()


def _luma(rgb: np.ndarray) -> np.ndarray:
    # Computed in double, left to right, then rounded to float32: what pdqhash.compute does
    # in numpy before calling the C++ core.
    return (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype(_F32)


def _grey_table() -> np.ndarray:
    # Grey v hashes as the RGB pixel (v, v, v): the same double expression, one rounding.
    v = np.arange(256, dtype=np.float64)
    return (v * 0.299 + v * 0.587 + v * 0.114).astype(_F32)


_GREY_LUMA = _grey_table()


def _box_steps(length: int, window: int):
    """The reference's four-phase running sum along one axis, as (add, sub, count, out) steps.

    ``add``/``sub`` are input indices (or None) and ``out`` the output index (or None); ``count``
    is the divisor. Phase 1 only adds, phase 2 adds and writes with a growing window, phase 3
    adds then subtracts with the full window, phase 4 only subtracts with a shrinking window.
    """
    half = (window + 2) // 2
    ri = li = oi = count = 0
    for _ in range(half - 1):
        count += 1
        yield ri, None, count, None
        ri += 1
    for _ in range(window - half + 1):
        count += 1
        yield ri, None, count, oi
        ri += 1
        oi += 1
    for _ in range(length - window):
        yield ri, li, count, oi
        ri += 1
        li += 1
        oi += 1
    for _ in range(half - 1):
        count -= 1
        yield None, li, count, oi
        li += 1
        oi += 1


def _box_along_axis0(src: np.ndarray, window: int, keep: list[int] | None = None) -> np.ndarray:
    """Box filter along axis 0 of a float32 matrix, vectorised across axis 1.

    Every element sees exactly the reference's sequence of float32 operations. ``keep`` lists
    the output rows wanted, repeats allowed (the running sum still visits every row); None
    keeps them all.
    """
    n = src.shape[0]
    rows = list(range(n)) if keep is None else sorted(set(keep))
    slot = {r: pos for pos, r in enumerate(rows)}
    out = np.empty((len(rows), src.shape[1]), _F32)
    acc = np.zeros(src.shape[1], _F32)
    for add, sub, count, oi in _box_steps(n, window):
        if add is not None:
            acc += src[add]
        if sub is not None:
            acc -= src[sub]
        if oi is not None and oi in slot:
            np.divide(acc, _F32(count), out=out[slot[oi]])
    if keep is None:
        return out
    return out[[slot[r] for r in keep]]


def _jarosz_decimate(luma: np.ndarray) -> np.ndarray:
    """Two tent passes (box along rows, then along columns, twice), then the 64x64 decimation."""
    rows, cols = luma.shape
    win_r = (cols + 127) // 128  # window along rows (it spans columns)
    win_c = (rows + 127) // 128
    ri = [int(((i + 0.5) * rows) / 64) for i in range(64)]
    ci = [int(((j + 0.5) * cols) / 64) for j in range(64)]
    # Row passes run on the transpose so that the loop is along the filtered axis and the
    # vector operations across the other one; the arithmetic per element is unchanged.
    buf = _box_along_axis0(np.ascontiguousarray(luma.T), win_r).T
    buf = _box_along_axis0(np.ascontiguousarray(buf), win_c)
    # Second pass: only the decimated columns are needed from here on.
    buf = _box_along_axis0(np.ascontiguousarray(buf.T), win_r, keep=ci).T
    buf = _box_along_axis0(np.ascontiguousarray(buf), win_c, keep=ri)
    return buf  # (64, 64)


def _quality(a: np.ndarray) -> int:
    # d = (int)(((u - v) * 100) / 255) in float32, truncated toward zero, as in the reference.
    dv = ((a[:-1, :] - a[1:, :]) * _F32(100)) / _F32(255)
    dh = ((a[:, :-1] - a[:, 1:]) * _F32(100)) / _F32(255)
    total = int(np.abs(dv.astype(np.int32)).sum()) + int(np.abs(dh.astype(np.int32)).sum())
    return min(total // 90, 100)


def _dct64to16(a: np.ndarray) -> np.ndarray:
    """B = D A D^T with float32 accumulators in the reference's summation order."""
    d = _PDQ_DCT
    t = np.zeros((16, 64), _F32)
    for k in range(64):  # T[i][j] += D[i][k] * A[k][j], k ascending
        t += d[:, k : k + 1] * a[k : k + 1, :]
    b = np.zeros((16, 16), _F32)
    for k in range(64):  # B[i][j] += T[i][k] * D[j][k], k ascending
        b += t[:, k : k + 1] * d[:, k][None, :]
    return b


def _pdq_bits(b: np.ndarray) -> bytes:
    """Threshold at the lower median (rank (n+1)/2, as Torben's method gives) and pack.

    Bit k = 16*i + j of the reference's Hash256 is word i, bit j; its hex prints word 15 first,
    so the bytes are the bits in descending k, most significant first.
    """
    flat = b.reshape(-1)
    median = np.partition(flat, 127)[127]
    return np.packbits((flat > median)[::-1]).tobytes()


def _pdq_luma(pixels: object, gray: bool) -> np.ndarray | None:
    """Float32 luma of an (H, W, 3) RGB or (H, W) grey input; None below the hashable size."""
    if gray:
        arr = _check_image(pixels, "gray", ndim=2, shape=(None, None))
    else:
        arr = _check_image(pixels, "rgb", ndim=3, shape=(None, None, 3))
    if arr.shape[0] < _MIN_HASHABLE_DIM or arr.shape[1] < _MIN_HASHABLE_DIM:
        return None
    return _GREY_LUMA[arr] if gray else _luma(arr)


def _pdq_one(luma: np.ndarray | None) -> tuple[bytes, int]:
    if luma is None:
        return bytes(32), 0
    if luma.shape == (64, 64):
        a = luma  # the reference skips the blur when the image is already 64x64
    else:
        a = _jarosz_decimate(luma)
    return _pdq_bits(_dct64to16(a)), _quality(a)


def _pdq_eight(luma: np.ndarray | None) -> tuple[tuple[bytes, ...], int]:
    if luma is None:
        return (bytes(32),) * 8, 0
    a = _jarosz_decimate(luma)
    b = _dct64to16(a)
    i = np.arange(16)[:, None]
    j = np.arange(16)[None, :]
    odd_i = (i & 1).astype(bool)
    odd_j = (j & 1).astype(bool)
    odd_ij = ((i + j) & 1).astype(bool)
    variants = (
        b,
        np.where(odd_j, b, -b).T,  # rotate90
        np.where(odd_ij, -b, b),  # rotate180
        np.where(odd_i, b, -b).T,  # rotate270
        np.where(odd_i, b, -b),  # flipX
        np.where(odd_j, b, -b),  # flipY
        b.T,  # flipPlus1
        np.where(odd_ij, -b, b).T,  # flipMinus1
    )
    return tuple(_pdq_bits(np.ascontiguousarray(v)) for v in variants), _quality(a)


def pdq_hash(rgb: object) -> tuple[bytes, int]:
    """PDQ of an (H, W, 3) uint8 C-contiguous RGB array: (32 bytes in the reference hex order, quality)."""
    return _pdq_one(_pdq_luma(rgb, gray=False))


def pdq_dihedral(rgb: object) -> tuple[tuple[bytes, ...], int]:
    """The 8 dihedral PDQ hashes from one DCT, in the reference order, and the quality.

    Order: original, rotate90, rotate180, rotate270, flipX, flipY, flipPlus1, flipMinus1.
    Unlike pdq_hash, the reference blurs even a 64x64 input here, and so do we.
    """
    return _pdq_eight(_pdq_luma(rgb, gray=False))


def pdq_of_luma(luma: np.ndarray) -> tuple[bytes, int]:
    """PDQ of a float32 (H, W) luma plane computed by the caller (vPDQ's reference luma is float)."""
    return _pdq_one(luma if min(luma.shape) >= _MIN_HASHABLE_DIM else None)


def pdq_hash_gray(gray: object) -> tuple[bytes, int]:
    """PDQ of an (H, W) uint8 C-contiguous grey (luma) array, e.g. a JPEG's decoded Y plane.

    Grey v is taken as the RGB pixel (v, v, v), so this equals ``pdq_hash`` of the RGB array
    whose three channels equal ``gray``, bit for bit.
    """
    return _pdq_one(_pdq_luma(gray, gray=True))


def pdq_dihedral_gray(gray: object) -> tuple[tuple[bytes, ...], int]:
    """``pdq_dihedral`` of an (H, W) grey array, as ``pdq_hash_gray`` is to ``pdq_hash``."""
    return _pdq_eight(_pdq_luma(gray, gray=True))


# ---------------------------------------------------------------- pHash


def _phash_dct_matrix() -> np.ndarray:
    # Unnormalised DCT-II (scipy.fftpack.dct type 2): y[k] = 2 sum_n x[n] cos(pi k (2n+1) / 64);
    # only the first 8 frequencies are used. Same expression and libm cos as phash.c.
    c = np.empty((8, 32), np.float64)
    for k in range(8):
        for n in range(32):
            c[k, n] = 2.0 * math.cos(math.pi * (k * (2 * n + 1)) / 64.0)
    return c


_PHASH_DCT = _phash_dct_matrix()


def phash_bits(gray32: object) -> bytes:
    """pHash bits of a (32, 32) uint8 greyscale array, packed row-major MSB first (8 bytes).

    The input is what imagehash.phash computes from: ``image.convert("L").resize((32, 32),
    Image.LANCZOS)``. The DCT is summed sequentially in double, in the order phash.c uses.
    """
    arr = _check_image(gray32, "gray32", ndim=2, shape=(32, 32)).astype(np.float64)
    c = _PHASH_DCT
    # AC terms are summed over differences from the first sample (exact for these integers),
    # so that constant rows and columns give exactly 0 as scipy's FFT-based DCT does; a
    # uniform image then hashes like imagehash (DC bit only) instead of like rounding noise.
    t = np.zeros((8, 32), np.float64)
    dif = arr - arr[0:1, :]
    for n in range(32):  # along axis 0: T[u][x] += C[u][n] * P[n][x]
        t[0] += c[0, n] * arr[n]
        t[1:] += c[1:, n : n + 1] * dif[n : n + 1, :]
    b = np.zeros((8, 8), np.float64)
    dif = t - t[:, 0:1]
    for x in range(32):  # along axis 1: B[u][v] += T[u][x] * C[v][x]
        b[:, 0] += t[:, x] * c[0, x]
        b[:, 1:] += dif[:, x : x + 1] * c[1:, x][None, :]
    s = np.sort(b.reshape(-1))
    median = (s[31] + s[32]) / 2.0  # numpy.median: the mean of the two middle values
    return np.packbits(b.reshape(-1) > median).tobytes()
