"""The store: one SQLite file that never loses a report, with exact Hamming search over it.

The SQLite database (stdlib :mod:`sqlite3`, WAL journal) is the source of truth. It holds

- ``items``: one row per reported image (or per hash received from a partner): ``id``,
  ``label``, ``source`` (a path or a reference), ``sha256`` and ``size`` of the file, ``added``
  (UTC, ISO 8601) and a free ``note``;
- ``hashes``: one or more hashes per item: ``hash_id``, ``item_id`` (cascade on delete),
  ``algorithm`` (a name in :mod:`photomatch.algorithms`), ``bits`` (packed bytes), ``quality``,
  the ``region`` ``(x, y, w, h)`` of the reported image the hash covers (NULL: the whole image)
  and how that region was chosen, column ``kind`` (``region_kind`` in the API: ``"whole"``,
  ``"trim"``, ``"crop"``, ``"window"``, ...);
- ``keypoints``: optional compact local-feature descriptors per item (opt-in, for geometric
  verification), column ``kind`` naming the descriptor (``descriptor`` in the API: ``"orb"``);
- ``meta``: schema version, creation time and app version;
- ``removals`` and ``index_checkpoints``: the bookkeeping of the index cache.

The search index of each algorithm (a :class:`photomatch.index.HashIndex`, ids = ``hash_id``) is a
*cache* beside the database (``<store>.pdq.index``, ``<store>.phash.index``) kept by
:class:`photomatch.index_cache.IndexCache`: loaded at the first search of an algorithm, checked
against its checkpoint, brought up to date with the adds and removals of every process before each
search (``PRAGMA data_version`` changes when *another* connection commits, a counter counts our
own commits), and written by :meth:`Store.flush` and :meth:`Store.close` (best effort: a close that
cannot get the write lock within ``timeout`` leaves the old cache, which the next opener refreshes).

Durability. ``synchronous=FULL`` with WAL: every commit fsyncs the WAL before ``add_item``
returns. ``NORMAL`` would already survive SIGKILL of the process (the WAL pages are in the OS
cache when the commit returns) but can lose the last commits on power loss or an OS crash; a
report store must not, and batch adds (:meth:`Store.add_items`, one transaction) amortise the
fsync.

Concurrency. Writes take ``BEGIN IMMEDIATE`` (the write lock up front, so two writers never
deadlock on a lock upgrade); reads run in a deferred transaction (one consistent snapshot per
search). Every wait on a lock is bounded by ``timeout`` seconds, then
:class:`~photomatch.errors.StoreLockedError` names the store. Several processes may create one new
store at once: the switch to WAL (which SQLite does not retry itself) is retried until
``timeout``, and the schema is created once, under the write lock, by whichever comes first. One ``Store`` object may be shared
by threads (an internal lock serialises its use of the connection).

Privacy. The database file is created by :func:`os.open` with mode 0600 before SQLite opens it;
SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, and the store also
``chmod``\\ s them to 0600; index caches are written 0600. Nothing here logs a hash. A removal
leaves the removed hashes in no file: SQLite overwrites them (``secure_delete``), the removal
deletes the index caches holding them in its transaction, then empties the write-ahead log
(``wal_checkpoint(TRUNCATE)``, which waits up to ``timeout`` for readers of older snapshots).
Blocks the file system freed are out of photomatch's reach (full-disk encryption covers them).

>>> import os, tempfile
>>> from photomatch.store import Store
>>> folder = tempfile.mkdtemp()
>>> with Store(os.path.join(folder, "reports.db")) as store:
...     item = store.add_item([("phash", bytes(8), None, None, "whole")], label="case 1")
...     hits = store.range_search("phash", [bytes([0, 0, 0, 0, 0, 0, 0, 3])], threshold=2)
...     [(h.item_id == item, h.distance) for h in hits[0]]
[(True, 2)]
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ._version import __version__
from ._fileio import NotRegularFileError, fsync_dir, open_regular, refuse_special
from ._text import _has_surrogate, storable
from .algorithms import ALGORITHMS as _RECORDS
from .algorithms import get as _get_algorithm
from .errors import StoreError, StoreLockedError
from .index_cache import SCHEMA as _INDEX_CACHE_SCHEMA
from .feature_cache import FEATURES, REWRITTEN, FeatureCache
from .index_cache import IndexCache, note_removals

if TYPE_CHECKING:
    from .verify import Features

__all__ = ["ALGORITHMS", "SCHEMA_VERSION", "Hit", "Item", "ItemColumns", "Store", "StoredHash"]

log = logging.getLogger(__name__)

#: Packed length in bytes of each algorithm's hash (from ``photomatch.algorithms``).
ALGORITHMS: dict[str, int] = {a.name: a.nbytes for a in _RECORDS.values()}
SCHEMA_VERSION = 3
#: SQLite ``application_id`` of a photomatch store ("PMS1"): tells our files from other databases.
APPLICATION_ID = 0x504D5331
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_CHUNK = 500  # ids per "IN (...)" query: well under SQLite's bound-parameter limit

def _hashes_table(name: str) -> str:
    """The hashes table, its CHECKs derived from the algorithm records (plain identifiers)."""
    names = ", ".join(f"'{a}'" for a in ALGORITHMS)
    lengths = " ".join(f"WHEN '{a}' THEN {nbytes}" for a, nbytes in ALGORITHMS.items())
    indexes = "" if name != "hashes" else """
CREATE INDEX hashes_item ON hashes (item_id);
CREATE INDEX hashes_algorithm ON hashes (algorithm, hash_id);"""
    return f"""CREATE TABLE {name} (
    hash_id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    algorithm TEXT NOT NULL CHECK (algorithm IN ({names})),
    bits BLOB NOT NULL CHECK (length(bits) = CASE algorithm {lengths} END),
    quality INTEGER CHECK (quality IS NULL OR quality BETWEEN 0 AND 100),
    x REAL, y REAL, w REAL, h REAL,
    kind TEXT NOT NULL DEFAULT 'whole'
);{indexes}"""


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT,
    source TEXT,
    sha256 TEXT,
    size INTEGER,
    added TEXT NOT NULL,
    note TEXT
);
CREATE INDEX items_sha256 ON items (sha256);
{hashes}
CREATE TABLE keypoints (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (item_id, kind)
) WITHOUT ROWID;
""".format(hashes=_hashes_table("hashes")) + _INDEX_CACHE_SCHEMA

