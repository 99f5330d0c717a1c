"""Groups of near-duplicate images: every pair within the threshold ends up in one group.

Connected components of the "within the threshold" graph, by a union-find fed from the exact
index's range search a slice of queries at a time: memory stays bounded by the slice, not by the
number of pairs (N copies of one image are N^2 pairs).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .algorithms import get as get_algorithm
from .hashing import HashResult
from .index import HashIndex


def find_groups(results: Iterable[HashResult], *, threshold: int | None = None) -> list[list[tuple[str, int]]]:
    """Connected components of the "within ``threshold``" graph over successfully hashed files.

    Each group (two or more files) lists ``(path, distance to the group's first file)``; groups
    come in the order of their first file, members in input order.

    >>> from photomatch.hashing import Hash
    >>> a, b, c = Hash.from_hex("0" * 64), Hash.from_hex("0" * 63 + "f"), Hash.from_hex("f" * 64)
    >>> find_groups([HashResult("a", a), HashResult("b", b), HashResult("c", c)])
    [[('a', 0), ('b', 4)]]
    """
    items = [r for r in results if r.hash is not None]
    if not items:
        return []
    algos = {r.hash.algorithm for r in items}  # type: ignore[union-attr]
    if len(algos) != 1:
        msg = f"cannot group hashes of different algorithms: {sorted(algos)}"
        raise ValueError(msg)
    algorithm = get_algorithm(algos.pop())
    t = algorithm.check_threshold(threshold)
    codes = np.stack([r.hash.array for r in items])  # type: ignore[union-attr]
    # Identical hashes are one vertex: N copies of one image cost one search, not N^2 pairs.
    unique, vertex = np.unique(codes, axis=0, return_inverse=True)
    vertex = vertex.reshape(-1)
    index = HashIndex(bits=algorithm.bits)
    index.add(unique, ids=np.arange(len(unique), dtype=np.int64))
    parent = np.arange(len(unique), dtype=np.int64)
    # Queries in slices, so the pairs held at once stay near _PAIRS however alike the images are.
    step = max(1, _PAIRS // len(unique))
    for start in range(0, len(unique), step):
        lims, _, ids = index.range_search(unique[start:start + step], t)
        queries = np.repeat(np.arange(start, start + len(lims) - 1, dtype=np.int64), np.diff(lims))
        _union(parent, queries, ids)
    root = _roots(parent, np.arange(len(unique), dtype=np.int64))[vertex].tolist()

    members: dict[int, list[int]] = {}
    for i, r in enumerate(root):
        members.setdefault(r, []).append(i)
    groups = []
    for m in sorted(members.values(), key=lambda m: m[0]):  # in the order of each group's first file
        if len(m) > 1:
            first = items[m[0]].hash
            groups.append([(items[i].path, first - items[i].hash) for i in m])  # type: ignore[operator]
    return groups


_PAIRS = 1 << 22  # result pairs of one slice of queries, at most about this many when all are alike


def _roots(parent: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The root of each vertex of ``x``, compressing the paths walked (vectorised union-find)."""
    r = parent[x]
    while True:
        up = parent[r]
        if np.array_equal(up, r):
            break
        r = up
    parent[x] = r
    return r


def _union(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Join the components of every pair (a[i], b[i]); a root's parent is the smallest member."""
    while a.size:
        ra, rb = _roots(parent, a), _roots(parent, b)
        differ = ra != rb
        if not differ.any():
            return
        a, b = ra[differ], rb[differ]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        np.minimum.at(parent, hi, lo)  # of several claims on one root the smallest wins; the rest loop
