"""The index cache of a store: one :class:`~photomatch.index.HashIndex` per algorithm, kept in step
with the SQLite database and saved beside it, with a typed checkpoint saying what it was built from.

The database is the truth; the index is a cache of its ``(hash_id, code)`` rows. In memory it is
loaded on the first search of an algorithm, then brought up to the snapshot of every search:

- rows with a ``hash_id`` above the highest one the index holds are added (ids are never reused,
  ``AUTOINCREMENT`` with one writer at a time, and hash rows are never updated, so a cached pair
  is either still right or gone);
- after a removal (a per-algorithm counter in the table ``removals`` that every removal
  transaction increments) the id sets are compared and the difference applied.

On disk (``<store>.<algorithm>.index``, written atomically and 0600 by :meth:`HashIndex.save`) it
is paired with an :class:`IndexCheckpoint` row in the table ``index_checkpoints``: the count and
checksum of the saved entries and the removal counter they reflect. The file and its checkpoint
change together under the store's write lock; a file that does not match its checkpoint (damaged,
foreign, older or newer after a crash between the two) is ignored and the index rebuilt from the
database. A cache whose checkpoint has the current removal counter needs only the rows added since.
A removal deletes the cache files of what it removed, in its own transaction
(:func:`discard_cache_file`): a removed hash is in no file once the removal returns.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .index import HashIndex

__all__ = ["SCHEMA", "IndexCache", "IndexCheckpoint", "damage", "discard_cache_file", "note_removals", "removal_count"]

log = logging.getLogger(__name__)

#: Tables of the index cache, created with the store's own (see store._SCHEMA).
SCHEMA = """
CREATE TABLE removals (
    algorithm TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE index_checkpoints (
    algorithm TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    checksum INTEGER NOT NULL,
    removals INTEGER NOT NULL
);
"""
_CHUNK = 500  # ids per "IN (...)" query: well under SQLite's bound-parameter limit
_FETCH = 65536  # rows per fetch while catching up


@dataclass(frozen=True)
class IndexCheckpoint:
    """What a saved index cache holds: ``count`` entries whose :meth:`HashIndex.checksum` is
    ``checksum``, taken when the algorithm's removal counter was ``removals``."""

    count: int
    checksum: int
    removals: int

    @classmethod
    def of(cls, index: HashIndex, removals: int) -> IndexCheckpoint:
        return cls(len(index), index.checksum(), removals)

    def describes(self, index: HashIndex) -> bool:
        """Whether ``index`` holds exactly the entries this checkpoint was taken of."""
        return len(index) == self.count and index.checksum() == self.checksum

    @classmethod
    def read(cls, con: sqlite3.Connection, algorithm: str) -> IndexCheckpoint | None:
        row = con.execute("SELECT count, checksum, removals FROM index_checkpoints WHERE algorithm = ?",
                          (algorithm,)).fetchone()
        # SQLite integers are signed 64-bit: the unsigned checksum is stored in two's complement.
        return None if row is None else cls(int(row[0]), int(row[1]) % (1 << 64), int(row[2]))

    def write(self, con: sqlite3.Connection, algorithm: str) -> None:
        signed = self.checksum - (1 << 64) if self.checksum >= 1 << 63 else self.checksum
        con.execute("INSERT OR REPLACE INTO index_checkpoints (algorithm, count, checksum, removals)"
                    " VALUES (?, ?, ?, ?)", (algorithm, self.count, signed, self.removals))


def note_removals(con: sqlite3.Connection, algorithms: Any) -> None:
    """Record, inside the removing transaction, that hashes of ``algorithms`` were removed: every
    process's index of them compares its ids at its next search (adds only need ``hash_id > max``)."""
    con.executemany("INSERT INTO removals (algorithm, count) VALUES (?, 1)"
                    " ON CONFLICT (algorithm) DO UPDATE SET count = count + 1", [(a,) for a in algorithms])


def damage(exc: BaseException) -> str:
    """What is wrong with a cache file, without its name (the warning names it once)."""
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)


