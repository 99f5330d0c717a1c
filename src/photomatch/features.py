"""Local-feature retrieval: which reported images share keypoints with a query?

Region hashes find a reported photo when some query region frames it closely. Crops that keep
half the picture, and small rotations, change every frame a hash can see; local features do not
care. ``FeatureIndex`` holds the ORB descriptors of every reported image (opt-in, see the privacy
note in ``photomatch.verify``) in a FAISS binary index; a query's descriptors vote for the items
of their nearest neighbours, and the few items with most votes are then confirmed with
``photomatch.verify.verify`` (RANSAC), which is what keeps false matches out.

Small indexes are searched exactly (``IndexBinaryFlat``); from ``ivf_from`` descriptors on, an
``IndexBinaryIVF`` is trained so search cost stays nearly flat as the store grows.

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

import faiss
import numpy as np

from .verify import DESCRIPTOR_BYTES, Features, Verification, verify

__all__ = ["FeatureIndex"]


class FeatureIndex:
    """ORB descriptors of reported images, searchable by votes; see the module docstring."""

    def __init__(self, *, ivf_from: int = 10_000, nprobe: int = 2, threads: int = 1) -> None:
        if ivf_from < 1 or nprobe < 1 or threads < 1:
            msg = f"ivf_from, nprobe and threads must be >= 1, got {ivf_from}, {nprobe}, {threads}"
            raise ValueError(msg)
        self._ivf_from = ivf_from
        self._nprobe = nprobe
        self._threads = threads
        self._features: dict[int, Features] = {}
        self._index: faiss.IndexBinary | None = None
        self._labels = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._features)

    def add(self, item_id: int, features: Features) -> None:
        """Add (or replace) the features of one reported item; the index is rebuilt on next search."""
        if not isinstance(features, Features):
            msg = f"features: expected Features, got {type(features).__name__}"
            raise TypeError(msg)
        self._features[int(item_id)] = features
        self._index = None

    def remove(self, item_id: int) -> None:
        """Forget one item (no error if absent)."""
        if self._features.pop(int(item_id), None) is not None:
            self._index = None

    def features_of(self, item_id: int) -> Features:
        """The stored features of ``item_id`` (KeyError if absent)."""
        return self._features[int(item_id)]

    def build(self) -> None:
        """Build the search structure now, e.g. before threads share the index (searches then only read)."""
        if self._index is None:
            self._build()

    def _build(self) -> None:
        items = [i for i, f in self._features.items() if len(f)]
        descs = [self._features[i].descriptors for i in items]
        labels = [np.full(len(self._features[i]), i, np.int64) for i in items]
        data = np.ascontiguousarray(np.concatenate(descs)) if descs else np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
        self._labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
        d = DESCRIPTOR_BYTES * 8
        if len(data) >= self._ivf_from:
            # nlist ~ sqrt(N) and nprobe 2 keep the true item among the top candidates as often as
            # exhaustive search, at a small fraction of its cost (benchmarks/README.md).
            nlist = int(min(4096, max(64, np.sqrt(len(data)))))
            quantizer = faiss.IndexBinaryFlat(d)
            index = faiss.IndexBinaryIVF(quantizer, d, nlist)
            rng = np.random.default_rng(0)
            sample = data[rng.choice(len(data), size=min(len(data), 40 * nlist), replace=False)]
            index.train(sample)
            index.nprobe = self._nprobe
            # The quantizer must outlive the index (FAISS does not own it from Python).
            index._quantizer_ref = quantizer  # type: ignore[attr-defined]
        else:
            index = faiss.IndexBinaryFlat(d)
        index.add(data)
        self._index = index

    def search(self, query: Features, *, top: int = 5, max_distance: int = 64) -> list[tuple[int, int]]:
        """Items with most votes: each query descriptor votes once for the item of its nearest stored
        descriptor when that is within ``max_distance`` bits. Returns (item_id, votes), most first."""
        if not isinstance(query, Features):
            msg = f"query: expected Features, got {type(query).__name__}"
            raise TypeError(msg)
        if self._index is None:
            self._build()
        if len(query) == 0 or self._index is None or self._index.ntotal == 0:
            return []
        faiss.omp_set_num_threads(self._threads)
        dist, idx = self._index.search(np.ascontiguousarray(query.descriptors), 1)
        ok = (idx[:, 0] >= 0) & (dist[:, 0] <= max_distance)
        if not ok.any():
            return []
        items, votes = np.unique(self._labels[idx[ok, 0]], return_counts=True)
        order = np.argsort(-votes, kind="stable")[:top]
        return [(int(items[i]), int(votes[i])) for i in order]

    def match(self, query: Features, *, top: int = 5, **verify_options) -> list[tuple[int, Verification]]:
        """Search, then verify the ``top`` candidates; returns the confirmed ones, best score first."""
        out = []
        for item, _votes in self.search(query, top=top):
            v = verify(query, self._features[item], **verify_options)
            if v.ok:
                out.append((item, v))
        out.sort(key=lambda iv: -iv[1].score)
        return out
