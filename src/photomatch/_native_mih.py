"""numpy twins of the multi-index hashing kernels (``_core/mih.c``, bound in ``_binding_mih.c``).

Same names, arguments and results as the C functions; the "handle" is a small Python object
instead of a capsule. These are the specification: written for clarity, not speed.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ._codes import hamming, offsets
from ._native_buffer import check_buffer

__all__ = ["MIH_MAX_TABLES", "MIH_MAX_WIDTH", "mih_build", "mih_range_search", "mih_memory"]

MIH_MAX_TABLES = 64
MIH_MAX_WIDTH = 24


class _MihTables:
    """What ``mih_build`` returns: the layout and, per table, offsets and sorted positions."""

    def __init__(self, n: int, nbytes: int, starts, widths, offsets, positions) -> None:
        self.n, self.nbytes = n, nbytes
        self.starts, self.widths = starts, widths
        self.offsets, self.positions = offsets, positions


def mih_substrings(codes: np.ndarray, starts: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Substring values (n, m) uint32: bits starts[i] .. starts[i] + widths[i], first bit high."""
    bits = np.unpackbits(codes, axis=1)
    out = np.empty((codes.shape[0], len(starts)), np.uint32)
    for i, (s, w) in enumerate(zip(starts.tolist(), widths.tolist())):
        weights = (np.uint32(1) << np.arange(w - 1, -1, -1, dtype=np.uint32)).astype(np.uint32)
        out[:, i] = bits[:, s : s + w].astype(np.uint32) @ weights
    return out


def mih_build(codes: np.ndarray, starts: np.ndarray, widths: np.ndarray, nthreads: int) -> _MihTables:
    """Build multi-index hashing tables over ``codes`` (n, nbytes) uint8 (twin of the C kernel)."""
    codes = check_buffer(codes, "codes", 2, np.uint8)
    starts = check_buffer(starts, "starts", 1, np.int32)
    widths = check_buffer(widths, "widths", 1, np.int32)
    n, nbytes = codes.shape
    m = starts.shape[0]
    if widths.shape[0] != m:
        msg = "starts and widths must have the same length"
        raise ValueError(msg)
    if not 1 <= m <= MIH_MAX_TABLES or (widths < 1).any() or (widths > MIH_MAX_WIDTH).any() or (starts < 0).any():
        msg = f"invalid layout: 1..{MIH_MAX_TABLES} substrings of 1..{MIH_MAX_WIDTH} bits inside {nbytes * 8}-bit codes are required"
        raise ValueError(msg)
    if (starts.astype(np.int64) + widths > nbytes * 8).any():
        msg = f"invalid layout: 1..{MIH_MAX_TABLES} substrings of 1..{MIH_MAX_WIDTH} bits inside {nbytes * 8}-bit codes are required"
        raise ValueError(msg)
    subs = mih_substrings(codes, starts, widths)
    table_offsets, positions = [], []
    for i in range(m):
        counts = np.bincount(subs[:, i], minlength=1 << int(widths[i]))
        table_offsets.append(offsets(counts, np.uint32))
        positions.append(np.argsort(subs[:, i], kind="stable").astype(np.uint32))
    return _MihTables(n, nbytes, starts.copy(), widths.copy(), table_offsets, positions)


def _masks(width: int, k: int) -> np.ndarray:
    out = [sum(1 << b for b in combo) for combo in combinations(range(width), k)]
    return np.array(out, dtype=np.uint32)


def mih_range_search(
    handle: object,
    codes: np.ndarray,
    queries: np.ndarray,
    radii: np.ndarray,
    threshold: int,
    nthreads: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Positions of indexed codes within ``threshold`` of each query (twin of the C kernel).

    Returns ``(lims, distances, positions, candidates)``; hits are unordered within a query
    (here: by position).
    """
    h = _tables(handle)
    codes = check_buffer(codes, "codes", 2, np.uint8)
    queries = check_buffer(queries, "queries", 2, np.uint8)
    radii = check_buffer(radii, "radii", 1, np.int32)
    if codes.shape[1] != h.nbytes or codes.shape[0] < h.n:
        msg = f"codes must have at least {h.n} rows of {h.nbytes} bytes (the codes the tables index)"
        raise ValueError(msg)
    if queries.shape[1] != h.nbytes:
        msg = f"queries must have shape (n, {h.nbytes})"
        raise ValueError(msg)
    if radii.shape[0] != len(h.starts) or (radii < -1).any():
        msg = f"radii must hold {len(h.starts)} values >= -1"
        raise ValueError(msg)
    if not 0 <= threshold <= h.nbytes * 8:
        msg = f"threshold must be in 0..{h.nbytes * 8}"
        raise ValueError(msg)
    nq = queries.shape[0]
    lims = np.zeros(nq + 1, np.int64)
    dists, poss = [], []
    candidates = 0
    if h.n == 0 or nq == 0:
        return lims, np.empty(0, np.int32), np.empty(0, np.int64), 0
    qsubs = mih_substrings(queries, h.starts, h.widths)
    for q in range(nq):
        found = []
        for i, r in enumerate(radii.tolist()):
            if r < 0:
                continue
            w = int(h.widths[i])
            masks = np.concatenate([_masks(w, k) for k in range(min(r, w) + 1)])
            values = qsubs[q, i] ^ masks
            lo, hi = h.offsets[i][values], h.offsets[i][values.astype(np.int64) + 1]
            candidates += int((hi - lo).sum())
            for a, b in zip(lo.tolist(), hi.tolist()):
                found.append(h.positions[i][a:b])
        pos = np.unique(np.concatenate(found)).astype(np.int64) if found else np.empty(0, np.int64)
        d = hamming(codes[pos], queries[q])
        keep = d <= threshold
        dists.append(d[keep])
        poss.append(pos[keep])
        lims[q + 1] = lims[q] + int(keep.sum())
    return lims, np.concatenate(dists), np.concatenate(poss), candidates


def mih_memory(handle: object) -> int:
    """Bytes held by the tables (the C layout: uint32 offsets and positions)."""
    h = _tables(handle)
    return 4 * (sum(o.size for o in h.offsets) + sum(p.size for p in h.positions))


def _tables(handle: object) -> _MihTables:
    if not isinstance(handle, _MihTables):
        msg = "handle must be the result of mih_build"
        raise TypeError(msg)
    return handle
