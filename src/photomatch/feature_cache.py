"""The feature index of a store: a :class:`~photomatch.features.FeatureIndex` over the ORB
descriptors of every reported item with features, kept in step with the database and saved beside
it, as :mod:`photomatch.index_cache` keeps the hash indexes.

The database's ``keypoints`` rows are the truth; the index is a cache of their descriptors (the
first :data:`INDEXED_KEYPOINTS` of each item: ``extract_features`` orders them strongest first,
spread over the picture, and retrieval needs only enough to vote). Verification never reads the
cache: it reads each candidate's own features from the database when it needs them. In memory,
the index is loaded at the first feature search and brought up to the snapshot of every search:

- items with an id above the highest one held are added (ids are never reused);
- after a removal of items with features (the counter ``features`` in the table ``removals``)
  the item sets are compared and the difference applied;
- after features of an item were replaced in place (``Store.set_keypoints``; the counter
  ``features-rewritten``) the index is rebuilt from the database.

On disk: ``<store>.features.index``, written atomically and 0600, with an
:class:`~photomatch.index_cache.IndexCheckpoint` row ``features`` (item count, checksum of the
(item, descriptor count) pairs, removal counter) written in the same transaction. A file that
does not match its checkpoint is ignored and the index rebuilt from the database; a process
killed at any point leaves the old file or the new one.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from ._fileio import atomic_write
from .errors import FeatureFormatError
from .features import FeatureIndex
from .index_cache import IndexCheckpoint, damage, discard_cache_file, removal_count
from .verify import Features

__all__ = ["FEATURES", "FeatureCache", "INDEXED_KEYPOINTS", "REWRITTEN"]

log = logging.getLogger(__name__)

FEATURES = "features"
"""Name of the feature index in the tables ``removals`` and ``index_checkpoints``."""
REWRITTEN = "features-rewritten"
"""Counter of in-place replacements of an item's features (the index is then rebuilt)."""
INDEXED_KEYPOINTS = 256
"""Descriptors of each item that vote (the strongest, spread over the picture)."""
DESCRIPTOR = "orb"
_FETCH = 2000  # keypoint rows per fetch while catching up (each some 20 KB)


class _Loaded:
    def __init__(self, index: FeatureIndex, origin: str, removals: int | None, rewritten: int | None) -> None:
        self.index = index
        self.origin = origin
        ids = index.item_ids()
        self.max_id = int(ids.max()) if ids.size else 0
        self.synced: Any = None
        self.removals, self.rewritten = removals, rewritten
        self.unsaved = origin != "cache"


