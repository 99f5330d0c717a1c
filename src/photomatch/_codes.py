"""Arithmetic on packed binary codes outside the C kernels: the one numpy Hamming distance and the
one offsets-from-counts (``lims``), shared by HashIndex, its numpy twin, ``Hash`` and the matcher."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["hamming", "offsets"]

_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming(a: Any, b: Any) -> np.ndarray:
    """Hamming distances between packed uint8 codes along the last axis (numpy broadcasting), int32.

    >>> import numpy as np
    >>> hamming(np.zeros((1, 8), np.uint8), np.array([[0] * 8, [3] + [0] * 7], np.uint8)).tolist()
    [0, 2]
    """
    a, b = np.asarray(a, np.uint8), np.asarray(b, np.uint8)
    nbytes = a.shape[-1]
    if nbytes % 8 == 0 and a.flags.c_contiguous and b.flags.c_contiguous:
        # Eight bytes per popcount: a quarter of the work of bytes (codes are 8 or 32 bytes).
        a, b = a.view("<u8"), b.view("<u8")
    x = np.bitwise_xor(a, b)
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x).sum(axis=-1, dtype=np.int32)
    return _POP8[x.view(np.uint8)].sum(axis=-1, dtype=np.int32)


def offsets(counts: Any, dtype: Any = np.int64) -> np.ndarray:
    """``[0, c0, c0 + c1, ...]``: where each group starts in a concatenation, and where the last ends.

    >>> offsets([2, 0, 3]).tolist()
    [0, 2, 2, 5]
    """
    counts = np.asarray(counts)
    out = np.zeros(counts.shape[0] + 1, dtype)
    np.cumsum(counts, out=out[1:])
    return out
