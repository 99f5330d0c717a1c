"""Engine-neutral batch functions: a batch of images (or hashes) in, a table of results out.

Any engine drives them the same way: Ray Data (:mod:`photomatch.ray`), Spark's ``mapInPandas``,
Dask's ``map_partitions`` or a plain loop. Nothing here imports an engine; pandas and pyarrow are
imported only when the batch is one of their tables.

A batch is

- a list of images (paths, or encoded bytes), or
- a table: a dict of equal-length columns, a pandas DataFrame or a pyarrow Table/RecordBatch.
  The image of a row is its ``bytes`` column (what Ray's ``read_binary_files`` gives) or
  ``content`` column (Spark's ``binaryFile`` source) when present, else the file named by
  ``path``; ``match_batch`` also takes a ``hash`` column of hex strings (a hash list, no
  pictures). ``name`` (else ``path``) names the row in the results.

The result is a table of the same form as the batch (a list or a dict gives a dict of columns),
one row per input row, in order; a row that failed has ``error`` set and the others go on:

- :func:`hash_batch`: ``path``, ``algo``, ``hex``, ``quality``, ``error`` (the fields of
  ``photomatch hash --format jsonl``, plus the error);
- :func:`match_batch`: ``query``, ``query_hash``, ``matches`` (a list of the documented match
  fields), ``error``, ``frames``, ``skipped_frames``, ``notes``: the fields of a ``photomatch
  match --json`` line (a field a row has not, such as an image's ``frames``, is null). Videos
  are matched as ``Matcher.match_many`` matches them (``video_options``).

The matcher is built once per worker and reused for every batch: :class:`BatchMatcher` is a
callable that opens a store once (read-only), as the actor-pool engines expect.

>>> import os, tempfile
>>> import numpy as np
>>> from PIL import Image
>>> from photomatch import Matcher
>>> folder = tempfile.mkdtemp()
>>> y, x = np.mgrid[0:120, 0:160]
>>> photo = np.stack([128 + 100 * np.sin(x / 9) * np.cos(y / 13), x * 1.5, 255 - 2 * y], axis=-1).astype(np.uint8)
>>> Image.fromarray(photo).save(os.path.join(folder, "a.png"))
>>> hash_batch([os.path.join(folder, "a.png")])["algo"]
['pdq']
>>> with Matcher(os.path.join(folder, "reports.db")) as m:
...     _ = m.add([photo], label="case 1")
>>> with BatchMatcher(os.path.join(folder, "reports.db"), mode="fast") as match:
...     table = match({"path": [os.path.join(folder, "a.png")]})
>>> [[m["label"] for m in row] for row in table["matches"]]
[['case 1']]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from . import algorithms
from ._parallel import ordered_map
from .errors import DecodeError, PhotomatchError, run_item
from .hashing import Hash, hash_image
from .matcher import Match, Matcher, MatchResult, check_match_options
from .videomatch import VideoOptions, check_video_options

HASH_COLUMNS = ("path", "algo", "hex", "quality", "error")
MATCH_COLUMNS = ("query", "query_hash", "matches", "error", "frames", "skipped_frames", "notes")
IMAGE_COLUMNS = ("bytes", "content", "path")
"""Where a row's image is read from, first present first: encoded bytes, then a file path."""


# --- batches in and out -----------------------------------------------------------------------


def _columns(batch: Any) -> tuple[str, dict[str, list[Any]]]:
    """(form of the batch, its columns as lists); the form is "dict", "pandas" or "arrow"."""
    module = type(batch).__module__.split(".")[0]
    if module == "pyarrow" and hasattr(batch, "column_names"):
        return "arrow", {c: batch.column(c).to_pylist() for c in batch.column_names}
    if module == "pandas" and hasattr(batch, "columns"):
        return "pandas", {str(c): batch[c].tolist() for c in batch.columns}
    if isinstance(batch, Mapping):
        cols = {str(k): list(v) for k, v in batch.items()}
        if len({len(v) for v in cols.values()}) > 1:
            msg = "the batch's columns have different lengths"
            raise ValueError(msg)
        return "dict", cols
    if isinstance(batch, (list, tuple)):
        images = list(batch)
        for x in images:
            if not isinstance(x, (str, os.PathLike, bytes, bytearray, memoryview)):
                msg = f"a batch list holds paths or encoded image bytes, got {type(x).__name__}"
                raise TypeError(msg)
        return "dict", {"image": images}
    msg = f"a batch is a list, a dict of columns, a pandas DataFrame or a pyarrow Table, got {type(batch).__name__}"
    raise TypeError(msg)