class FeatureCache:
    """The feature index of one store: loading, catching up with the database, saving. The caller
    (``Store``) holds its lock around every call and passes connections inside its transactions."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._state: _Loaded | None = None

    def path(self) -> Path:
        return Path(f"{self._db_path}.{FEATURES}.index")

    def sync(self, con: sqlite3.Connection, mark: Any) -> FeatureIndex:
        """The feature index, brought up to the snapshot of ``con``."""
        state = self._state
        if state is None:
            state = self._state = self._load(con)
        if state.synced == mark:
            return state.index
        rewritten = removal_count(con, REWRITTEN)
        if state.rewritten is not None and rewritten != state.rewritten:
            state = self._state = _Loaded(FeatureIndex(), "rebuilt (features replaced)", None, None)
        self._add_rows(state, con.execute("SELECT item_id, data FROM keypoints WHERE kind = ? AND item_id > ?"
                                          " ORDER BY item_id", (DESCRIPTOR, state.max_id)))
        removals = removal_count(con, FEATURES)
        if removals != state.removals:
            self._compare_ids(con, state)
        state.removals, state.rewritten = removals, rewritten
        state.index.build()
        state.synced = mark
        return state.index

    def _add_rows(self, state: _Loaded, cur: sqlite3.Cursor) -> None:
        while rows := cur.fetchmany(_FETCH):
            for item_id, blob in rows:
                try:
                    descriptors = Features.from_bytes(bytes(blob)).descriptors[:INDEXED_KEYPOINTS]
                except FeatureFormatError as exc:  # one damaged row must not stop every search
                    log.warning("%s: features of item %d unreadable (%s); not indexed", self._db_path, item_id, exc)
                    continue
                if int(item_id) not in state.index:
                    state.index.add(int(item_id), descriptors)
                state.max_id = max(state.max_id, int(item_id))
            state.index.build()  # bounded memory: pending descriptors go into the lists per fetch
            state.unsaved = True

    def _compare_ids(self, con: sqlite3.Connection, state: _Loaded) -> None:
        db_ids = {int(r[0]) for r in con.execute("SELECT item_id FROM keypoints WHERE kind = ?", (DESCRIPTOR,))}
        have = set(state.index.item_ids().tolist())
        if have - db_ids:
            state.index.remove(sorted(have - db_ids))
            state.unsaved = True
        missing = sorted(db_ids - have)
        for i in range(0, len(missing), 500):
            chunk = missing[i:i + 500]
            self._add_rows(state, con.execute(
                f"SELECT item_id, data FROM keypoints WHERE kind = ? AND item_id IN ({','.join('?' * len(chunk))})",
                (DESCRIPTOR, *chunk)))

    def _load(self, con: sqlite3.Connection) -> _Loaded:
        path = self.path()
        why = "no cache file"
        if os.path.lexists(path):
            checkpoint = IndexCheckpoint.read(con, FEATURES)
            try:
                index = FeatureIndex.load(path)
            except (OSError, FeatureFormatError) as exc:
                why = f"unreadable cache ({type(exc).__name__})"
                # Damage, or a FIFO, a link or a device planted in its place: say so, once.
                log.warning("%s: %s; rebuilding the feature index from the store", path, damage(exc))
            else:
                if checkpoint is None:
                    why = "cache not recorded in the store"
                elif not checkpoint.describes(index):
                    why = "cache does not match the store's record"
                else:
                    return _Loaded(index, "cache", checkpoint.removals, removal_count(con, REWRITTEN))
            log.info("%s: rebuilding the feature index from the store: %s", self._db_path, why)
        return _Loaded(FeatureIndex(), f"rebuilt ({why})", None, None)

    def removed(self, item_ids: list[int]) -> None:
        """Drop removed items from a loaded index now (ids are never reused: always right)."""
        if self._state is not None and self._state.index.remove(item_ids):
            self._state.unsaved = True

    def discard_file(self, con: sqlite3.Connection) -> None:
        """Delete the cache file inside a removing transaction (see
        :func:`~photomatch.index_cache.discard_cache_file`): removed items' descriptors go with it."""
        discard_cache_file(con, self.path(), FEATURES)
        if self._state is not None:
            self._state.unsaved = True

    def clear(self) -> None:
        self._state = None

    @property
    def unsaved(self) -> bool:
        return self._state is not None and self._state.unsaved

    def save(self, con: sqlite3.Connection, mark: Any) -> None:
        """Inside a write transaction: bring the index up to it, write the file, record its
        checkpoint. Call :meth:`saved` once the transaction has committed."""
        index = self.sync(con, mark)
        with atomic_write(str(self.path())) as f:
            f.write(index.to_bytes())
        IndexCheckpoint.of(index, int(self._state.removals)).write(con, FEATURES)  # type: ignore[union-attr]

    def saved(self, mark: Any) -> None:
        state = self._state
        if state is not None:
            state.synced, state.unsaved, state.origin = mark, False, "cache"

    def info(self) -> dict[str, Any]:
        state = self._state
        return {
            "cache_file": str(self.path()),
            "cache_present": self.path().exists(),
            "loaded": state is not None,
            "items": None if state is None else len(state.index),
            "descriptors": None if state is None else state.index.descriptors,
            "origin": None if state is None else state.origin,
            "method": None if state is None else state.index.method,
        }
