"""Groups of near-duplicate images: every pair within the threshold ends up in one group."""

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
    index = HashIndex(bits=algorithm.bits)
    index.add(codes, ids=np.arange(len(items), dtype=np.int64))
    lims, _, ids = index.range_search(codes, t)

    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for q in range(len(items)):
        for j in ids[lims[q]:lims[q + 1]]:
            a, b = root(q), root(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)

    members: dict[int, list[int]] = {}
    for i in range(len(items)):
        members.setdefault(root(i), []).append(i)
    groups = []
    for idx in sorted(members):
        m = members[idx]
        if len(m) > 1:
            first = items[m[0]].hash
            groups.append([(items[i].path, first - items[i].hash) for i in m])  # type: ignore[operator]
    return groups