def _inputs(cols: dict[str, list[Any]], *, hashes: bool) -> list[tuple[str, Any]]:
    """(name, input) per row: the input is an image (path or bytes) or, with ``hashes``, a Hash hex string."""
    if "image" in cols:  # a plain list
        return [(_name(x), x) for x in cols["image"]]
    sources = [c for c in IMAGE_COLUMNS if c in cols] + (["hash"] if hashes and "hash" in cols else [])
    if not sources:
        wanted = ", ".join(IMAGE_COLUMNS + (("hash",) if hashes else ()))
        msg = f"the batch has no image column: expected one of {wanted}; got {', '.join(cols) or 'none'}"
        raise ValueError(msg)
    n = len(cols[sources[0]])
    names = cols.get("name") or cols.get("path") or [None] * n
    out = []
    for i in range(n):
        source = next((c for c in sources if cols[c][i] is not None), None)
        value = None if source is None else cols[source][i]
        if source == "hash":
            value = _HashText(value)
        name = names[i] if names[i] is not None else _name(value)
        out.append((str(name), value))
    return out


class _HashText(str):
    """A hex string to be matched as a hash (not a path)."""


def _name(x: Any) -> str:
    if isinstance(x, (str, os.PathLike)):
        return os.fsdecode(os.fspath(x))
    return "<bytes>" if isinstance(x, (bytes, bytearray, memoryview)) else "<missing>"


def _table(form: str, cols: dict[str, list[Any]], arrow_schema: Any) -> Any:
    if form == "arrow":
        import pyarrow as pa

        return pa.Table.from_pydict(cols, schema=arrow_schema())
    if form == "pandas":
        import pandas as pd

        return pd.DataFrame(cols)
    return cols


def _hash_schema() -> Any:
    import pyarrow as pa

    return pa.schema([("path", pa.string()), ("algo", pa.string()), ("hex", pa.string()),
                      ("quality", pa.int32()), ("error", pa.string())])


_ARROW_TYPES = {"id": "int64", "label": "string", "source": "string", "distance": "int32", "algo": "string",
                "quality": "int32", "low_quality": "bool_", "region": "box", "stage": "string",
                "transform": "string", "verified": "bool_", "score": "float64", "time": "spans",
                "query_match": "float64", "compared_match": "float64"}
"""Arrow type of each field of ``Match.to_json()`` (a box is 4 ints; spans are [start_s, end_s] pairs)."""

_SQL_TYPES = {"int64": "bigint", "int32": "int", "string": "string", "bool_": "boolean", "float64": "double",
              "box": "array<int>", "spans": "array<array<double>>"}


def _match_fields() -> list[str]:
    """The keys of ``Match.to_json()``, in its order (so a row read back is the same dict)."""
    names = []
    for f in fields(Match):
        # ``percent`` is written as two fields (a video matched by vPDQ's rule)
        names += ["query_match", "compared_match"] if f.name == "percent" else \
            ["algo" if f.name == "algorithm" else f.name]
    return [n for n in names if n in _ARROW_TYPES]


def _arrow_type(name: str) -> Any:
    import pyarrow as pa

    t = _ARROW_TYPES[name]
    if t == "box":
        return pa.list_(pa.int32(), 4)
    if t == "spans":
        return pa.list_(pa.list_(pa.float64(), 2))
    return getattr(pa, t)()


def _match_schema() -> Any:
    import pyarrow as pa

    match = pa.struct([(name, _arrow_type(name)) for name in _match_fields()])
    # One field per algorithm (null where not computed): the same dict as query_hash once read back.
    own = pa.struct([(a, pa.struct([("hex", pa.string()), ("quality", pa.int32())])) for a in algorithms.NAMES])
    return pa.schema([("query", pa.string()), ("query_hash", own), ("matches", pa.list_(match)),
                      ("error", pa.string()), ("frames", pa.int32()), ("skipped_frames", pa.int32()),
                      ("notes", pa.list_(pa.string()))])


def match_schema_ddl() -> str:
    """The columns of a match table as a SQL schema string (Spark's ``mapInPandas`` takes it)."""
    match = ", ".join(f"{name}: {_SQL_TYPES[_ARROW_TYPES[name]]}" for name in _match_fields())
    own = ", ".join(f"{a}: struct<hex: string, quality: int>" for a in algorithms.NAMES)
    return (f"query string, query_hash struct<{own}>, matches array<struct<{match}>>, error string, "
            "frames int, skipped_frames int, notes array<string>")


def _failure(name: str, e: PhotomatchError) -> PhotomatchError:
    """The error of one row, naming the row."""
    if isinstance(e, DecodeError):  # "<bytes>: truncated" becomes "<the row's name>: truncated"
        return e if e.source == name else DecodeError(name, e.reason)
    return e if str(e).startswith(name) else PhotomatchError(f"{name}: {e}")


# --- hashing ----------------------------------------------------------------------------------


