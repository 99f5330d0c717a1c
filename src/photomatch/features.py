"""Local-feature retrieval: which reported images share keypoints with a query?

Region hashes find a reported photo when some query region frames it closely. Crops that keep
half the picture, and small rotations, change every frame a hash can see; local features do not
care. ``FeatureIndex`` holds the ORB descriptors of every reported image (opt-in, see the privacy
note in ``photomatch.verify``), each labelled with its item; a query's descriptors vote for the
items of their nearest neighbours, and the few items with most votes are then confirmed with
``photomatch.verify.verify`` (RANSAC) on the candidates' own features, read from the store when
needed: the index holds descriptors and item ids only, not the features.

Small indexes are searched exactly (a flat scan). From ``ivf_from`` descriptors on, an inverted
file: ``nlist`` centroids are drawn once from the stored descriptors (a sample of real
descriptors is a good enough coarse quantizer for voting, and costs nothing to "train", where
k-means on 1e7 binary descriptors would take minutes), every descriptor goes to the list of its
nearest centroid, and a query scans the ``nprobe`` nearest lists; the cost per query grows as
the square root of the store. New descriptors are added to the lists as they come; the
centroids are drawn again only when the index has grown ``RETRAIN_GROWTH``-fold since. The whole
index serialises to bytes (:meth:`to_bytes`), which the store's feature cache saves beside it.

>>> import numpy as np, cv2
>>> from photomatch.verify import extract_features
>>> rng = np.random.default_rng(0)
>>> imgs = [cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (0, 0), 2) for _ in range(3)]
>>> index = FeatureIndex()
>>> for i, im in enumerate(imgs):
...     index.add(i, extract_features(im))
>>> [item for item, votes in index.search(extract_features(imgs[1][20:200, 30:300]), top=1)]
[1]
"""

from __future__ import annotations

import io
import os
import struct
from typing import IO

import faiss
import numpy as np

from ._fileio import open_regular
from .errors import FeatureFormatError
from .index import codes_checksum
from .verify import DESCRIPTOR_BYTES, Features

__all__ = ["FeatureIndex"]

RETRAIN_GROWTH = 16
"""Draw new centroids when the index holds this many times the descriptors it was built with."""

_BITS = DESCRIPTOR_BYTES * 8
_MAGIC = b"PMFX"
_VERSION = 1
_HEADER = struct.Struct("<4sIqqq")  # magic, version, items, trained size, serialised FAISS bytes


def _nlist(n: int) -> int:
    # Per query descriptor: nlist centroid comparisons + nprobe * n / nlist list entries, least
    # at nlist ~ sqrt(nprobe * n); bounded so a list never gets tiny and the quantizer stays small.
    return int(min(16384, max(64, np.sqrt(4 * n))))