# Version 1 kept the index cache's bookkeeping as string keys of ``meta``; version 2 has its
# tables. Version 3 knows vPDQ: the hashes table is rebuilt with the records' CHECK (SQLite
# can't alter a constraint), keeping every row, hash id and the id sequence.
_UPGRADES = {
    1: _INDEX_CACHE_SCHEMA + "DELETE FROM meta WHERE key = 'removals' OR key LIKE 'index.%';",
    2: _hashes_table("hashes_new") + """
INSERT INTO hashes_new SELECT hash_id, item_id, algorithm, bits, quality, x, y, w, h, kind FROM hashes;
CREATE TEMP TABLE old_sequence AS SELECT seq FROM sqlite_sequence WHERE name = 'hashes';
DROP TABLE hashes;
ALTER TABLE hashes_new RENAME TO hashes;
DELETE FROM sqlite_sequence WHERE name IN ('hashes', 'hashes_new');
INSERT INTO sqlite_sequence (name, seq) SELECT 'hashes', max(coalesce((SELECT max(seq) FROM old_sequence), 0),
                                                          coalesce((SELECT max(hash_id) FROM hashes), 0));
DROP TABLE old_sequence;
CREATE INDEX hashes_item ON hashes (item_id);
CREATE INDEX hashes_algorithm ON hashes (algorithm, hash_id);
""",
}

Region = tuple[float, float, float, float]


class Hit(NamedTuple):
    """One search result: the item, which of its hashes matched, and how closely."""

    item_id: int
    hash_id: int
    distance: int
    region_kind: str
    region: Region | None
    quality: int | None


class StoredHash(NamedTuple):
    """One hash row of an item (``repr`` leaves the bits out: reports are sensitive)."""

    hash_id: int
    algorithm: str
    bits: bytes
    quality: int | None
    region: Region | None
    region_kind: str

    def __repr__(self) -> str:
        return (f"StoredHash(hash_id={self.hash_id}, algorithm={self.algorithm!r}, bits=<{len(self.bits)} bytes>, "
                f"quality={self.quality!r}, region={self.region!r}, region_kind={self.region_kind!r})")


@dataclass(frozen=True)
class Item:
    """One stored item with its hashes (never printed with its hashes: ``repr`` omits them)."""

    id: int
    label: str | None
    source: str | None
    sha256: str | None
    size: int | None
    added: str
    note: str | None
    hashes: tuple[StoredHash, ...]

    def __repr__(self) -> str:
        return f"Item(id={self.id}, label={self.label!r}, source={self.source!r}, hashes={len(self.hashes)})"


@dataclass
class ItemColumns:
    """A block of items in columns: the store's bulk form (:meth:`Store.add_item_columns`).

    Per item: ``labels``, ``sources``, ``notes``. Per hash: ``item_of`` (the index of its item in
    this block, each item having at least one hash), ``algorithms``, ``bits``, ``qualities``,
    ``regions``, ``kinds``. Columns, not objects, because a million-line hash list is read as a
    few hundred of these.
    """

    labels: list[str | None]
    sources: list[str | None]
    notes: list[str | None]
    item_of: list[int]
    algorithms: list[str]
    bits: list[bytes]
    qualities: list[int | None]
    regions: list[Region | None]
    kinds: list[str]


# ---------------------------------------------------------------------------------------------
# validation of plain values


def _check_algorithm(algorithm: Any) -> str:
    return _get_algorithm(algorithm).name


def _as_bits(bits: Any, algorithm: str) -> bytes:
    if isinstance(bits, np.ndarray):
        if bits.dtype != np.uint8:
            msg = f"{algorithm} hash bits must be uint8, got dtype {bits.dtype}"
            raise ValueError(msg)
        bits = bits.tobytes()
    elif isinstance(bits, (bytes, bytearray, memoryview)):
        bits = bytes(bits)
    else:
        msg = f"hash bits must be bytes or a uint8 array, got {type(bits).__name__}"
        raise TypeError(msg)
    if len(bits) != ALGORITHMS[algorithm]:
        msg = f"a {algorithm} hash has {ALGORITHMS[algorithm]} bytes, got {len(bits)}"
        raise ValueError(msg)
    return bits


def _check_quality(quality: Any) -> int | None:
    if quality is None:
        return None
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 0 <= quality <= 100:
        msg = f"hash quality must be None or an int from 0 to 100, got {quality!r}"
        raise ValueError(msg)
    return int(quality)


def _check_region(region: Any) -> Region | None:
    if region is None:
        return None
    try:
        values = tuple(float(v) for v in region)
    except (TypeError, ValueError):
        msg = f"region must be None or four numbers (x, y, w, h), got {region!r}"
        raise ValueError(msg) from None
    if len(values) != 4 or not all(np.isfinite(values)) or values[2] <= 0 or values[3] <= 0:
        msg = f"region must be four finite numbers (x, y, w, h) with w, h > 0, got {region!r}"
        raise ValueError(msg)
    return values  # type: ignore[return-value]


#: Longest label, source or note kept, in characters. Exported hash lists must import back, and
#: Python's CSV reader refuses a field above 131,072 characters (``csv.field_size_limit``, a
#: process-wide setting we leave alone): even escaped (``\\xNN``, 4 characters for one) a text of
#: this length fits, so what is refused is refused here, on the way in.
MAX_TEXT = 16_384


def _check_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"{name} must be a str or None, got {type(value).__name__}"
        raise TypeError(msg)
    if len(value) > MAX_TEXT:
        msg = f"{name} has {len(value)} characters, above the limit of {MAX_TEXT} (store.MAX_TEXT)"
        raise ValueError(msg)
    # A file name that is not UTF-8 (lone surrogates) is kept in photomatch's escaped form.
    return storable(value)


def _normalize_hash(h: Any) -> tuple[str, bytes, int | None, Region | None, str]:
    """(algorithm, bits, quality, region, region_kind) from a tuple of 2 to 5 values or a Hash-like value."""
    if hasattr(h, "algorithm") and hasattr(h, "bits"):
        parts: Sequence[Any] = (h.algorithm, h.bits, getattr(h, "quality", None),
                                getattr(h, "region", None), getattr(h, "region_kind", "whole"))
    elif isinstance(h, (tuple, list)) and 2 <= len(h) <= 5:
        parts = tuple(h) + (None, None, "whole")[len(h) - 2:]
    else:
        msg = ("each hash must be (algorithm, bits[, quality[, region[, region_kind]]]) or a Hash, "
               f"got {type(h).__name__}")
        raise TypeError(msg)
    algorithm = _check_algorithm(parts[0])
    region_kind = parts[4] if parts[4] is not None else "whole"
    if not isinstance(region_kind, str) or not region_kind:
        msg = f"region_kind must be a non-empty str, got {region_kind!r}"
        raise ValueError(msg)
    return algorithm, _as_bits(parts[1], algorithm), _check_quality(parts[2]), _check_region(parts[3]), region_kind