def hash_batch(batch: Any, *, algorithm: str = "pdq", exact: bool = False, workers: int = 1) -> Any:
    """The hash of every image of ``batch``, as a table (see the module docstring).

    ``algorithm`` is ``"pdq"`` or ``"phash"``; ``exact`` decodes JPEGs fully; ``workers``
    threads hash at once (1 by default: engines run one batch per core).
    """
    algorithms.get(algorithm)
    form, cols = _columns(batch)
    rows = _inputs(cols, hashes=False)

    def one(row: tuple[str, Any]) -> tuple[str, Hash | None, str | None]:
        name, image = row
        if image is None:
            return name, None, f"{name}: no image in this row"
        h, error = run_item(name, lambda: hash_image(image, algorithm, exact=exact))
        return name, h, None if error is None else str(_failure(name, error))

    out: dict[str, list[Any]] = {c: [] for c in HASH_COLUMNS}
    for name, h, error in ordered_map(one, rows, workers=max(1, int(workers))):
        out["path"].append(name)
        out["algo"].append(algorithm)
        out["hex"].append(None if h is None else h.hex)
        out["quality"].append(None if h is None else h.quality)
        out["error"].append(error)
    return _table(form, out, _hash_schema)


# --- matching ---------------------------------------------------------------------------------


def match_batch(batch: Any, matcher: Matcher, *, mode: str = "robust", threshold: int | None = None,
                phash_threshold: int | None = None, dihedral: bool = True, exact: bool = False,
                workers: int = 1, video_options: VideoOptions | None = None) -> Any:
    """The matches of every image, video (or hash) of ``batch`` against ``matcher``'s store, as a table.

    Options as for :meth:`photomatch.Matcher.match_many`; rows of the ``hash`` column are
    matched as hashes (whole-image search: there are no pixels to look inside).
    """
    form, cols = _columns(batch)
    rows = _inputs(cols, hashes=True)
    results = list(match_rows(rows, matcher, mode=mode, threshold=threshold, phash_threshold=phash_threshold,
                              dihedral=dihedral, exact=exact, workers=workers, video_options=video_options))
    lines = [r.to_json() for r in results]
    out = {c: [line.get(c) for line in lines] for c in MATCH_COLUMNS}
    return _table(form, out, _match_schema)


def match_rows(rows: Iterable[tuple[str, Any]], matcher: Matcher, *, mode: str, threshold: int | None,
               phash_threshold: int | None, dihedral: bool, exact: bool, workers: int,
               video_options: VideoOptions | None = None) -> Iterable[MatchResult]:
    """``MatchResult`` per (name, image, video or hash) row, in order; media go through ``match_many``."""
    rows = list(rows)
    images = [(i, v) for i, (_, v) in enumerate(rows) if v is not None and not isinstance(v, _HashText)]
    found = matcher.match_many((v for _, v in images), mode=mode, threshold=threshold,
                               phash_threshold=phash_threshold, dihedral=dihedral, exact=exact,
                               workers=max(1, int(workers)), video_options=video_options)
    by_row = {i: r for (i, _), r in zip(images, found)}
    for i, (name, value) in enumerate(rows):
        r = by_row.get(i)
        if r is not None:
            yield MatchResult(name, r.matches, None if r.ok else _failure(name, r.error), r.notes, r.video,
                              query_hash=r.query_hash)
        elif value is None:
            yield MatchResult(name, [], PhotomatchError(f"{name}: no image or hash in this row"))
        else:
            matches, error = run_item(name, lambda: matcher.match_hash(
                Hash.from_hex(value), threshold=threshold, phash_threshold=phash_threshold))
            yield MatchResult(name, matches or [], None if error is None else _failure(name, error))


class BatchMatcher:
    """``match_batch`` against one store, opened once: the callable an actor pool keeps per worker.

    ``BatchMatcher(store, **options)(batch) -> table``; options as for :func:`match_batch`.
    """

    def __init__(self, store: str | os.PathLike[str], *, mode: str = "robust", threshold: int | None = None,
                 phash_threshold: int | None = None, dihedral: bool = True, exact: bool = False,
                 workers: int = 1, video_options: VideoOptions | None = None) -> None:
        self.options = dict(mode=mode, threshold=threshold, phash_threshold=phash_threshold,
                            dihedral=dihedral, exact=exact, workers=workers, video_options=video_options)
        # Checked here, before any batch: a bad option is one error, not one per row.
        check_match_options(mode, threshold, phash_threshold)
        check_video_options(video_options)
        # Read-only: the many workers of an engine never write the store or its index caches.
        self.matcher = Matcher(store, create=False, read_only=True)

    def __call__(self, batch: Any) -> Any:
        return match_batch(batch, self.matcher, **self.options)

    def close(self) -> None:
        self.matcher.close()

    def __enter__(self) -> BatchMatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