def discard_cache_file(con: sqlite3.Connection, path: Path, name: str) -> None:
    """Inside a removing transaction: delete the cache file ``path`` and its checkpoint ``name``.

    A removed hash must be in no file once the removal commits, and the cache file holds it until
    it is rewritten; deleting it is cheap where rewriting means loading it first. A process that
    still has the old file open reads it whole, then applies the removal counter (see
    :meth:`IndexCache.sync`); the next search rebuilds the file. An error (the folder can't be
    written) propagates, so the removal is rolled back rather than half done.
    """
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    con.execute("DELETE FROM index_checkpoints WHERE algorithm = ?", (name,))


def removal_count(con: sqlite3.Connection, algorithm: str) -> int:
    """How many removal transactions touched ``algorithm`` (0 before the first)."""
    row = con.execute("SELECT count FROM removals WHERE algorithm = ?", (algorithm,)).fetchone()
    return 0 if row is None else int(row[0])


class _Loaded:
    """The in-memory index of one algorithm and what it was last brought up to."""

    def __init__(self, index: HashIndex, origin: str, removals: int | None) -> None:
        self.index = index
        self.origin = origin  # "cache" or "rebuilt (<why>)"
        self.max_id = int(index.ids().max()) if len(index) else 0
        self.synced: Any = None  # the caller's mark of the last snapshot synchronised with
        self.removals = removals  # removal counter the index reflects (None: unknown, compare ids)
        self.unsaved = origin != "cache"  # differs from the cache file on disk


