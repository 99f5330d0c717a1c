"""dedup.find_groups: connected components of the "within the threshold" graph, against a brute
force over every pair, whatever the slices of queries and however many copies are identical."""

from __future__ import annotations

import numpy as np
import pytest

from photomatch import dedup
from photomatch.hashing import Hash, HashResult


def _brute_force(codes: np.ndarray, t: int) -> list[list[int]]:
    """Components by breadth-first search over the full distance matrix (the oracle)."""
    bits = np.unpackbits(codes, axis=1).astype(np.int32)
    dist = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    seen = np.zeros(len(codes), bool)
    groups = []
    for s in range(len(codes)):
        if seen[s]:
            continue
        comp, todo = [], [s]
        seen[s] = True
        while todo:
            v = todo.pop()
            comp.append(v)
            for w in np.flatnonzero((dist[v] <= t) & ~seen):
                seen[w] = True
                todo.append(int(w))
        if len(comp) > 1:
            groups.append(sorted(comp))
    return sorted(groups)


def _clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    """PDQ codes in chains and clusters: copies, near copies (a few bits), unrelated ones."""
    centres = rng.integers(0, 256, (max(1, n // 6), 32), dtype=np.uint8)
    codes = centres[rng.integers(0, len(centres), n)].copy()
    for row in codes:
        for _ in range(int(rng.choice([0, 0, 3, 8, 20, 60]))):
            bit = int(rng.integers(0, 256))
            row[bit // 8] ^= 1 << (bit % 8)
    return codes


@pytest.mark.parametrize("pairs", [1, 37, 1 << 22])
def test_groups_equal_brute_force_components(pairs, monkeypatch) -> None:
    monkeypatch.setattr(dedup, "_PAIRS", pairs)  # 1: one query per slice
    rng = np.random.default_rng(pairs)
    for trial in range(6):
        codes = _clustered(rng, int(rng.integers(2, 90)))
        results = [HashResult(f"f{i}", Hash("pdq", c.tobytes())) for i, c in enumerate(codes)]
        t = int(rng.choice([0, 10, 31, 40]))
        groups = dedup.find_groups(results, threshold=t)
        got = sorted(sorted(int(p[1:]) for p, _ in g) for g in groups)
        assert got == _brute_force(codes, t), trial
        # order: groups by their first file, members in input order, distances to the first
        assert [int(g[0][0][1:]) for g in groups] == sorted(int(g[0][0][1:]) for g in groups)
        for g in groups:
            first = results[int(g[0][0][1:])].hash
            assert [d for _, d in g] == [first - results[int(p[1:])].hash for p, _ in g]


def test_many_identical_copies_are_one_group() -> None:
    code = np.random.default_rng(0).integers(0, 256, 32, dtype=np.uint8).tobytes()
    results = [HashResult(f"c{i}", Hash("pdq", code)) for i in range(20_000)]
    results.insert(5, HashResult("other", Hash("pdq", bytes(32))))
    [group] = dedup.find_groups(results, threshold=31)
    assert len(group) == 20_000 and group[0] == ("c0", 0) and ("other", 0) not in group