def _normalize_item(spec: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        msg = f"each item must be a mapping with a 'hashes' key, got {type(spec).__name__}"
        raise TypeError(msg)
    unknown = set(spec) - {"hashes", "label", "source", "sha256", "size", "note", "keypoints"}
    if unknown:
        msg = f"unknown item fields {sorted(unknown)}"
        raise ValueError(msg)
    hashes = [_normalize_hash(h) for h in spec.get("hashes") or ()]
    if not hashes:
        msg = "an item needs at least one hash"
        raise ValueError(msg)
    sha = spec.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not _SHA256.match(sha)):
        msg = "sha256 must be None or 64 lowercase hex digits"
        raise ValueError(msg)
    size = spec.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0):
        msg = f"size must be None or a non-negative int, got {size!r}"
        raise ValueError(msg)
    keypoints = spec.get("keypoints")
    if keypoints is not None:
        keypoints = _check_keypoints(*keypoints) if isinstance(keypoints, tuple) else _check_keypoints(keypoints)
    return {
        "hashes": hashes,
        "label": _check_text(spec.get("label"), "label"),
        "source": _check_text(spec.get("source"), "source"),
        "sha256": sha,
        "size": None if size is None else int(size),
        "note": _check_text(spec.get("note"), "note"),
        "keypoints": keypoints,
    }


def _check_keypoints(data: Any, descriptor: str = "orb") -> tuple[str, bytes]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        msg = f"keypoint descriptors must be bytes, got {type(data).__name__}"
        raise TypeError(msg)
    if not isinstance(descriptor, str) or not descriptor:
        msg = f"keypoint descriptor must be a non-empty str, got {descriptor!r}"
        raise ValueError(msg)
    return descriptor, bytes(data)


def _region_of(x: Any, y: Any, w: Any, h: Any) -> Region | None:
    return None if x is None else (x, y, w, h)


# -- the bulk form ------------------------------------------------------------------------------

# The common block (one algorithm, whole-image hashes, one label and source) is inserted by two
# statements that read the block from JSON arrays inside SQLite (json_each), not row by row from
# Python: the statement then runs without the GIL while the next block is parsed. A hash's item
# id and quality travel as one integer, (id << 7) | (quality + 1), 0 meaning no quality.
_JSON_ITEMS = ("INSERT INTO items (id, label, source, added, note)"
               " SELECT ? + key, ?, ?, ?, value FROM json_each(?)")
_JSON_HASHES = ("INSERT INTO hashes (item_id, algorithm, bits, quality, kind)"
                " SELECT value >> 7, ?, substr(?, key * ? + 1, ?), nullif(value & 127, 0) - 1, 'whole'"
                " FROM json_each(?)")
_ROW_ITEMS = "INSERT INTO items (id, label, source, added, note) VALUES (?, ?, ?, ?, ?)"
_ROW_HASHES = ("INSERT INTO hashes (item_id, algorithm, bits, quality, x, y, w, h, kind)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _check_columns(b: ItemColumns) -> int:
    """The number of items of a block whose values are valid; ValueError/TypeError otherwise."""
    n = len(b.labels)
    h = len(b.item_of)
    if not (len(b.sources) == len(b.notes) == n and
            len(b.algorithms) == len(b.bits) == len(b.qualities) == len(b.regions) == len(b.kinds) == h):
        msg = "an ItemColumns block has columns of different lengths"
        raise ValueError(msg)
    if n == 0:
        if h:
            msg = "an ItemColumns block has hashes but no items"
            raise ValueError(msg)
        return 0
    # item_of runs 0, 0, 1, 2, 2, ... n - 1: every item has a hash, in order
    steps = np.diff(np.asarray(b.item_of, dtype=np.int64))
    if b.item_of[0] != 0 or b.item_of[-1] != n - 1 or (steps.size and (steps.min() < 0 or steps.max() > 1)):
        msg = "ItemColumns.item_of must run from 0 to the last item in steps of 0 or 1"
        raise ValueError(msg)
    for name, column in (("label", b.labels), ("source", b.sources), ("note", b.notes)):
        present = [v for v in column if v is not None] if None in column else column
        if present and (set(map(type, present)) != {str} or max(map(len, present)) > MAX_TEXT
                        or _has_surrogate("".join(present))):
            column[:] = [_check_text(v, name) if v is not None else None for v in column]  # says which and why
    if set(map(type, b.bits)) != {bytes}:
        msg = "hash bits must be bytes"
        raise TypeError(msg)
    sizes = {a: ALGORITHMS[_check_algorithm(a)] for a in set(b.algorithms)}
    if set(map(len, b.bits)) != set(sizes.values()) or len(sizes) > 1:
        for x, a in zip(b.bits, b.algorithms):
            if len(x) != sizes[a]:
                msg = f"a {a} hash has {sizes[a]} bytes, got {len(x)}"
                raise ValueError(msg)
    qualities = [q for q in b.qualities if q is not None] if None in b.qualities else b.qualities
    if qualities and (set(map(type, qualities)) != {int} or min(qualities) < 0 or max(qualities) > 100):
        b.qualities[:] = [_check_quality(q) if q is not None else None for q in b.qualities]
    if b.regions.count(None) != h:
        b.regions[:] = [_check_region(r) if r is not None else None for r in b.regions]
    if b.kinds.count("whole") != h and any(not isinstance(k, str) or not k for k in b.kinds):
        msg = "region_kind must be a non-empty str"
        raise ValueError(msg)
    return n


def _insert_columns(con: sqlite3.Connection, b: ItemColumns, first_id: int, added: str) -> None:
    n = len(b.labels)
    if len(set(b.labels)) == 1 and len(set(b.sources)) == 1:
        con.execute(_JSON_ITEMS, (first_id, b.labels[0], b.sources[0], added, json.dumps(b.notes)))
    else:
        con.executemany(_ROW_ITEMS, zip(range(first_id, first_id + n), b.labels, b.sources, [added] * n, b.notes))
    algorithms = set(b.algorithms)
    if (len(algorithms) == 1 and first_id + n < 2**55 and b.regions.count(None) == len(b.regions)
            and b.kinds.count("whole") == len(b.kinds)):
        size = ALGORITHMS[next(iter(algorithms))]
        packed = [(first_id + i) << 7 | (q + 1 if q is not None else 0) for i, q in zip(b.item_of, b.qualities)]
        con.execute(_JSON_HASHES, (b.algorithms[0], b"".join(b.bits), size, size, json.dumps(packed)))
    else:
        con.executemany(_ROW_HASHES, [
            (first_id + i, a, x, q, *(r if r is not None else (None,) * 4), k)
            for i, a, x, q, r, k in zip(b.item_of, b.algorithms, b.bits, b.qualities, b.regions, b.kinds)])


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run_script(con: sqlite3.Connection, script: str) -> None:
    # Statement by statement: executescript() would commit the caller's transaction.
    for statement in script.split(";"):
        if statement.strip():
            con.execute(statement)


def _writable(path: Path) -> bool:
    """Whether the store file and its folder (for the -wal and -shm) can be written: False on a
    read-only file system even for root (``access`` answers EROFS)."""
    folder = path.resolve().parent
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)


