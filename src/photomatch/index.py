"""Exact Hamming search over packed binary hashes: :class:`HashIndex`.

Codes are packed ``uint8`` arrays of shape ``(n, bits // 8)`` (PDQ: 256 bits, pHash: 64 bits);
ids are non-negative ``int64``. Every search is exact: ``range_search`` returns every stored code
within the threshold (inclusive), sorted by ``(distance, id)`` within each query.

Two structures answer queries:

- ``"flat"``: FAISS's brute-force Hamming scan (the engine of ``IndexBinaryFlat``), run directly
  on our code array so the codes are held once.
- ``"mih"``: multi-index hashing (see ``_core/mih.c``), exact by the pigeonhole principle.

``kind="auto"`` picks by size; either can be forced.

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
import tempfile
from typing import Any

import faiss
import numpy as np

from .errors import PhotomatchError

__all__ = ["HashIndex", "IndexFileError", "codes_checksum"]

KINDS = ("auto", "flat", "mih")


class IndexFileError(PhotomatchError, ValueError):
    """A saved index file is corrupt, truncated, of another format version or for other codes.

    ``path`` names the file and ``reason`` says what is wrong with it.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


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


def _flat_range(xb: np.ndarray, xq: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions within ``threshold`` (inclusive) of each query, unsorted, via FAISS."""
    nq, nb, nbytes = xq.shape[0], xb.shape[0], xb.shape[1]
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


# ---------------------------------------------------------------------------------------------


class HashIndex:
    """An exact Hamming index of packed binary codes with int64 ids.

    ``bits`` is the code length (256 for PDQ, 64 for pHash; any positive multiple of 8 works).
    ``kind`` is ``"auto"`` (flat below a size, multi-index hashing above), ``"flat"`` or
    ``"mih"``. Results never depend on ``kind``; only speed and memory do.

    Ids are unique: adding an id that is already present raises ``ValueError``. Default ids
    continue from the highest id ever added (removed ids are not reused, so a stale reference
    can never point at a new entry). Not safe for concurrent mutation from several threads;
    concurrent queries are fine.

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

    def __init__(self, bits: int = 256, *, kind: str = "auto") -> None:
        self._bits = _check_bits(bits)
        self._nbytes = self._bits // 8
        if kind not in KINDS:
            msg = f"kind must be one of {KINDS}, got {kind!r}"
            raise ValueError(msg)
        self._kind_requested = kind
        self._codes_buf = np.empty((0, self._nbytes), np.uint8)
        self._ids_buf = np.empty(0, np.int64)
        self._n = 0
        self._next_id = 0

    # -- properties ----------------------------------------------------------------------------

    @property
    def bits(self) -> int:
        """Code length in bits."""
        return self._bits

    @property
    def kind(self) -> str:
        """The structure that answers queries now: ``"flat"`` or ``"mih"``."""
        if self._kind_requested == "auto":
            return "flat"
        return self._kind_requested

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"HashIndex(bits={self._bits}, kind={self._kind_requested!r}, n={self._n})"

    @property
    def _codes(self) -> np.ndarray:
        return self._codes_buf[: self._n]

    @property
    def _ids(self) -> np.ndarray:
        return self._ids_buf[: self._n]

    def ids(self) -> np.ndarray:
        """A copy of every stored id, in storage order."""
        return self._ids.copy()

    def codes(self) -> np.ndarray:
        """A copy of every stored code, aligned with :meth:`ids`."""
        return self._codes.copy()

    def checksum(self) -> int:
        """The order-independent checksum of the (id, code) set; see :func:`codes_checksum`."""
        return codes_checksum(self._codes, self._ids, bits=self._bits)

    # -- mutation ------------------------------------------------------------------------------

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        cap = self._ids_buf.shape[0]
        if need <= cap:
            return
        new_cap = max(need, cap + cap // 2, 16)
        codes = np.empty((new_cap, self._nbytes), np.uint8)
        codes[: self._n] = self._codes
        ids = np.empty(new_cap, np.int64)
        ids[: self._n] = self._ids
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
            new_ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        else:
            new_ids = _as_ids(ids)
            if new_ids.shape[0] != n:
                msg = f"ids has {new_ids.shape[0]} entries but codes has {n}"
                raise ValueError(msg)
            if n and new_ids.min() < 0:
                msg = "ids must be non-negative (-1 is the padding of search results)"
                raise ValueError(msg)
            if n and np.unique(new_ids).shape[0] != n:
                msg = "ids contains duplicates"
                raise ValueError(msg)
            if n and self._n:
                clash = np.isin(new_ids, self._ids)
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
        self._invalidate()
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
        if gone.size == 0 or self._n == 0:
            return 0
        keep = ~np.isin(self._ids, gone)
        removed = int(self._n - keep.sum())
        if removed:
            k = self._n - removed
            self._codes_buf[:k] = self._codes[keep]
            self._ids_buf[:k] = self._ids[keep]
            self._n = k
            self._invalidate()
        return removed

    def _invalidate(self) -> None:
        """Forget derived structures after a mutation."""

    # -- queries -------------------------------------------------------------------------------

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
        if self._n == 0 or nq == 0:
            return np.zeros(nq + 1, np.int64), np.empty(0, np.int32), np.empty(0, np.int64)
        lims, dist, pos = _flat_range(self._codes, xq, t)
        dist, ids = _sort_results(lims, dist, self._ids[pos])
        return lims, dist, ids

    def search(self, codes: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored codes of each query: ``(distances, ids)`` of shape (n, k).

        Exact; ties are broken by smaller id; when the index holds fewer than ``k`` codes, rows
        are padded with id ``-1`` and distance ``-1``.

        >>> import numpy as np
        >>> index = HashIndex(bits=64)
        >>> _ = index.add(np.array([[0] * 8, [3] + [0] * 7], np.uint8))
        >>> d, i = index.search(np.zeros(8, np.uint8), k=3)
        >>> d.tolist(), i.tolist()
        ([[0, 2, -1]], [[0, 1, -1]])
        """
        xq = _as_codes(codes, self._nbytes)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 1:
            msg = f"k must be a positive int, got {k!r}"
            raise ValueError(msg)
        k = int(k)
        nq = xq.shape[0]
        out_d = np.full((nq, k), -1, np.int32)
        out_i = np.full((nq, k), -1, np.int64)
        if self._n == 0 or nq == 0:
            return out_d, out_i
        kk = min(k, self._n)
        d, _ = faiss.knn_hamming(xq, self._codes, kk)
        # The k-th distance bounds the answer; a range search at it returns every tie, which we
        # then order by (distance, id), so the answer does not depend on FAISS's tie-breaking.
        kth = d[:, kk - 1].astype(np.int64)
        for radius in np.unique(kth):
            rows = np.flatnonzero(kth == radius)
            lims, dist, ids = self._range_rows(xq[rows], int(radius))
            for j, row in enumerate(rows):
                a, b = lims[j], min(lims[j + 1], lims[j] + kk)
                out_d[row, : b - a] = dist[a:b]
                out_i[row, : b - a] = ids[a:b]
        return out_d, out_i

    def _range_rows(self, xq: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lims, dist, pos = _flat_range(self._codes, xq, t)
        dist, ids = _sort_results(lims, dist, self._ids[pos])
        return lims, dist, ids

    # -- persistence ---------------------------------------------------------------------------

    _MAGIC = b"PMHIDX\r\n"
    _VERSION = 1
    _HEADER = struct.Struct("<8sIIqq")  # magic, version, bits, n, next_id
    _DIGEST = 32  # sha256 of everything before it

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically, readable by the owner only (0600).

        The file is written to a temporary file in the same folder, fsynced, renamed over
        ``path`` and the folder fsynced, so a crash leaves either the old or the new file.
        """
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        header = self._HEADER.pack(self._MAGIC, self._VERSION, self._bits, self._n, self._next_id)
        ids = np.ascontiguousarray(self._ids, dtype="<i8")
        codes = np.ascontiguousarray(self._codes)
        digest = hashlib.sha256()
        # numpy arrays are buffers: hash and write them without copying (1e7 codes is 320 MB).
        for part in (header, ids, codes):
            digest.update(part)
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
        try:
            os.fchmod(fd, 0o600)  # mkstemp already uses 0600; be explicit against odd platforms
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(ids)
                f.write(codes)
                f.write(digest.digest())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(folder)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, kind: str = "auto") -> HashIndex:
        """Read an index written by :meth:`save`; raise :class:`IndexFileError` if it is damaged.

        A missing file raises ``FileNotFoundError``.
        """
        with open(path, "rb") as f:
            data = f.read()
        hsize = cls._HEADER.size
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
        if n and (ids.min() < 0 or np.unique(ids).shape[0] != n or ids.max() >= next_id):
            raise IndexFileError(path, "invalid ids (negative, duplicated or above the next id)")
        index = cls(bits, kind=kind)
        index._codes_buf, index._ids_buf, index._n, index._next_id = codes, ids, n, next_id
        return index


def _fsync_dir(folder: str) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