class FeatureIndex:
    """ORB descriptors of reported images, labelled with their items, searchable by votes.

    ``ivf_from``: descriptors from which the inverted file is used (a flat scan below);
    ``nprobe``: lists scanned per query descriptor; ``threads``: FAISS threads per search.
    """

    def __init__(self, *, ivf_from: int = 10_000, nprobe: int = 4, threads: int = 1) -> None:
        if ivf_from < 1 or nprobe < 1 or threads < 1:
            msg = f"ivf_from, nprobe and threads must be >= 1, got {ivf_from}, {nprobe}, {threads}"
            raise ValueError(msg)
        self._ivf_from, self._nprobe, self._threads = ivf_from, nprobe, threads
        self._counts: dict[int, int] = {}  # item -> descriptors held
        self._index: faiss.IndexBinary = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(_BITS))
        self._trained = 0  # descriptors the centroids were drawn from (0: flat)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._counts

    @property
    def descriptors(self) -> int:
        """Descriptors held (of every item)."""
        return sum(self._counts.values())

    @property
    def method(self) -> str:
        return "ivf" if self._trained else "flat"

    def item_ids(self) -> np.ndarray:
        return np.fromiter(self._counts, np.int64, len(self._counts))

    def checksum(self) -> int:
        """An order-independent checksum of the (item, descriptor count) pairs held."""
        ids = self.item_ids()
        counts = np.fromiter((self._counts[i] for i in ids.tolist()), "<u4", len(ids))
        return codes_checksum(counts.view(np.uint8).reshape(-1, 4), ids, bits=32)

    def add(self, item_id: int, features: Features | np.ndarray) -> None:
        """Add the features (or bare descriptors) of one reported item not held yet."""
        descs = features.descriptors if isinstance(features, Features) else features
        if not isinstance(descs, np.ndarray) or descs.dtype != np.uint8 or descs.ndim != 2 \
                or descs.shape[1] != DESCRIPTOR_BYTES:
            msg = f"features: expected Features or uint8 descriptors of shape (n, {DESCRIPTOR_BYTES})"
            raise TypeError(msg)
        item = int(item_id)
        if item in self._counts:
            msg = f"item {item} is already in the feature index (remove it first)"
            raise ValueError(msg)
        self._counts[item] = len(descs)
        if len(descs):
            self._pending.append((np.ascontiguousarray(descs), np.full(len(descs), item, np.int64)))

    def remove(self, item_ids: object) -> int:
        """Forget items (absent ones are ignored); returns how many were held."""
        ids = np.unique(np.asarray(item_ids, np.int64).reshape(-1))
        held = [i for i in ids.tolist() if i in self._counts]
        if not held:
            return 0
        self.build()
        for i in held:
            del self._counts[i]
        self._index.remove_ids(faiss.IDSelectorBatch(np.array(held, np.int64)))
        return len(held)

    def build(self) -> None:
        """Take pending descriptors in (and draw centroids when due): searches then only read,
        so threads may share the index."""
        if not self._pending:
            return
        descs = np.concatenate([d for d, _ in self._pending])
        labels = np.concatenate([lab for _, lab in self._pending])
        self._pending = []
        total = self._index.ntotal + len(descs)
        due = total >= self._ivf_from if not self._trained else total >= RETRAIN_GROWTH * self._trained
        faiss.omp_set_num_threads(self._threads)  # as in search: no idle OpenMP threads spinning
        if due:
            old_d, old_l = self._all()
            descs, labels = np.concatenate([old_d, descs]), np.concatenate([old_l, labels])
            self._index = self._new_ivf(descs)
        self._index.add_with_ids(descs, labels)

    def _new_ivf(self, descs: np.ndarray) -> faiss.IndexBinary:
        nlist = _nlist(len(descs))
        rng = np.random.default_rng(len(descs))
        centroids = descs[rng.choice(len(descs), nlist, replace=False)]
        quantizer = faiss.IndexBinaryFlat(_BITS)
        quantizer.add(np.ascontiguousarray(centroids))
        index = faiss.IndexBinaryIVF(quantizer, _BITS, nlist)
        index.is_trained = True
        index.own_fields = True  # the index frees its quantizer
        quantizer.this.disown()
        index.nprobe = self._nprobe
        self._trained = len(descs)
        return index

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every descriptor held and its label (to rebuild with new centroids)."""
        index = self._index
        if not self._trained:
            n = index.ntotal
            flat = faiss.downcast_IndexBinary(index.index)
            descs = faiss.vector_to_array(flat.xb).reshape(n, DESCRIPTOR_BYTES)
            return descs, faiss.vector_to_array(index.id_map).astype(np.int64)
        inv = index.invlists
        parts_d, parts_l = [], []
        for lst in range(index.nlist):
            n = inv.list_size(lst)
            if n:
                parts_d.append(faiss.rev_swig_ptr(inv.get_codes(lst), n * DESCRIPTOR_BYTES).copy())
                parts_l.append(faiss.rev_swig_ptr(inv.get_ids(lst), n).copy())
        if not parts_d:
            return np.zeros((0, DESCRIPTOR_BYTES), np.uint8), np.zeros(0, np.int64)
        return np.concatenate(parts_d).reshape(-1, DESCRIPTOR_BYTES), np.concatenate(parts_l).astype(np.int64)

    def search(self, query: Features, *, top: int = 5, max_distance: int = 64) -> list[tuple[int, int]]:
        """Items with most votes: each query descriptor votes once for the item of its nearest stored
        descriptor when that is within ``max_distance`` bits. Returns (item_id, votes), most first."""
        if not isinstance(query, Features):
            msg = f"query: expected Features, got {type(query).__name__}"
            raise TypeError(msg)
        self.build()
        if len(query) == 0 or self._index.ntotal == 0:
            return []
        faiss.omp_set_num_threads(self._threads)
        dist, labels = self._index.search(np.ascontiguousarray(query.descriptors), 1)
        ok = (labels[:, 0] >= 0) & (dist[:, 0] <= max_distance)
        if not ok.any():
            return []
        items, votes = np.unique(labels[ok, 0], return_counts=True)
        order = np.argsort(-votes, kind="stable")[:top]
        return [(int(items[i]), int(votes[i])) for i in order]

    def search_many(self, queries: list[Features], *, top: int = 5, max_distance: int = 64) -> list[list[tuple[int, int]]]:
        """``search`` for several queries (the views of one screenshot) in one index search: each
        query's descriptors vote only within that query. Returns one list per query."""
        for q in queries:
            if not isinstance(q, Features):
                msg = f"queries: expected Features, got {type(q).__name__}"
                raise TypeError(msg)
        self.build()
        out: list[list[tuple[int, int]]] = [[] for _ in queries]
        sizes = [len(q) for q in queries]
        if not sum(sizes) or self._index.ntotal == 0:
            return out
        faiss.omp_set_num_threads(self._threads)
        descs = np.ascontiguousarray(np.concatenate([q.descriptors for q in queries if len(q)]))
        dist, labels = self._index.search(descs, 1)
        owner = np.repeat(np.arange(len(queries)), sizes)
        ok = (labels[:, 0] >= 0) & (dist[:, 0] <= max_distance)
        if not ok.any():
            return out
        # Votes per (query, item), counted at once, then ordered within each query.
        pairs, votes = np.unique(np.stack([owner[ok], labels[ok, 0]], axis=1), axis=0, return_counts=True)
        for qi in np.unique(pairs[:, 0]):
            rows = np.flatnonzero(pairs[:, 0] == qi)
            order = rows[np.argsort(-votes[rows], kind="stable")][:top]
            out[int(qi)] = [(int(pairs[r, 1]), int(votes[r])) for r in order]
        return out

    # -- bytes ---------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The whole index (items, counts, the FAISS structure) as bytes; see :meth:`from_bytes`."""
        self.build()
        ids = self.item_ids()
        counts = np.fromiter((self._counts[i] for i in ids.tolist()), "<i4", len(ids))
        blob = faiss.serialize_index_binary(self._index)
        head = _HEADER.pack(_MAGIC, _VERSION, len(ids), self._trained, blob.size)
        return head + ids.astype("<i8").tobytes() + counts.tobytes() + blob.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, *, nprobe: int = 4, threads: int = 1,
                   ivf_from: int = 10_000) -> FeatureIndex:
        """Inverse of :meth:`to_bytes`; FeatureFormatError when the bytes are not one."""
        return cls._read(io.BytesIO(data), len(data), nprobe=nprobe, threads=threads, ivf_from=ivf_from)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, nprobe: int = 4, threads: int = 1,
             ivf_from: int = 10_000) -> FeatureIndex:
        """Read a file holding :meth:`to_bytes`, in pieces: loading needs about the index's own
        size in memory, not twice it (the file is not held whole as well). Our own file: a
        regular file only, a planted link not followed (``open_regular``), read no further than
        its size, which its header must account for before anything else is read."""
        with open_regular(os.fspath(path), follow_symlinks=False) as f:
            return cls._read(f, os.fstat(f.fileno()).st_size, nprobe=nprobe, threads=threads, ivf_from=ivf_from)

    @classmethod
    def _read(cls, f: IO[bytes], size: int, *, nprobe: int, threads: int, ivf_from: int) -> FeatureIndex:
        head = f.read(_HEADER.size)
        if len(head) < _HEADER.size:
            raise FeatureFormatError("feature index: shorter than its header")
        magic, version, n, trained, nblob = _HEADER.unpack(head)
        if magic != _MAGIC or version != _VERSION:
            raise FeatureFormatError(f"feature index: not version {_VERSION} of a photomatch feature index")
        if n < 0 or trained < 0 or nblob < 0 or size != _HEADER.size + 12 * n + nblob:
            raise FeatureFormatError("feature index: sizes in the header do not match the data")
        ids = np.frombuffer(f.read(8 * n), "<i8").astype(np.int64)
        counts = np.frombuffer(f.read(4 * n), "<i4").astype(np.int64)
        try:
            index = faiss.read_index_binary(faiss.PyCallbackIOReader(f.read, 1 << 20))
        except RuntimeError as exc:
            raise FeatureFormatError(f"feature index: unreadable FAISS structure ({exc})") from None
        if index.ntotal != int(counts.sum()) or index.d != _BITS:
            raise FeatureFormatError("feature index: the structure does not hold the descriptors counted")
        out = cls(ivf_from=ivf_from, nprobe=nprobe, threads=threads)
        out._counts = dict(zip(ids.tolist(), counts.tolist()))
        out._index, out._trained = index, int(trained)
        if trained:
            out._index.nprobe = nprobe
        return out
