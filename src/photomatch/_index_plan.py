"""How HashIndex answers a threshold: the flat scan, or multi-index hashing with which substrings
(how many, how wide, probed within which radius), chosen by a cost model under a memory budget.

The model's constants are fitted to ``benchmarks/bench_index.py`` (its ``test_auto_crossover`` and
plan tests decide them); only their ratios matter.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _accel


# Per-query costs in nanoseconds on 2 threads, fitted to runs of benchmarks/bench_index.py and
# of the kernels on this project's 2-core test machine (only their ratios matter): a FAISS flat
# comparison per code (growing with the code size); an MIH bucket probe, dearer when the
# offsets of a table outgrow the L2 cache (w > 16); an MIH candidate check (a random read of
# one code: memory latency dominates, about 9 flat comparisons); a fixed cost per query of
# each (FAISS's range search has a sizeable one: see test_auto_crossover in the benchmarks).
_COST_FLAT_QUERY = 5000.0
_COST_FLAT_PER_CODE = 0.2
_COST_FLAT_PER_BYTE = 0.028
_COST_PROBE_SMALL = 5.0
_COST_PROBE_LARGE = 8.0
_COST_CANDIDATE = 10.0
_COST_QUERY = 1000.0
# MIH must look at least this much cheaper than the flat scan: the model assumes uniform bits,
# and real PDQ hashes swell the probed buckets (benchmarks/README.md).
_MIH_MARGIN = 0.7
# Tables may take at most this multiple of the raw codes + ids (so everything <= 3x raw)...
_MEMORY_FACTOR = 2.0
# ...except that a forced "mih" may always use this much.
_FORCED_MIN_BUDGET = 8 << 20
# Re-plan instead of reusing a structure built for another threshold when it costs this much more.
_REPLAN_FACTOR = 1.5
# Below this many codes "auto" stays flat: both take microseconds, and the model's fixed costs
# are least reliable there (measured crossover 5e3..1e4 codes).
_AUTO_MIN_CODES = 5000


class Layout:
    """The substrings that get a table: the first k of m near-equal slices of the code.

    Any set of disjoint substrings is exact when probed with radii summing (each + 1) above the
    threshold, so when m slices are more than the threshold needs, only k of them are built.
    """

    def __init__(self, bits: int, m: int, k: int | None = None) -> None:
        k = m if k is None else k
        base, extra = divmod(bits, m)
        widths = [base + 1] * extra + [base] * (m - extra)  # wider first: smaller buckets
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
        self.m, self.k = m, k
        self.widths = np.array(widths[:k], np.int32)
        self.starts = starts[:k].astype(np.int32)
        self.key = (bits, m, k)

    def radii(self, t: int) -> np.ndarray:
        """Per-table radii with sum(r + 1) = t + 1 > t (the pigeonhole bound, exactly).

        A radius as wide as its substring probes every value, so capping keeps it exact.
        """
        q, rem = divmod(t + 1, self.k)
        r = np.full(self.k, q - 1, np.int64)
        r[:rem] = q
        return np.minimum(r, self.widths).astype(np.int32)

    def memory(self, n: int) -> int:
        return 4 * (self.k * n + int(sum((1 << int(w)) + 1 for w in self.widths)))

    def cost(self, n: int, t: int) -> float:
        """Expected ns per query for n uniformly random codes."""
        return _mih_cost(self, n, t)


def flat_cost(n: int, nbytes: int) -> float:
    return _COST_FLAT_QUERY + n * (_COST_FLAT_PER_CODE + _COST_FLAT_PER_BYTE * nbytes)


def _layout_cost(n: int, bits: int, t: int, m: int, k: int) -> tuple[float, int]:
    """(ns per query, table bytes) of Layout(bits, m, k) at threshold t, in O(1).

    The k tables come in at most four (width, radius) groups: widths base+1 then base, radii
    q then q-1 (see Layout), so the sum is over groups rather than tables.
    """
    base, extra = divmod(bits, m)
    q, rem = divmod(t + 1, k)
    cost, memory = 0.0, 4 * k * n
    cuts = sorted({0, min(extra, k), min(rem, k), k})
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        count = hi - lo
        if count <= 0:
            continue
        w = base + 1 if lo < extra else base
        r = min(q if lo < rem else q - 1, w)
        memory += count * 4 * ((1 << w) + 1)
        if r >= 0:
            probe = _COST_PROBE_SMALL if w <= 16 else _COST_PROBE_LARGE
            cost += count * _PROBES[w][r] * (probe + _COST_CANDIDATE * n / (1 << w))
    return cost, memory


# _PROBES[w][r]: how many w-bit values lie within r flips of one.
_PROBES = [[sum(math.comb(w, j) for j in range(r + 1)) for r in range(w + 1)] for w in range(_accel.kernels.MIH_MAX_WIDTH + 1)]


def _plan_size(n: int) -> int:
    """n rounded up on a geometric grid (ratio 2**(1/8)): plans barely change between neighbours,
    and rounding lets them be cached while entries are added one at a time."""
    if n <= 64:
        return n
    return int(math.ceil(2 ** (math.ceil(8 * math.log2(n)) / 8)))


@functools.lru_cache(maxsize=256)
def best_layout(n: int, bits: int, t: int, budget: int) -> Layout | None:
    """The cheapest layout for threshold t whose tables fit the memory budget, if any."""
    best, best_cost = None, math.inf
    for m in range(max(1, -(-bits // _accel.kernels.MIH_MAX_WIDTH)), min(_accel.kernels.MIH_MAX_TABLES, bits) + 1):
        # Tables beyond t + 1 would get radius -1: never worth building.
        for k in range(1, min(m, t + 1) + 1):
            c, memory = _layout_cost(n, bits, t, m, k)
            if memory <= budget and c < best_cost:
                best, best_cost = (m, k), c
    return None if best is None else Layout(bits, *best)


def _mih_cost(layout: Layout, n: int, t: int) -> float:
    return _COST_QUERY + _layout_cost(n, layout.key[0], t, layout.m, layout.k)[0]


def choose(n_codes: int, bits: int, t: int, *, forced: bool, fast_kernels: bool, built: Layout | None) -> Layout | None:
    """The layout for threshold ``t`` over ``n_codes`` codes of ``bits`` bits, or None for the flat
    scan. ``forced``: MIH whatever it costs (``method="mih"``); ``fast_kernels``: the C kernels are
    live; ``built``: the layout of the tables built already, kept unless clearly worse."""
    n = _plan_size(n_codes)
    raw = n * (bits // 8 + 8)
    if not forced and (not fast_kernels or n_codes < _AUTO_MIN_CODES):
        return None  # the numpy twin is a specification, not a fast path: FAISS is faster
    budget = int(_MEMORY_FACTOR * raw)
    if forced:
        budget = max(budget, _FORCED_MIN_BUDGET)
    best = best_layout(n, bits, t, budget)
    if best is None:
        if not forced:
            return None
        best = best_layout(n, bits, t, 1 << 62)
    if not forced and best.cost(n, t) > _MIH_MARGIN * flat_cost(n, bits // 8):
        return None
    if built is not None and built.key != best.key:
        # Reuse the built tables unless the new plan is clearly cheaper (thresholds vary).
        if built.cost(n, t) <= _REPLAN_FACTOR * best.cost(n, t):
            return built
    return best