class IndexCache:
    """The indexes of one store's algorithms: loading, catching up with the database, saving.

    ``code_bytes`` maps each algorithm to its packed code length. The caller (``Store``) holds its
    lock around every call and passes connections inside its transactions, plus an opaque ``mark``
    of the snapshot (equal marks: nothing was committed in between, so there is nothing to read).
    """

    def __init__(self, db_path: Path, code_bytes: Mapping[str, int]) -> None:
        self._db_path = db_path
        self._code_bytes = code_bytes
        self._loaded: dict[str, _Loaded] = {}

    def path(self, algorithm: str) -> Path:
        return Path(f"{self._db_path}.{algorithm}.index")

    def sync(self, con: sqlite3.Connection, algorithm: str, mark: Any) -> HashIndex:
        """The index of ``algorithm``, brought up to the snapshot of ``con``."""
        state = self._loaded.get(algorithm)
        if state is None:
            state = self._loaded[algorithm] = self._load(con, algorithm)
        if state.synced == mark:
            return state.index
        cur = con.execute("SELECT hash_id, bits FROM hashes WHERE algorithm = ? AND hash_id > ? ORDER BY hash_id",
                          (algorithm, state.max_id))
        while rows := cur.fetchmany(_FETCH):
            self._add_rows(state, rows, algorithm)
        removals = removal_count(con, algorithm)
        if removals != state.removals:
            self._compare_ids(con, state, algorithm)
            state.removals = removals
        state.synced = mark
        return state.index

    def _compare_ids(self, con: sqlite3.Connection, state: _Loaded, algorithm: str) -> None:
        """Apply the difference between the index's ids and the database's (count(*) is a scan:
        done only after a removal or when the index's history is unknown)."""
        n_db = con.execute("SELECT count(*) FROM hashes WHERE algorithm = ?", (algorithm,)).fetchone()[0]
        if n_db == len(state.index):
            return
        db_ids = np.fromiter((r[0] for r in con.execute(
            "SELECT hash_id FROM hashes WHERE algorithm = ?", (algorithm,))), np.int64)
        have = state.index.ids()
        extra = np.setdiff1d(have, db_ids, assume_unique=True)
        if extra.size:
            state.index.remove(extra)
        missing = np.setdiff1d(db_ids, have, assume_unique=True).tolist()
        for i in range(0, len(missing), _CHUNK):
            chunk = missing[i:i + _CHUNK]
            rows = con.execute(f"SELECT hash_id, bits FROM hashes WHERE hash_id IN ({','.join('?' * len(chunk))})",
                               chunk).fetchall()
            self._add_rows(state, rows, algorithm)
        state.unsaved = True

    def _add_rows(self, state: _Loaded, rows: list[tuple[int, bytes]], algorithm: str) -> None:
        if not rows:
            return
        nbytes = self._code_bytes[algorithm]
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        codes = np.frombuffer(b"".join(r[1] for r in rows), np.uint8).reshape(len(rows), nbytes)
        state.index.add(codes, ids)
        state.max_id = max(state.max_id, int(ids.max()))
        state.unsaved = True

    def _load(self, con: sqlite3.Connection, algorithm: str) -> _Loaded:
        bits = 8 * self._code_bytes[algorithm]
        path = self.path(algorithm)
        why = "no cache file"
        if os.path.lexists(path):
            checkpoint = IndexCheckpoint.read(con, algorithm)
            if checkpoint is None:
                why = "cache not recorded in the store"
            else:
                try:  # read no more than the checkpoint's entries take
                    index = HashIndex.load(path, max_bytes=HashIndex.file_size(checkpoint.count, bits))
                except Exception as exc:  # noqa: BLE001 (a cache: any damage means "rebuild")
                    why = f"unreadable cache ({damage(exc)})"
                    # Damage, or a FIFO, a link or a device planted in its place: say so, once.
                    log.warning("%s: %s; rebuilding the %s index from the store", path, damage(exc), algorithm)
                else:
                    if index.bits != bits:
                        why = "cache for other codes"
                    elif not checkpoint.describes(index):
                        why = "cache does not match the store's record"
                    else:
                        return _Loaded(index, "cache", checkpoint.removals)
            log.info("%s: rebuilding the %s index from the store: %s", self._db_path, algorithm, why)
        return _Loaded(HashIndex(bits), f"rebuilt ({why})", None)

    def removed(self, algorithm: str, hash_ids: Any) -> None:
        """Drop removed ids from a loaded index now (ids are never reused: always right)."""
        state = self._loaded.get(algorithm)
        if state is not None and state.index.remove(np.asarray(hash_ids, np.int64)):
            state.unsaved = True

    def discard_file(self, con: sqlite3.Connection, algorithm: str) -> None:
        """Delete the cache file of ``algorithm`` inside a removing transaction (see
        :func:`discard_cache_file`); an index in memory is saved again at the next flush."""
        discard_cache_file(con, self.path(algorithm), algorithm)
        state = self._loaded.get(algorithm)
        if state is not None:
            state.unsaved = True

    def drop(self, algorithm: str) -> None:
        """Forget the in-memory index of ``algorithm``: the next search loads or rebuilds it."""
        self._loaded.pop(algorithm, None)

    def clear(self) -> None:
        self._loaded.clear()

    def unsaved(self) -> list[str]:
        """The algorithms whose in-memory index differs from its cache file."""
        return [a for a, state in self._loaded.items() if state.unsaved]

    def save(self, con: sqlite3.Connection, algorithm: str, mark: Any) -> None:
        """Inside a write transaction: bring the index up to it, write the file, record its
        checkpoint. Call :meth:`saved` once the transaction has committed."""
        index = self.sync(con, algorithm, mark)
        index.save(self.path(algorithm))
        # sync() has just read the removal counter, so it is known here.
        IndexCheckpoint.of(index, int(self._loaded[algorithm].removals)).write(con, algorithm)  # type: ignore[arg-type]

    def saved(self, algorithm: str, mark: Any) -> None:
        """The transaction of :meth:`save` committed (as ``mark``; it changed nothing indexed)."""
        state = self._loaded[algorithm]
        state.synced, state.unsaved, state.origin = mark, False, "cache"

    def info(self, algorithm: str) -> dict[str, Any]:
        state = self._loaded.get(algorithm)
        return {
            "cache_file": str(self.path(algorithm)),
            "cache_present": self.path(algorithm).exists(),
            "loaded": state is not None,
            "entries": None if state is None else len(state.index),
            "origin": None if state is None else state.origin,
            "method": None if state is None else state.index.method,
        }
