"""Exact Hamming search over packed binary hashes: :class:`HashIndex`.

Codes are packed ``uint8`` arrays of shape ``(n, bits // 8)`` (PDQ: 256 bits, pHash: 64 bits);
ids are non-negative ``int64``. Every search is exact: ``range_search`` returns every stored code
within the threshold (inclusive), sorted by ``(distance, id)`` within each query.

Two structures answer queries:

- ``"flat"``: FAISS's brute-force Hamming scan (the engine of ``IndexBinaryFlat``), run directly
  on our code array so the codes are held once.
- ``"mih"``: multi-index hashing, a C kernel of our own (``_core/mih.c``): k substrings of the
  code each get a table of row positions sorted by substring value; a query probes every value
  within r_i flips of its own substring i, with sum(r_i + 1) > threshold, so by the pigeonhole
  principle no code within the threshold is missed; candidates are checked with a full
  popcount distance. Far faster than the flat scan on large indexes (``benchmarks/bench_index.py``;
  figures in ``benchmarks/README.md``).

``method="auto"`` plans the substrings (how many, how wide, which radii) with a cost model of the
query time under a memory budget (``_index_plan.py``: tables at most 2x the raw codes + ids) and
uses them only when they look clearly faster than the flat scan, which ``bench_index.py``'s
crossover test decides. The tables are built at the first query (or by :meth:`HashIndex.build`);
rows added later are scanned flat until they are worth a rebuild (more than 4096 and 1/32 of the
tables); removed rows are tombstones until a quarter are dead.

>>> import numpy as np
>>> from photomatch.index import HashIndex
>>> index = HashIndex(bits=64)
>>> codes = np.zeros((3, 8), dtype=np.uint8); codes[1, 0] = 0b111; codes[2, :] = 255
>>> index.add(codes, ids=[10, 11, 12])
array([10, 11, 12])
>>> lims, distances, ids = index.range_search(codes[:1], threshold=3)
>>> lims.tolist(), distances.tolist(), ids.tolist()
([0, 2], [0, 3], [10, 11])
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import Any

import faiss
import numpy as np

from . import _accel
from ._codes import hamming, offsets
from ._index_plan import Layout, choose
from ._fileio import NotRegularFileError, atomic_write, open_regular
from .algorithms import ALGORITHMS
from .errors import IndexFileError

_MAX_ID = 2**63 - 1  # ids are int64

__all__ = ["HashIndex", "IndexFileError", "codes_checksum"]

METHODS = ("auto", "flat", "mih")
"""How a ``HashIndex`` answers queries: ``"auto"`` chooses between the flat scan and MIH."""


# ---------------------------------------------------------------------------------------------
# validation helpers


def _check_bits(bits: Any) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        msg = f"bits must be an int (64 or 256), got {type(bits).__name__}"
        raise TypeError(msg)
    bits = int(bits)
    if bits <= 0 or bits % 8:
        msg = f"bits must be a positive multiple of 8 (64 or 256 for pHash/PDQ), got {bits}"
        raise ValueError(msg)
    return bits


def _as_codes(codes: Any, nbytes: int, name: str = "codes") -> np.ndarray:
    """Return ``codes`` as a C-contiguous (n, nbytes) uint8 array (a single 1-D code gives n=1)."""
    arr = np.asarray(codes)
    if arr.dtype != np.uint8:
        msg = f"{name} must be packed uint8 codes, got dtype {arr.dtype}"
        raise ValueError(msg)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != nbytes:
        msg = f"{name} must have shape (n, {nbytes}) (or ({nbytes},) for one code), got {np.shape(codes)}"
        raise ValueError(msg)
    return np.ascontiguousarray(arr)


def _as_ids(ids: Any, name: str = "ids") -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        msg = f"{name} must be a 1-D sequence of int64 ids, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.dtype.kind not in "iu" or arr.dtype == np.bool_:
        msg = f"{name} must be integers, got dtype {arr.dtype}"
        raise ValueError(msg)
    if arr.dtype.kind == "u" and arr.max() > np.iinfo(np.int64).max:
        msg = f"{name} must fit in int64"
        raise ValueError(msg)
    return np.ascontiguousarray(arr, dtype=np.int64)


def _has_duplicates(ids: np.ndarray) -> bool:
    # A sort and a diff: np.unique's hash-based path (numpy >= 2.3) is far slower on large id arrays.
    s = np.sort(ids)
    return bool((s[1:] == s[:-1]).any())


def _check_threshold(threshold: Any, bits: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)):
        msg = f"threshold must be an int in 0..{bits}, got {type(threshold).__name__}"
        raise TypeError(msg)
    t = int(threshold)
    if not 0 <= t <= bits:
        msg = f"threshold must be in 0..{bits} for {bits}-bit codes, got {t}"
        raise ValueError(msg)
    return t


# ---------------------------------------------------------------------------------------------
# checksum of an (id, code) set, independent of order


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64's finaliser, on arrays (numpy wraps uint64 array arithmetic modulo 2**64 silently).
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def codes_checksum(codes: Any, ids: Any, *, bits: int | None = None) -> int:
    """An order-independent 64-bit checksum of a set of (id, code) pairs.

    The store computes it from its rows and compares it with :meth:`HashIndex.checksum` to tell a
    stale index cache (any added, removed or changed entry changes it, with probability
    1 - 2**-64 against accidents; it is not a defence against an adversary).

    >>> import numpy as np
    >>> codes = np.arange(16, dtype=np.uint8).reshape(2, 8)
    >>> codes_checksum(codes, [1, 2]) == codes_checksum(codes[::-1], [2, 1])
    True
    """
    ids_arr = _as_ids(ids)
    if bits is None:
        arr = np.asarray(codes)
        nbytes = arr.shape[-1] if arr.ndim >= 1 else 0
    else:
        nbytes = _check_bits(bits) // 8
    codes_arr = _as_codes(codes, nbytes) if ids_arr.size else np.empty((0, nbytes), np.uint8)
    if codes_arr.shape[0] != ids_arr.shape[0]:
        msg = f"codes and ids differ in length ({codes_arr.shape[0]} != {ids_arr.shape[0]})"
        raise ValueError(msg)
    n = ids_arr.shape[0]
    if n == 0:
        return 0
    pad = (-nbytes) % 8
    if pad:
        codes_arr = np.concatenate([codes_arr, np.zeros((n, pad), np.uint8)], axis=1)
    words = codes_arr.view("<u8")
    h = _mix(ids_arr.view(np.uint64) ^ _GOLDEN)
    for j in range(words.shape[1]):
        # Each word position gets its own constant so swapping words changes the result.
        salt = np.uint64((j + 1) * 0x9E3779B97F4A7C15 % 2**64)
        h = _mix(h ^ (words[:, j] + salt))
    # Sum modulo 2**64 (order-independent, and unlike XOR a repeated pair does not cancel).
    return int(np.add.reduce(h, dtype=np.uint64)) ^ int(n)


# ---------------------------------------------------------------------------------------------
# FAISS flat engine on our own buffers


# Up to this many (query, code) pairs numpy's popcount beats FAISS, whose OpenMP start-up costs
# milliseconds per call on a loaded machine (a store's newest rows: benchmarks/bench_store.py).
_SMALL_SCAN = 1 << 16


def _flat_range(xb: np.ndarray, xq: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions within ``threshold`` (inclusive) of each query, unsorted: numpy or FAISS."""
    nq, nb, nbytes = xq.shape[0], xb.shape[0], xb.shape[1]
    if nq * nb <= _SMALL_SCAN:
        dist = hamming(xq[:, None, :], xb[None, :, :])
        qi, pos = np.nonzero(dist <= threshold)  # row-major: grouped by query
        return offsets(np.bincount(qi, minlength=nq)), dist[qi, pos], pos.astype(np.int64)
    res = faiss.RangeSearchResult(nq)
    # FAISS keeps distance < radius: ask for threshold + 1 to make it inclusive.
    faiss.hamming_range_search(faiss.swig_ptr(xq), faiss.swig_ptr(xb), nq, nb, threshold + 1, nbytes, res)
    lims = faiss.rev_swig_ptr(res.lims, nq + 1).astype(np.int64)
    total = int(lims[-1])
    if total == 0:
        return lims, np.empty(0, np.int32), np.empty(0, np.int64)
    dist = faiss.rev_swig_ptr(res.distances, total).astype(np.int32)
    pos = faiss.rev_swig_ptr(res.labels, total).astype(np.int64)
    return lims, dist, pos