def _is_locked(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
    text = str(exc).lower()
    return "locked" in text or "busy" in text


# ---------------------------------------------------------------------------------------------


class Store:
    """A reports store: SQLite file of items and hashes, with a cached exact Hamming index.

    ``Store(path, *, create=True, timeout=10.0, read_only=False)``: opens (or with ``create``,
    creates) the store at ``path``; ``timeout`` bounds every wait on another process's lock;
    ``read_only`` (True, or ``"auto"``: where the file or its folder cannot be written) opens it
    for reading only, never writing the database file (see :meth:`_connect_read_only`). Use it as
    a context manager or call :meth:`close` (which saves the index caches).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "s.db")
    >>> with Store(path) as store:
    ...     a = store.add_item([("pdq", bytes(32), 90)], label="a", source="a.jpg")
    ...     store.count(), store.get_item(a).label
    (1, 'a')
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 10.0,
                 read_only: bool | str = False) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            msg = f"timeout must be a non-negative number of seconds, got {timeout!r}"
            raise ValueError(msg)
        if read_only not in (True, False, "auto"):
            msg = f"read_only must be True, False or 'auto', got {read_only!r}"
            raise ValueError(msg)
        self.path = Path(os.fspath(path))
        self.timeout = float(timeout)
        # Read-only: SQLite refuses every write, and the index caches are never saved (many
        # workers of a cluster open one store; the one that wrote it saves its caches).
        # "auto": read-only only where the store or its folder cannot be written (a read-only
        # file system, a store of another user), so that readers (match, info, export) still work.
        if read_only == "auto":
            read_only = os.path.exists(self.path) and not _writable(self.path)
        self.read_only = bool(read_only)
        #: Opened with SQLite's ``immutable=1``: see :meth:`_connect_read_only`.
        self.immutable = False
        create = create and not self.read_only
        self._lock = threading.RLock()
        self._con: sqlite3.Connection | None = None
        self._cache = IndexCache(self.path, ALGORITHMS)
        self._feature_cache = FeatureCache(self.path)
        self._commits = 0  # our own commits: data_version does not count them
        self._prepare_file(create)
        try:
            if self.read_only:
                self._con = self._connect_read_only()
            else:
                self._con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                            check_same_thread=False)
            self._setup()
        except sqlite3.Error as exc:
            self._abandon()
            raise self._error(exc, "cannot open") from exc
        except BaseException:
            self._abandon()
            raise

    # -- opening ---------------------------------------------------------------------------------

    def _prepare_file(self, create: bool) -> None:
        p = self.path
        if p.is_dir():
            msg = f"{p}: is a directory, not a photomatch store"
            raise StoreError(msg)
        if not p.exists():
            if not create:
                msg = f"{p}: no such store"
                raise StoreError(msg)
            try:
                # Owner-only from birth, whatever the umask; SQLite then gives -wal/-shm this mode.
                fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                pass  # another process created it first: fine, it gets initialised under a lock
            except OSError as exc:
                msg = f"{p}: cannot create the store: {exc.strerror}"
                raise StoreError(msg) from exc
            else:
                os.fchmod(fd, 0o600)
                os.close(fd)
                fsync_dir(str(p.parent.resolve()))
        try:
            with open_regular(str(p)) as f:  # a FIFO in place of the store must not hang us
                head = f.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            msg = f"{p}: cannot read the store: {exc.strerror}"
            raise StoreError(msg) from exc
        for suffix in ("-wal", "-shm", "-journal"):
            # SQLite opens these by name: a FIFO there lost the log's frames ("disk I/O error"
            # or worse, silently), a link wrote through to its target.
            try:
                refuse_special(f"{p}{suffix}")
            except NotRegularFileError as exc:
                msg = f"{p}{suffix}: {exc.strerror}, where the store keeps its {suffix[1:]} file"
                raise StoreError(msg) from exc
        # An empty file is a store whose creator died before initialising it: initialise it.
        if head and head != _SQLITE_MAGIC:
            msg = f"{p}: not a photomatch store (not an SQLite database)"
            raise StoreError(msg)

    def _connect_read_only(self) -> sqlite3.Connection:
        """SQLite's ``mode=ro``; where the write-ahead log's ``-shm`` cannot be created (a
        read-only folder or file system), ``immutable=1``.

        ``mode=ro`` never writes the database, but WAL readers share an index in ``<store>-shm``,
        created if absent (and an empty ``-wal`` with it): that needs a writable folder.
        ``immutable=1`` reads the database file alone, without locks or side files: right for a
        store nobody writes (read-only media), wrong for one another process is writing (it would
        not see their commits and could read a page mid-change), so it is only the fallback. A
        non-empty ``-wal`` that cannot be read holds commits not yet in the database file:
        refused rather than matched against without them.
        """
        uri = self.path.resolve().as_uri()
        con = sqlite3.connect(f"{uri}?mode=ro", timeout=self.timeout, isolation_level=None,
                              check_same_thread=False, uri=True)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens (or creates) the -shm
            return con
        except sqlite3.OperationalError as exc:
            con.close()
            if getattr(exc, "sqlite_errorcode", 14) & 0xFF != 14:  # SQLITE_CANTOPEN
                raise
        wal = f"{self.path}-wal"
        if os.path.isfile(wal) and os.path.getsize(wal) > 0:
            msg = (f"{self.path}: cannot be read here: {wal} holds commits not yet in the store file, and no "
                   "-shm can be made beside it (a read-only folder); open the store once where it can be written")
            raise StoreError(msg)
        self.immutable = True
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", timeout=self.timeout, isolation_level=None,
                               check_same_thread=False, uri=True)

    def _setup(self) -> None:
        con = self._connection()
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA synchronous = FULL")
        # Removed hashes are overwritten with zeros, not left in free pages (builds differ on the default).
        con.execute("PRAGMA secure_delete = ON")
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            if self.read_only:
                msg = f"{self.path}: not a photomatch store (opened read-only, so not initialised)"
                raise StoreError(msg)
            self._initialise()
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version in _UPGRADES:
            if self.read_only:
                msg = f"{self.path}: store schema version {version} needs upgrading: open it once for writing"
                raise StoreError(msg)
            version = self._upgrade(version)
        if version != SCHEMA_VERSION:
            msg = f"{self.path}: store schema version {version}; this photomatch reads version {SCHEMA_VERSION}"
            raise StoreError(msg)
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal" and not self.read_only:
            self._use_wal()
        self._protect_side_files()

    def _initialise(self) -> None:
        con = self._connection()
        con.execute("BEGIN")  # one snapshot: another process may commit the schema between two reads
        try:
            known = self._refuse_foreign(con)
        finally:
            con.execute("COMMIT")
        if known:
            return  # another process initialised it meanwhile
        # WAL first (it cannot change inside a transaction); persistent, so done once per file.
        self._use_wal()
        self._protect_side_files()
        self._begin_write()
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            if app_id == APPLICATION_ID:  # another process initialised it while we waited
                con.execute("COMMIT")
                return
            self._refuse_foreign(con)  # raises on a foreign database
            _run_script(con, _SCHEMA)
            con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                ("schema_version", str(SCHEMA_VERSION)),
                ("created", _now()),
                ("app_version", __version__),
            ])
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def _use_wal(self) -> None:
        """Switch the file to a write-ahead log, waiting up to ``timeout`` for other processes.

        The switch needs every other connection out of the way for a moment, and SQLite does not
        run its busy handler for it when another connection holds the write lock (it would be a
        deadlock between lock upgrades): the statement fails at once. Several processes creating
        one new store meet exactly that, so the switch is retried here until the deadline.
        """
        con = self._connection()
        deadline = time.monotonic() + self.timeout
        pause = 0.001
        while True:
            try:
                mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, 0.05)
        if mode.lower() != "wal":
            msg = f"{self.path}: cannot use a write-ahead log (journal mode stays {mode!r})"
            raise StoreError(msg)

    def _upgrade(self, version: int) -> int:
        """Bring an older store's schema to this version, in one write transaction; return the
        version now."""
        with self._write("upgrading the store's schema") as con:
            # Read again under the write lock: another process may have upgraded it meanwhile.
            version = con.execute("PRAGMA user_version").fetchone()[0]
            while version in _UPGRADES:
                _run_script(con, _UPGRADES[version])
                version += 1
            con.execute(f"PRAGMA user_version = {version}")
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
        return version

    def _refuse_foreign(self, con: sqlite3.Connection) -> bool:
        """True if the file is already a photomatch store, False if it is empty; raise otherwise."""
        # Checked before anything is written, so a foreign database is left exactly as it was.
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        if app_id == APPLICATION_ID:
            return True
        tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != 0 or tables:
            msg = f"{self.path}: not a photomatch store (an SQLite database of another application)"
            raise StoreError(msg)
        return False

    def _protect_side_files(self) -> None:
        """The -wal and -shm files hold the same data: never more open than the database itself.

        (Not forced to 0600: a store its owner made group-readable keeps working for the group.)
        """
        try:
            db_mode = stat.S_IMODE(self.path.stat().st_mode)
        except OSError:
            return
        for suffix in ("-wal", "-shm"):
            side = str(self.path) + suffix
            try:
                # lstat, not stat: a -shm planted as a symbolic link must not make us chmod its
                # target. (Never open these files: closing any descriptor of a file drops the
                # POSIX locks SQLite holds on it in this process.)
                st = os.lstat(side)
                mode = stat.S_IMODE(st.st_mode)
                if stat.S_ISREG(st.st_mode) and mode & ~db_mode and st.st_uid == os.getuid():
                    os.chmod(side, mode & db_mode)
            except OSError:
                pass  # absent (not created yet) or not ours: SQLite copies the db's mode anyway

    def _abandon(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None

    # -- plumbing --------------------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        if _is_locked(exc):
            return StoreLockedError(
                f"{self.path}: store locked by another process for more than {self.timeout:g} s ({doing})")
        text = str(exc)
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(f"{self.path}: the store is corrupt ({text}; {doing})")
        return StoreError(f"{self.path}: {doing}: {text}")

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            msg = f"{self.path}: the store is closed"
            raise StoreError(msg)
        return self._con

    def _begin_write(self) -> None:
        con = self._connection()
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc, "starting a write") from exc

    @contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: all or nothing; lock waits bounded by ``timeout``."""
        with self._lock:
            self._begin_write()
            with self._committed(doing) as con:
                yield con
            self._commits += 1

    @contextmanager
    def _read(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same snapshot."""
        with self._lock:
            with self._committed(doing, begin="BEGIN") as con:
                yield con

    @contextmanager
    def _committed(self, doing: str, *, begin: str | None = None) -> Iterator[sqlite3.Connection]:
        """The body of a transaction (opened here with ``begin``, or already open): commit after
        it, roll back if it raises, and map SQLite's errors to StoreError naming the store and
        what was being done."""
        con = self._connection()
        try:
            if begin is not None:
                con.execute(begin)
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            if con.in_transaction:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, doing) from exc
            raise

    # -- writing ---------------------------------------------------------------------------------

    def add_item(self, hashes: Iterable[Any], *, label: str | None = None, source: str | None = None,
                 sha256: str | None = None, size: int | None = None, note: str | None = None,
                 keypoints: bytes | tuple[bytes, str] | None = None) -> int:
        """Add one item with its hashes in one transaction (all or nothing); return its id.

        Each hash is ``(algorithm, bits, quality, region, region_kind)`` (the last three optional:
        None, None, ``"whole"``) or a :class:`photomatch.hashing.Hash`. ``bits`` is the packed
        bytes (32 for pdq, 8 for phash) or a uint8 array. ``keypoints`` is optional descriptor
        bytes, or ``(bytes, descriptor)``. When it returns, the item is durable (fsynced).

        >>> import os, tempfile
        >>> with Store(os.path.join(tempfile.mkdtemp(), "s.db")) as store:
        ...     i = store.add_item([("phash", bytes(8)), ("pdq", bytes(32), 100, (0, 0, 10, 10), "crop")])
        ...     [h.region_kind for h in store.get_item(i).hashes]
        ['whole', 'crop']
        """
        return self.add_items([{"hashes": list(hashes), "label": label, "source": source, "sha256": sha256,
                                "size": size, "note": note, "keypoints": keypoints}])[0]

    def add_items(self, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """Add many items in ONE transaction (all or nothing); return their ids in order.

        Each item is a mapping with ``hashes`` (as in :meth:`add_item`) and optional ``label``,
        ``source``, ``sha256``, ``size``, ``note``, ``keypoints``. Everything is validated before
        the transaction starts.

        >>> import os, tempfile
        >>> with Store(os.path.join(tempfile.mkdtemp(), "s.db")) as store:
        ...     ids = store.add_items([{"hashes": [("phash", bytes(8))]}, {"hashes": [("phash", b"1" * 8)]}])
        ...     len(ids), store.count()
        (2, 2)
        """
        specs = [_normalize_item(spec) for spec in items]
        if not specs:
            return []
        ids: list[int] = []
        added = _now()
        with self._write("adding items") as con:
            for spec in specs:
                cur = con.execute(
                    "INSERT INTO items (label, source, sha256, size, added, note) VALUES (?, ?, ?, ?, ?, ?)",
                    (spec["label"], spec["source"], spec["sha256"], spec["size"], added, spec["note"]))
                item_id = int(cur.lastrowid)  # type: ignore[arg-type]
                con.executemany(
                    _ROW_HASHES,
                    [(item_id, a, b, q, *(r if r is not None else (None,) * 4), k)
                     for a, b, q, r, k in spec["hashes"]])
                if spec["keypoints"] is not None:
                    descriptor, data = spec["keypoints"]
                    con.execute("INSERT INTO keypoints (item_id, kind, data) VALUES (?, ?, ?)",
                                (item_id, descriptor, data))
                ids.append(item_id)
        return ids

    def add_item_columns(self, blocks: Iterable[ItemColumns]) -> int:
        """Add blocks of items in ONE transaction (all or nothing); return how many items.

        The blocks are read as the transaction goes, so an iterable that produces them (a hash
        list being parsed) is never held in memory whole; if it raises, nothing is added. Values
        are checked as :meth:`add_items` checks them (the text limits, the algorithms, the bits'
        lengths, qualities and regions).

        >>> import os, tempfile
        >>> cols = ItemColumns(["a", None], [None, None], [None, None], [0, 1, 1], ["phash", "phash", "pdq"],
        ...                    [bytes(8), b"1" * 8, bytes(32)], [None, 90, 100], [None] * 3, ["whole"] * 3)
        >>> with Store(os.path.join(tempfile.mkdtemp(), "s.db")) as store:
        ...     store.add_item_columns([cols]), [len(i.hashes) for i in store.items()]
        (2, [1, 2])
        """
        added = _now()
        total = 0
        with self._write("adding items") as con:
            next_id = 1 + max(int(con.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]),
                              int(con.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence"
                                              " WHERE name = 'items'").fetchone()[0]))
            for block in blocks:
                n = _check_columns(block)
                if n:
                    _insert_columns(con, block, next_id, added)
                    next_id += n
                    total += n
        return total

    def remove(self, item_ids: Iterable[int] | int) -> int:
        """Remove items (with their hashes and keypoints); return how many existed.

        >>> import os, tempfile
        >>> with Store(os.path.join(tempfile.mkdtemp(), "s.db")) as store:
        ...     i = store.add_item([("phash", bytes(8))])
        ...     store.remove([i, 12345]), store.count()
        (1, 0)
        """
        ids = self._as_item_ids(item_ids)
        if not ids:
            return 0
        removed = 0
        gone: dict[str, list[int]] = {}
        with_features: list[int] = []
        with self._write("removing items") as con:
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i:i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for hash_id, algorithm in con.execute(
                        f"SELECT hash_id, algorithm FROM hashes WHERE item_id IN ({marks})", chunk):
                    gone.setdefault(algorithm, []).append(hash_id)
                with_features += [r[0] for r in con.execute(
                    f"SELECT item_id FROM keypoints WHERE item_id IN ({marks})", chunk)]
                removed += con.execute(f"DELETE FROM items WHERE id IN ({marks})", chunk).rowcount
            if removed:
                note_removals(con, list(gone) + ([FEATURES] if with_features else []))
                # The removed codes must be in no file once this commits: the caches holding
                # them go now, and the log is emptied below.
                try:
                    for algorithm in gone:
                        self._cache.discard_file(con, algorithm)
                    if with_features:
                        self._feature_cache.discard_file(con)
                except OSError as exc:
                    msg = f"{self.path}: cannot delete an index cache ({exc}); nothing was removed"
                    raise StoreError(msg) from exc
        with self._lock:
            for algorithm, hash_ids in gone.items():
                self._cache.removed(algorithm, hash_ids)
            self._feature_cache.removed(with_features)
        if removed:
            self._empty_wal()
        return removed

    def _empty_wal(self) -> None:
        """Copy the log into the database file and truncate it (a checkpoint): until then the
        log holds the pages that held removed rows (as they were added) and the database file its
        old pages. Waits up to ``timeout`` for readers of older snapshots; if they outlast it, the
        next checkpoint (at the latest, the last connection's close) does it."""
        with self._lock:
            try:
                busy = self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.Error as exc:
                if not _is_locked(exc):  # locked: the removal itself has committed; say so below
                    raise self._error(exc, "emptying the write-ahead log after a removal") from exc
                busy = 1
        if busy:
            log.warning("%s: removed rows stay in its -wal until the processes reading it finish", self.path)

    @staticmethod
    def _as_item_ids(item_ids: Iterable[int] | int) -> list[int]:
        if isinstance(item_ids, (int, np.integer)) and not isinstance(item_ids, bool):
            item_ids = [item_ids]
        out = []
        for i in item_ids:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
                msg = f"item ids must be ints, got {type(i).__name__}"
                raise TypeError(msg)
            if -(2**63) <= int(i) < 2**63:  # SQLite's ids are int64: any other id names no item
                out.append(int(i))
        return sorted(set(out))

    def set_keypoints(self, item_id: int, data: bytes, *, descriptor: str = "orb") -> None:
        """Store (or replace) the compact keypoint descriptors of an item (opt-in)."""
        descriptor, blob = _check_keypoints(data, descriptor)
        with self._write("storing keypoints") as con:
            if con.execute("SELECT 1 FROM items WHERE id = ?", (int(item_id),)).fetchone() is None:
                msg = f"{self.path}: no item {item_id}"
                raise KeyError(msg)
            replaced = con.execute("SELECT 1 FROM keypoints WHERE item_id = ? AND kind = ?",
                                   (int(item_id), descriptor)).fetchone() is not None
            con.execute("INSERT OR REPLACE INTO keypoints (item_id, kind, data) VALUES (?, ?, ?)",
                        (int(item_id), descriptor, blob))
            if replaced:  # indexes hold the old descriptors: rebuild them (a rare operation)
                note_removals(con, [REWRITTEN])
                con.execute("DELETE FROM index_checkpoints WHERE algorithm = ?", (FEATURES,))

    def get_keypoints(self, item_id: int, *, descriptor: str = "orb") -> bytes | None:
        """The keypoint descriptors stored for an item, or None."""
        with self._read("reading keypoints") as con:
            row = con.execute("SELECT data FROM keypoints WHERE item_id = ? AND kind = ?",
                              (int(item_id), descriptor)).fetchone()
        return None if row is None else bytes(row[0])

    def keypoints_state(self, *, descriptor: str = "orb") -> tuple[int, int]:
        """(count, largest item id) of the stored keypoint sets: a cheap "did they change?" check."""
        with self._read("reading keypoints") as con:
            n, top = con.execute("SELECT count(*), coalesce(max(item_id), 0) FROM keypoints WHERE kind = ?",
                                 (descriptor,)).fetchone()
        return int(n), int(top)

    def iter_keypoints(self, *, descriptor: str = "orb", batch: int = 200) -> Iterator[tuple[int, bytes]]:
        """Every item's stored keypoint descriptors, as (item_id, data), in item order."""
        last = 0
        while True:
            with self._read("reading keypoints") as con:
                rows = con.execute("SELECT item_id, data FROM keypoints WHERE kind = ? AND item_id > ?"
                                   " ORDER BY item_id LIMIT ?", (descriptor, last, batch)).fetchall()
            if not rows:
                return
            for item_id, data in rows:
                yield int(item_id), bytes(data)
            last = int(rows[-1][0])

    # -- reading ---------------------------------------------------------------------------------

    def get_item(self, item_id: int) -> Item | None:
        """The item with this id (with its hashes, in insertion order), or None."""
        with self._read("reading an item") as con:
            items = self._fetch_items(con, [int(item_id)])
        return items[0] if items else None

    def items(self, *, batch: int = 500) -> Iterator[Item]:
        """Every item in id order. Reads in batches (short transactions), so a long iteration
        does not hold a snapshot; items added meanwhile with higher ids are included."""
        last = 0
        while True:
            with self._read("listing items") as con:
                ids = [r[0] for r in con.execute(
                    "SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?", (last, batch))]
                page = self._fetch_items(con, ids)
            if not ids:
                return
            yield from page
            last = ids[-1]

    def _fetch_items(self, con: sqlite3.Connection, ids: list[int]) -> list[Item]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        hashes: dict[int, list[StoredHash]] = {}
        for item_id, hash_id, algorithm, bits, quality, x, y, w, h, region_kind in con.execute(
                "SELECT item_id, hash_id, algorithm, bits, quality, x, y, w, h, kind FROM hashes"
                f" WHERE item_id IN ({marks}) ORDER BY hash_id", ids):
            hashes.setdefault(item_id, []).append(
                StoredHash(hash_id, algorithm, bytes(bits), quality, _region_of(x, y, w, h), region_kind))
        rows = con.execute(
            f"SELECT id, label, source, sha256, size, added, note FROM items WHERE id IN ({marks}) ORDER BY id", ids)
        return [Item(*row, hashes=tuple(hashes.get(row[0], ()))) for row in rows]

    def has_regions(self, algorithm: str | None = None) -> bool:
        """Whether any hash (of ``algorithm``, or of any) covers a region or has a kind other than whole."""
        sql = "SELECT 1 FROM hashes WHERE (kind != 'whole' OR x IS NOT NULL)"
        args: tuple[Any, ...] = ()
        if algorithm is not None:
            sql, args = sql + " AND algorithm = ?", (_check_algorithm(algorithm),)
        with self._read("looking for region hashes") as con:
            return con.execute(sql + " LIMIT 1", args).fetchone() is not None

    def count(self) -> int:
        """Number of items."""
        with self._read("counting items") as con:
            return int(con.execute("SELECT count(*) FROM items").fetchone()[0])

    def has_sha256(self, sha256: str) -> bool:
        """Whether an item with this file sha256 (64 lowercase hex digits) is stored."""
        return self.find_sha256(sha256) is not None

    def find_sha256(self, sha256: str) -> int | None:
        """The id of the oldest item whose file had this sha256, or None (to skip re-adds)."""
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            msg = "sha256 must be 64 lowercase hex digits"
            raise ValueError(msg)
        with self._read("looking up a sha256") as con:
            row = con.execute("SELECT min(id) FROM items WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row[0] is None else int(row[0])

    def has_algorithm(self, algorithm: str) -> bool:
        """Whether any hash of ``algorithm`` is stored (a matcher skips hashing what it cannot find)."""
        algorithm = _check_algorithm(algorithm)
        with self._read("looking up an algorithm") as con:
            return con.execute("SELECT 1 FROM hashes WHERE algorithm = ? LIMIT 1", (algorithm,)).fetchone() is not None

    def info(self) -> dict[str, Any]:
        """A summary: path, items, hashes per algorithm, schema version, created, app version,
        and per algorithm the state of the index (in memory or not, cache file present)."""
        with self._read("reading store info") as con:
            items = int(con.execute("SELECT count(*) FROM items").fetchone()[0])
            per_algo = dict.fromkeys(ALGORITHMS, 0)
            per_algo.update(dict(con.execute("SELECT algorithm, count(*) FROM hashes GROUP BY algorithm")))
            meta = dict(con.execute("SELECT key, value FROM meta"))
        with self._lock:
            index = {algorithm: self._cache.info(algorithm) for algorithm in ALGORITHMS}
            feature_index = self._feature_cache.info()
        return {
            "path": str(self.path),
            "items": items,
            "hashes": per_algo,
            "schema_version": int(meta.get("schema_version", SCHEMA_VERSION)),
            "created": meta.get("created"),
            "app_version": meta.get("app_version"),
            "opened": "read-only, immutable" if self.immutable else "read-only" if self.read_only else "read-write",
            "index": index,
            "feature_index": feature_index,
        }

    # -- search ----------------------------------------------------------------------------------

    def range_search(self, algorithm: str, codes: Any, threshold: int, *, per_item: bool = True) -> list[list[Hit]]:
        """Every stored hash of ``algorithm`` within ``threshold`` (inclusive) of each query code.

        ``codes`` is a uint8 array of shape ``(n, nbytes)`` (or a sequence of ``bytes``). Returns
        one list per query of :class:`Hit` ``(item_id, hash_id, distance, region_kind, region,
        quality)``: with ``per_item`` (default) only the best hash of each item, sorted by
        (distance, item_id); otherwise every matching hash, sorted by (distance, hash_id). Exact;
        sees every add committed before the call, by this or any other process.
        """
        algorithm = _check_algorithm(algorithm)
        nbytes = ALGORITHMS[algorithm]
        queries = self._as_queries(codes, nbytes)
        with self._lock:
            con = self._connection()
            dv = self._data_version(con)
            with self._read("searching") as con:
                index = self._cache.sync(con, algorithm, (dv, self._commits))
                lims, dist, ids = index.range_search(queries, threshold)
                meta = self._hash_meta(con, np.unique(ids).tolist())
        if len(meta) != len(np.unique(ids)):
            # Cannot happen when the index agrees with the snapshot; if it does, rebuild next time.
            log.warning("%s: %s index disagreed with the store; it will be rebuilt", self.path, algorithm)
            with self._lock:
                self._cache.drop(algorithm)
        results: list[list[Hit]] = []
        for q in range(queries.shape[0]):
            hits: list[Hit] = []
            seen: set[int] = set()
            for d, hid in zip(dist[lims[q]:lims[q + 1]].tolist(), ids[lims[q]:lims[q + 1]].tolist()):
                m = meta.get(hid)
                if m is None:
                    continue
                item_id, region_kind, region, quality = m
                # Results come sorted by (distance, hash_id): the first hit of an item is its best.
                if per_item:
                    if item_id in seen:
                        continue
                    seen.add(item_id)
                hits.append(Hit(item_id, hid, d, region_kind, region, quality))
            if per_item:
                hits.sort(key=lambda h: (h.distance, h.item_id))
            results.append(hits)
        return results

    def has_features(self) -> bool:
        """Whether any item keeps local features."""
        with self._read("reading keypoints") as con:
            return con.execute("SELECT 1 FROM keypoints LIMIT 1").fetchone() is not None

    def feature_votes(self, query: Features, *, top: int, max_distance: int = 64) -> list[tuple[int, int]]:
        """The items whose stored local features most of the query's descriptors are nearest to:
        ``(item_id, votes)``, most first (see :class:`photomatch.features.FeatureIndex`). The
        index is a cache beside the store (``<store>.features.index``), kept up to date like the
        hash indexes; it sees every item committed before the call."""
        return self._with_features(lambda index: index.search(query, top=top, max_distance=max_distance))

    def feature_votes_many(self, queries: list[Features], *, top: int,
                           max_distance: int = 64) -> list[list[tuple[int, int]]]:
        """``feature_votes`` for several queries (the small views of one screenshot) in one index
        search; one list per query."""
        return self._with_features(lambda index: index.search_many(queries, top=top, max_distance=max_distance))

    def _with_features(self, search: Any) -> Any:
        """``search(index)`` on the feature index, brought up to date, inside one read."""
        with self._lock:
            con = self._connection()
            dv = self._data_version(con)
            with self._read("searching features") as con:
                return search(self._feature_cache.sync(con, (dv, self._commits)))

    @staticmethod
    def _as_queries(codes: Any, nbytes: int) -> np.ndarray:
        if isinstance(codes, (bytes, bytearray, memoryview)):
            codes = [codes]
        if isinstance(codes, (list, tuple)) and codes and isinstance(codes[0], (bytes, bytearray, memoryview)):
            if any(len(c) != nbytes for c in codes):
                msg = f"each query code must have {nbytes} bytes"
                raise ValueError(msg)
            return np.frombuffer(b"".join(bytes(c) for c in codes), np.uint8).reshape(-1, nbytes)
        arr = np.asarray(codes)
        if arr.ndim == 1 and arr.size == nbytes:
            arr = arr.reshape(1, nbytes)
        if arr.size == 0:
            return np.empty((0, nbytes), np.uint8)
        if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != nbytes:
            msg = f"query codes must be uint8 of shape (n, {nbytes}), got {arr.dtype} {arr.shape}"
            raise ValueError(msg)
        return np.ascontiguousarray(arr)

    def _hash_meta(self, con: sqlite3.Connection, hash_ids: list[int]) -> dict[int, tuple[int, str, Region | None, int | None]]:
        out = {}
        for i in range(0, len(hash_ids), _CHUNK):
            chunk = hash_ids[i:i + _CHUNK]
            for hid, item_id, region_kind, x, y, w, h, quality in con.execute(
                    "SELECT hash_id, item_id, kind, x, y, w, h, quality FROM hashes"
                    f" WHERE hash_id IN ({','.join('?' * len(chunk))})", chunk):
                out[hid] = (item_id, region_kind, _region_of(x, y, w, h), quality)
        return out

    # -- the index cache -------------------------------------------------------------------------

    @staticmethod
    def _data_version(con: sqlite3.Connection) -> int:
        # Read OUTSIDE the snapshot, before it starts: a commit landing in between makes the next
        # search refresh once more (harmless), never skip a refresh.
        return int(con.execute("PRAGMA data_version").fetchone()[0])

    def flush(self) -> None:
        """Write the index caches that changed since loaded (atomically, 0600) and record their
        count and checksum in the store. Lock waits are bounded; a StoreLockedError leaves the
        old cache in place (it is only a cache). A read-only store saves nothing."""
        if self.read_only:
            return
        with self._lock:
            con = self._connection()
            for algorithm in self._cache.unsaved():
                dv = self._data_version(con)
                # Under the write lock, so the file and its checkpoint change together for every
                # other process (a kill between the two only costs a rebuild).
                with self._write("saving the index cache") as con:
                    self._cache.save(con, algorithm, (dv, self._commits))
                self._cache.saved(algorithm, (dv, self._commits))
            if self._feature_cache.unsaved:
                dv = self._data_version(con)
                with self._write("saving the feature index") as con:
                    self._feature_cache.save(con, (dv, self._commits))
                self._feature_cache.saved((dv, self._commits))

    def close(self) -> None:
        """Save the changed index caches (best effort) and close the database. Idempotent."""
        with self._lock:
            if self._con is None:
                return
            try:
                # Saving the cache is optional: wait at most a second for the write lock, so a
                # short-lived matcher does not hang at exit behind a busy writer.
                self._con.execute(f"PRAGMA busy_timeout = {int(min(self.timeout, 1.0) * 1000)}")
                self.flush()
            except (StoreError, OSError, sqlite3.Error) as exc:
                # Only a cache: a busy store, a read-only folder or a full disk must not stop a
                # close. The next opener refreshes (or rebuilds) the index.
                log.info("%s: index cache not saved (%s)", self.path, type(exc).__name__)
            finally:
                self._abandon()
                self._cache.clear()
                self._feature_cache.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._con is None else "open"
        return f"Store({str(self.path)!r}, {state})"