def _sort_results(lims: np.ndarray, dist: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each query's results by (distance, id) so answers do not depend on the structure."""
    if dist.size == 0:
        return dist, ids
    qidx = np.repeat(np.arange(lims.size - 1), np.diff(lims))
    order = np.lexsort((ids, dist, qidx))
    return dist[order], ids[order]


# Threshold at which ``method`` and ``build()`` plan by default: the algorithm's usual one.
_DEFAULT_THRESHOLD = {a.bits: a.default_threshold for a in ALGORITHMS.values()}


class _Mih:
    """A built MIH structure: the kernel module that built it, its handle, layout and extent."""

    def __init__(self, kernels: Any, handle: Any, layout: Layout, n_built: int) -> None:
        self.kernels, self.handle, self.layout, self.n_built = kernels, handle, layout, n_built

    def memory(self) -> int:
        return int(self.kernels.mih_memory(self.handle))


def _merge(nq: int, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    """Concatenate per-query results of several (lims, dist, pos) parts, grouped by query."""
    if len(parts) == 1:
        return parts[0]
    qidx = np.concatenate([np.repeat(np.arange(nq), np.diff(lims)) for lims, _, _ in parts])
    dist = np.concatenate([d for _, d, _ in parts])
    pos = np.concatenate([p for _, _, p in parts])
    order = np.argsort(qidx, kind="stable")
    return offsets(np.bincount(qidx, minlength=nq)), dist[order], pos[order]


# ---------------------------------------------------------------------------------------------


class HashIndex:
    """An exact Hamming index of packed binary codes with int64 ids.

    ``bits`` is the code length (256 for PDQ, 64 for pHash; any positive multiple of 8 works).
    ``method`` is ``"auto"`` (the flat scan for small indexes, multi-index hashing when the
    cost model of ``_index_plan`` says it is clearly faster within the memory budget), ``"flat"`` or
    ``"mih"``. Results never depend on ``method``; only speed and memory do. ``threads`` caps the
    threads of a multi-index query batch (default: the CPU count, at most 8).

    Ids are unique: adding an id that is already present raises ``ValueError``. Default ids
    continue from the highest id ever added (removed ids are not reused, so a stale reference
    can never point at a new entry). Removal marks entries dead (tombstones) and compacts when
    a quarter are dead. Not safe for concurrent mutation from several threads; concurrent
    queries are fine.

    >>> import numpy as np
    >>> index = HashIndex(bits=256)
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.integers(0, 256, (100, 32), dtype=np.uint8)
    >>> ids = index.add(codes)
    >>> len(index), int(ids[0]), int(ids[-1])
    (100, 0, 99)
    >>> distances, found = index.search(codes[:2], k=1)
    >>> distances.tolist(), found.tolist()
    ([[0], [0]], [[0], [1]])
    """

    def __init__(self, bits: int = 256, *, method: str = "auto", threads: int | None = None) -> None:
        self._bits = _check_bits(bits)
        self._nbytes = self._bits // 8
        if method not in METHODS:
            msg = f"method must be one of {METHODS}, got {method!r}"
            raise ValueError(msg)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            msg = f"threads must be a positive int or None, got {threads!r}"
            raise ValueError(msg)
        self._method_requested = method
        self._threads = threads if threads is not None else max(1, min(8, os.cpu_count() or 1))
        # Rows [0, _n) of the buffers are used; a dead row (removed entry) has id -1.
        self._codes_buf = np.empty((0, self._nbytes), np.uint8)
        self._ids_buf = np.empty(0, np.int64)
        self._n = 0
        self._n_dead = 0
        self._next_id = 0
        self._mih: _Mih | None = None

    # -- properties ----------------------------------------------------------------------------

    @property
    def bits(self) -> int:
        """Code length in bits."""
        return self._bits

    @property
    def method(self) -> str:
        """The structure that answers queries now: ``"flat"`` or ``"mih"``.

        For ``method="auto"`` this is the choice at the usual threshold of the code size (31 for
        256 bits, 10 for 64); a query at another threshold may choose differently.
        """
        t = _DEFAULT_THRESHOLD.get(self._bits, self._bits // 8)
        return "mih" if self._plan(t) is not None else "flat"

    def __len__(self) -> int:
        return self._n - self._n_dead

    def __repr__(self) -> str:
        return f"HashIndex(bits={self._bits}, method={self._method_requested!r}, n={len(self)})"

    @property
    def _rows(self) -> np.ndarray:
        return self._codes_buf[: self._n]

    @property
    def _row_ids(self) -> np.ndarray:
        return self._ids_buf[: self._n]

    def _live(self) -> np.ndarray | slice:
        return slice(None) if self._n_dead == 0 else self._row_ids >= 0

    def ids(self) -> np.ndarray:
        """A copy of every stored id, in storage order."""
        return self._row_ids[self._live()].copy()

    def codes(self) -> np.ndarray:
        """A copy of every stored code, aligned with :meth:`ids`."""
        return self._rows[self._live()].copy()

    def checksum(self) -> int:
        """The order-independent checksum of the (id, code) set; see :func:`codes_checksum`."""
        live = self._live()
        return codes_checksum(self._rows[live], self._row_ids[live], bits=self._bits)

    def memory_bytes(self) -> int:
        """Bytes held by the codes, ids and search structure (buffers as allocated)."""
        total = self._codes_buf.nbytes + self._ids_buf.nbytes
        if self._mih is not None:
            total += self._mih.memory()
        return total

    # -- mutation ------------------------------------------------------------------------------

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        cap = self._ids_buf.shape[0]
        if need <= cap:
            return
        new_cap = max(need, cap + cap // 2, 16) if cap else need
        codes = np.empty((new_cap, self._nbytes), np.uint8)
        codes[: self._n] = self._rows
        ids = np.empty(new_cap, np.int64)
        ids[: self._n] = self._row_ids
        self._codes_buf, self._ids_buf = codes, ids

    def add(self, codes: Any, ids: Any = None) -> np.ndarray:
        """Add codes (shape ``(n, bits/8)`` uint8, or one 1-D code); return their int64 ids.

        >>> import numpy as np
        >>> index = HashIndex(bits=64)
        >>> index.add(np.zeros(8, np.uint8)).tolist()
        [0]
        >>> index.add(np.ones((2, 8), np.uint8), ids=[7, 5]).tolist()
        [7, 5]
        >>> index.add(np.ones((1, 8), np.uint8)).tolist()
        [8]
        """
        arr = _as_codes(codes, self._nbytes)
        n = arr.shape[0]
        if ids is None:
            if self._next_id + n > _MAX_ID + 1:  # np.arange would wrap past 2**63 - 1
                msg = f"no automatic ids left: {n} more would pass {_MAX_ID} (the largest id in use); pass ids="
                raise OverflowError(msg)
            new_ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        else:
            new_ids = _as_ids(ids)
            if new_ids.shape[0] != n:
                msg = f"ids has {new_ids.shape[0]} entries but codes has {n}"
                raise ValueError(msg)
            if n and new_ids.min() < 0:
                msg = "ids must be non-negative (-1 is the padding of search results)"
                raise ValueError(msg)
            if n and _has_duplicates(new_ids):
                msg = "ids contains duplicates"
                raise ValueError(msg)
            if n and self._n:
                clash = np.isin(new_ids, self._row_ids)
                if clash.any():
                    msg = f"ids already in the index: {new_ids[clash][:5].tolist()}"
                    raise ValueError(msg)
        if n == 0:
            return new_ids
        self._reserve(n)
        self._codes_buf[self._n : self._n + n] = arr
        self._ids_buf[self._n : self._n + n] = new_ids
        self._n += n
        self._next_id = max(self._next_id, int(new_ids.max()) + 1)
        # The MIH tables keep covering rows [0, n_built); newer rows are scanned flat until the
        # tail is worth a rebuild (see _range).
        return new_ids

    def remove(self, ids: Any) -> int:
        """Remove entries by id; ids not present are ignored. Return how many were removed.

        >>> import numpy as np
        >>> index = HashIndex(bits=64)
        >>> _ = index.add(np.zeros((3, 8), np.uint8))
        >>> index.remove([0, 2, 99]), len(index)
        (2, 1)
        """
        gone = _as_ids(ids)
        gone = gone[gone >= 0]  # -1 marks dead rows: never match it
        if gone.size == 0 or len(self) == 0:
            return 0
        hit = np.isin(self._row_ids, gone)
        removed = int(hit.sum())
        if removed:
            self._row_ids[hit] = -1
            self._n_dead += removed
            if self._n_dead * 4 > self._n:
                self._compact()
        return removed

    def _compact(self) -> None:
        """Drop dead rows; row positions change, so the MIH tables go too."""
        live = self._row_ids >= 0
        k = int(live.sum())
        self._codes_buf[:k] = self._rows[live]
        self._ids_buf[:k] = self._row_ids[live]
        self._n, self._n_dead = k, 0
        self._mih = None

    # -- planning --------------------------------------------------------------------------------

    def _mih_kernels(self) -> Any:
        return _accel.kernels

    def _plan(self, t: int) -> Layout | None:
        """The MIH layout to use for threshold t, or None for the flat scan."""
        if self._method_requested == "flat" or self._n == 0:
            return None
        return choose(self._n, self._bits, t, forced=self._method_requested == "mih",
                      fast_kernels=_accel.IMPLEMENTATION == "c",
                      built=None if self._mih is None else self._mih.layout)

    def _ensure_mih(self, layout: Layout) -> _Mih:
        cur = self._mih
        kernels = self._mih_kernels()
        tail = self._n - cur.n_built if cur is not None else 0
        stale = (
            cur is None
            or cur.layout.key != layout.key
            or cur.kernels is not kernels
            or tail > max(4096, cur.n_built // 32)
        )
        if stale:
            self._mih = None  # free the old tables before building the new ones
            if self._ids_buf.shape[0] > self._n + self._n // 8 + 16:
                # Growth slack would count against the memory budget for as long as the
                # tables live: trim it (the next add grows the buffers again).
                self._codes_buf = self._rows.copy()
                self._ids_buf = self._row_ids.copy()
            handle = kernels.mih_build(self._rows, layout.starts, layout.widths, self._threads)
            self._mih = _Mih(kernels, handle, layout, self._n)
        return self._mih

    def build(self, threshold: int | None = None) -> str:
        """Build the search structure for ``threshold`` now rather than at the first query.

        Returns the method chosen (``"flat"`` or ``"mih"``).
        """
        t = _DEFAULT_THRESHOLD.get(self._bits, self._bits // 8) if threshold is None else threshold
        t = _check_threshold(t, self._bits)
        layout = self._plan(t)
        if layout is None:
            return "flat"
        self._ensure_mih(layout)
        return "mih"

    # -- queries -------------------------------------------------------------------------------

    def _range(self, xq: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unsorted (lims, dist, rows) of every live row within t of each query."""
        nq = xq.shape[0]
        parts = []
        start = 0
        layout = self._plan(t)
        if layout is not None:
            mih = self._ensure_mih(layout)
            threads = self._threads if nq >= 16 else 1  # thread start-up outweighs tiny batches
            lims, dist, pos, _ = mih.kernels.mih_range_search(
                mih.handle, self._rows, xq, layout.radii(t), t, threads
            )
            parts.append((lims, dist, pos))
            start = mih.n_built
        if start < self._n:
            lims, dist, pos = _flat_range(self._rows[start:], xq, t)
            parts.append((lims, dist, pos + start))
        lims, dist, pos = _merge(nq, parts)
        if self._n_dead:
            alive = self._row_ids[pos] >= 0
            if not alive.all():
                qidx = np.repeat(np.arange(nq), np.diff(lims))[alive]
                lims = offsets(np.bincount(qidx, minlength=nq))
                dist, pos = dist[alive], pos[alive]
        return lims, dist, pos

    def range_search(self, codes: Any, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every stored code within ``threshold`` (inclusive) of each query.

        Returns ``(lims, distances, ids)`` as FAISS does: the results of query ``i`` are
        ``distances[lims[i]:lims[i+1]]`` (int32) and ``ids[lims[i]:lims[i+1]]`` (int64), sorted by
        (distance, id).

        >>> import numpy as np
        >>> index = HashIndex(bits=64)
        >>> _ = index.add(np.array([[0] * 8, [1] + [0] * 7, [255] * 8], np.uint8))
        >>> lims, d, i = index.range_search(np.zeros(8, np.uint8), threshold=1)
        >>> lims.tolist(), d.tolist(), i.tolist()
        ([0, 2], [0, 1], [0, 1])
        """
        xq = _as_codes(codes, self._nbytes)
        t = _check_threshold(threshold, self._bits)
        nq = xq.shape[0]
        if len(self) == 0 or nq == 0:
            return np.zeros(nq + 1, np.int64), np.empty(0, np.int32), np.empty(0, np.int64)
        lims, dist, pos = self._range(xq, t)
        dist, ids = _sort_results(lims, dist.astype(np.int32, copy=False), self._row_ids[pos])
        return lims, dist, ids

    def search(self, codes: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored codes of each query: ``(distances, ids)`` of shape (n, min(k, len(self))).

        Exact; ties are broken by smaller id. ``k`` is clamped to the number of stored codes, so a
        huge ``k`` costs no more than the index size (an empty index gives (n, 0) arrays).

        >>> import numpy as np
        >>> index = HashIndex(bits=64)
        >>> _ = index.add(np.array([[0] * 8, [3] + [0] * 7], np.uint8))
        >>> d, i = index.search(np.zeros(8, np.uint8), k=3)
        >>> d.tolist(), i.tolist()
        ([[0, 2]], [[0, 1]])
        """
        xq = _as_codes(codes, self._nbytes)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 1:
            msg = f"k must be a positive int, got {k!r}"
            raise ValueError(msg)
        n_live = len(self)
        k = min(int(k), n_live)  # a k of 10**8 on 3 codes must not allocate 10**8 columns
        nq = xq.shape[0]
        out_d = np.full((nq, k), -1, np.int32)
        out_i = np.full((nq, k), -1, np.int64)
        if n_live == 0 or nq == 0:
            return out_d, out_i
        kk = min(k, n_live)
        # FAISS's k-th distance over all rows (dead ones included) is a lower bound of the answer's
        # radius; range searches from there return every tie, which we order by (distance, id),
        # so the answer does not depend on FAISS's tie-breaking. Dead rows may push the radius up.
        d, _ = faiss.knn_hamming(xq, self._rows, min(kk, self._n))
        radius = d[:, min(kk, self._n) - 1].astype(np.int64)
        todo = np.arange(nq)
        while todo.size:
            again = []
            for r in np.unique(radius[todo]):
                rows = todo[radius[todo] == r]
                lims, dist, ids = self.range_search(xq[rows], int(r))
                for j, row in enumerate(rows):
                    a, b = int(lims[j]), int(lims[j + 1])
                    if b - a < kk and r < self._bits:
                        again.append(row)
                        continue
                    b = min(b, a + kk)
                    out_d[row, : b - a] = dist[a:b]
                    out_i[row, : b - a] = ids[a:b]
            todo = np.array(again, dtype=np.int64)
            radius[todo] = np.minimum(self._bits, radius[todo] * 2 + 1)
        return out_d, out_i

    # -- persistence ---------------------------------------------------------------------------

    _MAGIC = b"PMHIDX\r\n"
    _VERSION = 1
    _HEADER = struct.Struct("<8sIIqq")  # magic, version, bits, n, next_id
    _DIGEST = 32  # sha256 of everything before it

    @classmethod
    def file_size(cls, n: int, bits: int) -> int:
        """The size in bytes of the file :meth:`save` writes for ``n`` codes of ``bits`` bits."""
        return cls._HEADER.size + n * (8 + bits // 8) + cls._DIGEST

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically, readable by the owner only (0600).

        The file is written to a temporary file in the same folder, fsynced, renamed over
        ``path`` and the folder fsynced, so a crash leaves either the old or the new file.
        """
        path = os.fspath(path)
        live = self._live()
        header = self._HEADER.pack(self._MAGIC, self._VERSION, self._bits, len(self), self._next_id)
        ids = np.ascontiguousarray(self._row_ids[live], dtype="<i8")
        codes = np.ascontiguousarray(self._rows[live])
        digest = hashlib.sha256()
        # numpy arrays are buffers: hash and write them without copying (1e7 codes is 320 MB).
        for part in (header, ids, codes):
            digest.update(part)
        with atomic_write(path) as f:
            f.write(header)
            f.write(ids)
            f.write(codes)
            f.write(digest.digest())

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, method: str = "auto", threads: int | None = None,
             max_bytes: int | None = None) -> HashIndex:
        """Read an index written by :meth:`save`; raise :class:`IndexFileError` if it is damaged
        or larger than ``max_bytes`` (a store passes the size its checkpoint expects).

        A missing file raises ``FileNotFoundError``.
        """
        hsize = cls._HEADER.size
        # Our own file: a regular file only, a planted link not followed, read with a bound (the
        # size its header promises), so a FIFO or /dev/zero in its place can't hang or flood us.
        try:
            with open_regular(os.fspath(path), follow_symlinks=False, max_bytes=max_bytes) as f:
                head = f.read(hsize)
                limit = hsize + cls._DIGEST  # all that a damaged header lets us read
                if len(head) == hsize:
                    magic, version, bits, n, _ = cls._HEADER.unpack_from(head)
                    if magic == cls._MAGIC and version == cls._VERSION and n >= 0 and 0 < bits <= 1 << 16:
                        limit = cls.file_size(n, bits)
                        size = os.fstat(f.fileno()).st_size
                        if size != limit:  # before reading: a header may promise anything
                            raise IndexFileError(path, f"size {size} bytes does not match {n} entries ({limit} bytes)")
                data = head + f.read(limit - len(head) + 1)
        except NotRegularFileError as e:
            raise IndexFileError(path, e.strerror) from e
        if len(data) < hsize + cls._DIGEST:
            raise IndexFileError(path, f"truncated: {len(data)} bytes is shorter than a header")
        magic, version, bits, n, next_id = cls._HEADER.unpack_from(data)
        if magic != cls._MAGIC:
            raise IndexFileError(path, "not a photomatch index file (bad magic)")
        if version != cls._VERSION:
            raise IndexFileError(path, f"unsupported index format version {version} (expected {cls._VERSION})")
        if bits <= 0 or bits % 8 or bits > 1 << 16:
            raise IndexFileError(path, f"invalid code length {bits} bits")
        if n < 0 or next_id < 0:
            raise IndexFileError(path, "invalid entry count or next id")
        nbytes = bits // 8
        expected = hsize + n * (8 + nbytes) + cls._DIGEST
        if len(data) != expected:
            raise IndexFileError(path, f"size {len(data)} bytes does not match {n} entries ({expected} bytes)")
        if hashlib.sha256(memoryview(data)[: -cls._DIGEST]).digest() != data[-cls._DIGEST :]:
            raise IndexFileError(path, "checksum mismatch (the file is corrupt)")
        ids = np.frombuffer(data, "<i8", n, hsize).astype(np.int64)
        codes = np.frombuffer(data, np.uint8, n * nbytes, hsize + 8 * n).reshape(n, nbytes).copy()
        if n and (ids.min() < 0 or _has_duplicates(ids) or ids.max() >= next_id):
            raise IndexFileError(path, "invalid ids (negative, duplicated or above the next id)")
        index = cls(bits, method=method, threads=threads)
        index._codes_buf, index._ids_buf, index._n, index._next_id = codes, ids, n, next_id
        return index
