"""Hash lists: read, write, import into and export from a store (hash-only work with partners).

Accepted input (the format is taken from ``format=``, else the extension, else the content):

- **CSV** (``.csv``) and **TSV** (``.tsv``, ``.tab``, ``.txt``) with a header row naming a hex
  hash column: ``hash``, ``hex``, ``signal`` or an algorithm's name, ``pdq`` or ``phash`` (which
  implies the algorithm), and optional columns ``algo`` (also ``algorithm``, ``signal_type``,
  ``hash_type``), ``quality``, ``id``, ``label``, ``source`` (also ``path``, ``file``,
  ``filename``), ``kind`` (how the region was chosen: ``HashRecord.region_kind``) and ``x, y, w, h``
  (the region of the image a hash covers). Other
  columns are ignored. Column names are case-insensitive. A header line may start with ``#``
  (as in ``photomatch hash --format text``); other ``#`` lines and blank lines are skipped.
- **Headerless** CSV/TSV as exchanged in the field: one hash per line; ``hash,quality``; the
  ``hash,quality,filename`` lines of Meta's ``pdq-photo-hasher``; and its
  ``hash=...,norm=...,delta=...,quality=...,filename=...`` lines (``--details``).
- **JSON lines** (``.jsonl``, ``.ndjson``, ``.json``): one object per line with the same keys.
- The three outputs of ``photomatch hash --format text|csv|jsonl`` (columns ``path, algo, hex,
  quality``; the text one tab-separated with a ``#`` header) import as they are.

Hashes are hex digits (either case): 64 for PDQ, 16 for pHash (``photomatch.algorithms``);
without an ``algo`` column the length decides. Quality is empty or an integer 0-100. In TSV files whose header starts with ``#``
(ours) every text field, and in CSV and JSON lines the ``source``/``path`` field, is in
photomatch's one escaped form for untrusted names (``photomatch._text``: ``\\xNN`` for a
control character or a byte of a non-UTF-8 file name, ``\\uNNNN``, ``\\\\``), as ``photomatch
hash`` and ``export`` write them; CSV text cells that a spreadsheet would take for a formula
carry a leading ``'`` (``photomatch._text.csv_cell``), removed on reading.

Validation is strict and atomic: the first malformed line (bad hash length, not hex, unknown
algorithm, bad quality, region or field count) raises :class:`~photomatch.errors.HashFormatError`
naming the file and the line number (the error carries ``.path``, ``.line``, ``.reason``), and
nothing from that file is returned or imported. With ``skip_invalid=True`` every bad line is
reported as a :class:`SkippedLine` and the rest are kept. Errors of the file as a whole (bytes
that are not UTF-8, broken CSV quoting, which can swallow the lines after it, a header without a
hash column) are never skipped. Errors never quote the hash itself.

>>> import io
>>> records = read_hash_list(io.StringIO("hash,quality\\n" + "ab" * 32 + ",87\\n"))
>>> [(r.algorithm, r.quality) for r in records]
[('pdq', 87)]
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import os
import re
from contextlib import contextmanager
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO, Any, NamedTuple

import numpy as np

from ._fileio import open_output, open_regular
from ._text import csv_cell, csv_value, escape, unescape
from .algorithms import ALGORITHMS, NAMES, by_hex_length, hex_lengths
from .errors import HashFormatError, UnknownAlgorithmError
from ._parallel import prefetch
from .files import extension

__all__ = [
    "FORMATS",
    "HashRecord",
    "SkippedLine",
    "export_hash_list",
    "import_hash_list",
    "read_hash_list",
    "write_hash_list",
]

#: Output formats of :func:`write_hash_list` (``"text"`` is an alias of ``"tsv"``).
FORMATS = ("csv", "tsv", "jsonl")
_HEXCHARS = frozenset("0123456789abcdefABCDEF")

# column name -> field, in order of preference for the hash column
_HASH_NAMES = ("hash", "hex", "signal", *NAMES)
_ALIASES = {
    "algo": "algo", "algorithm": "algo", "signal_type": "algo", "hash_type": "algo",
    "quality": "quality",
    "id": "id",
    "label": "label",
    "source": "source", "path": "source", "file": "source", "filename": "source",
    "kind": "kind",
    "x": "x", "y": "y", "w": "w", "h": "h",
}
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".json": "jsonl"}


@dataclass(frozen=True)
class HashRecord:
    """One hash of a hash list. ``id`` is the list's own identifier (text), not a store id.

    ``repr`` leaves the hash out (reports are sensitive); ``line`` (where it was read) does not
    take part in equality.
    """

    algorithm: str
    hex: str
    quality: int | None = None
    id: str | None = None
    label: str | None = None
    source: str | None = None
    region_kind: str = "whole"
    region: tuple[float, float, float, float] | None = None
    line: int | None = field(default=None, compare=False)

    @property
    def bits(self) -> bytes:
        """The packed bits, as the store and the index take them."""
        return bytes.fromhex(self.hex)

    def to_hash(self) -> Any:
        """This record as a :class:`photomatch.hashing.Hash`."""
        from .hashing import Hash

        return Hash(self.algorithm, self.bits, self.quality)

    def __repr__(self) -> str:
        return (f"HashRecord(algorithm={self.algorithm!r}, hex=<{len(self.hex)} digits>, quality={self.quality!r}, "
                f"id={self.id!r}, label={self.label!r}, source={self.source!r}, region_kind={self.region_kind!r}, "
                f"line={self.line})")


@dataclass(frozen=True)
class SkippedLine:
    """A line left out by ``skip_invalid=True``: where, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}: {self.reason}"


class _BadLine(Exception):
    """A malformed line (internal; becomes HashFormatError or SkippedLine)."""

    def __init__(self, reason: str, *, unknown_algorithm: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unknown_algorithm = unknown_algorithm  # set: the error is an UnknownAlgorithmError


# ---------------------------------------------------------------------------------------------
# validation of one record


def _shown(value: Any) -> str:
    """A field value quoted in an error, with runs of hex digits masked: a misplaced column may hold a hash."""
    return repr(re.sub(r"[0-9a-fA-F]{8,}", "<hex>", str(value)[:40])[:20])


def _parse_hash(text: Any, algorithm: Any) -> tuple[str, str]:
    if not isinstance(text, str):
        raise _BadLine(f"the hash must be a string of hex digits, got {type(text).__name__}")
    s = text.strip()
    if isinstance(algorithm, str) and not algorithm.strip():
        algorithm = None  # an empty algo cell: infer from the length
    if algorithm is not None:
        spec = ALGORITHMS.get(algorithm.strip().lower()) if isinstance(algorithm, str) else None
        if spec is None:
            reason = UnknownAlgorithmError(algorithm, NAMES).reason
            raise _BadLine(reason, unknown_algorithm=algorithm)
        if len(s) != spec.hex_length:
            raise _BadLine(f"a {spec.name} hash has {spec.hex_length} hex digits, got {len(s)}")
    else:
        spec = by_hex_length(len(s))
        if spec is None:
            raise _BadLine(f"the hash has {len(s)} characters; expected {hex_lengths()} hex digits")
    if not _HEXCHARS.issuperset(s):
        raise _BadLine(f"the {spec.name} hash is not hexadecimal")
    return spec.name, s.lower()


def _parse_quality(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _BadLine("quality must be an integer from 0 to 100, got a boolean")
    if isinstance(value, int):
        q = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii() and len(value.strip()) < 20:
        q = int(value.strip())
    else:
        raise _BadLine(f"quality must be an integer from 0 to 100, got {_shown(value)}")
    if not 0 <= q <= 100:
        raise _BadLine(f"quality must be an integer from 0 to 100, got {_shown(q)}")
    return q


def _parse_region(values: list[Any]) -> tuple[float, float, float, float] | None:
    present = [v for v in values if v is not None and not (isinstance(v, str) and not v.strip())]
    if not present:
        return None
    if len(present) != 4:
        raise _BadLine("a region needs all of x, y, w, h (or none)")
    try:
        x, y, w, h = (float(v) for v in values)
    except (TypeError, ValueError):
        raise _BadLine("region x, y, w, h must be numbers") from None
    if not (w > 0 and h > 0) or any(v != v or v in (float("inf"), float("-inf")) for v in (x, y, w, h)):
        raise _BadLine("region must be finite with w, h > 0")
    return (x, y, w, h)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _BadLine(f"expected text, got {type(value).__name__}")
    return value if value != "" else None


def _record(fields: dict[str, Any], default_algo: str | None, line: int, *, escaped_source: bool = True) -> HashRecord:
    algo_field = fields.get("algo")
    algo = algo_field if algo_field not in (None, "") else default_algo
    algorithm, hexdigits = _parse_hash(fields.get("hash"), algo)
    return HashRecord(
        algorithm=algorithm, hex=hexdigits, quality=_parse_quality(fields.get("quality")),
        id=_text(fields.get("id")), label=_text(fields.get("label")),
        source=_source(_text(fields.get("source")), escaped_source),
        region_kind=_text(fields.get("kind")) or "whole", region=_parse_region([fields.get(k) for k in "xywh"]), line=line,
    )


# ---------------------------------------------------------------------------------------------
# reading


def _source(value: str | None, escaped: bool) -> str | None:
    return unescape(value) if escaped and value is not None else value


# TSV cells (and `photomatch hash --format text` paths) use photomatch's one escaped form.
_unescape = unescape
_escape = escape


def _header_map(cells: list[str]) -> tuple[dict[str, int], str | None] | None:
    """Column positions of a header row, or None if the row is not a header."""
    names = [c.strip().lower() for c in cells]
    if any(_looks_like_hash(c) for c in cells):
        return None
    positions: dict[str, int] = {}
    default_algo = None
    for wanted in _HASH_NAMES:
        if wanted in names:
            positions["hash"] = names.index(wanted)
            default_algo = wanted if wanted in ALGORITHMS else None
            break
    for i, n in enumerate(names):
        key = _ALIASES.get(n)
        if key is not None and key not in positions:
            positions[key] = i
    if "hash" not in positions:
        return None if not positions else ({}, None)  # names we know, but no hash column
    return positions, default_algo


def _looks_like_hash(cell: str) -> bool:
    s = cell.strip()
    return by_hex_length(len(s)) is not None and _HEXCHARS.issuperset(s)


def _headerless(cells: list[str], sep: str) -> dict[str, Any]:
    first = cells[0].strip()
    if first.lower().startswith("hash="):
        # pdq-photo-hasher --details: hash=...,norm=...,delta=...,quality=...,filename=...
        line = sep.join(cells)
        out: dict[str, Any] = {}
        rest = line
        while rest:
            key, _, value = rest.partition("=")
            key = key.strip().lower()
            if key == "filename":  # the last field; a file name may hold the separator
                out["source"] = value
                break
            value, _, rest = value.partition(sep)
            out[{"hash": "hash", "quality": "quality"}.get(key, "_" + key)] = value
        return out
    if len(cells) == 1:
        return {"hash": cells[0]}
    if len(cells) == 2:
        return {"hash": cells[0], "quality": cells[1]}
    # hash,quality,filename (pdq-photo-hasher); a file name may hold the separator
    return {"hash": cells[0], "quality": cells[1], "source": sep.join(cells[2:])}


def _delimited_rows(lines: Iterable[str], fmt: str) -> Iterator[tuple[int, list[str], bool]]:
    """(line number, cells, is_comment) of every non-blank line of ``lines`` (with their ends)."""
    if fmt == "tsv":
        for n, raw in enumerate(lines, 1):
            line = raw.rstrip("\r")
            if line.strip():
                yield n, line.split("\t"), line.lstrip().startswith("#")
        return
    reader = csv.reader(lines, strict=True)
    end = 0  # the line the last record ended on; the next one begins after it
    try:
        for cells in reader:
            end = reader.line_num
            joined = "".join(cells)
            if joined and not joined.isspace():
                first = cells[0]
                comment = first[:1] == "#" or (first[:1].isspace() and first.lstrip()[:1] == "#")
                if "'" in joined:  # csv_value changes only cells that start with it
                    cells = [csv_value(c) for c in cells]
                yield end, cells, comment
    except csv.Error as exc:
        raise _BadCsv(end + 1, f"malformed CSV from this line on ({exc})") from None


class _BadCsv(Exception):
    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason


class _FatalHeader(Exception):
    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason


class _Rows(NamedTuple):
    """Consecutive records of a list, as columns (a block of a streamed read)."""

    lines: list[int]
    algorithms: list[str]
    bits: list[bytes]
    qualities: list[int | None]
    ids: list[str | None]
    labels: list[str | None]
    sources: list[str | None]
    kinds: list[str]
    regions: list[tuple[float, float, float, float] | None]

    @classmethod
    def of(cls, records: list[HashRecord]) -> _Rows:
        return cls([r.line for r in records], [r.algorithm for r in records],  # type: ignore[misc]
                   [r.bits for r in records], [r.quality for r in records], [r.id for r in records],
                   [r.label for r in records], [r.source for r in records], [r.region_kind for r in records],
                   [r.region for r in records])

    def records(self) -> list[HashRecord]:
        return [HashRecord(a, b.hex(), q, i, lab, src, k, reg, n) for n, a, b, q, i, lab, src, k, reg in zip(*self)]


_BLOCK = 8192  # rows per block of a streamed read


def _unescaped(column: list[str | None]) -> list[str | None]:
    if column.count(None) == len(column) or "\\" not in "".join(v for v in column if v):
        return column
    return [_unescape(v) if v and "\\" in v else v for v in column]


_HEX_RUN = re.compile(r"[0-9a-fA-F]*")
_QUALITIES = re.compile(r"[0-9]{0,3}(?:,[0-9]{0,3})*")


def _fast_rows(buf: list[tuple[int, list[str]]], positions: dict[str, int] | None, default_algo: str | None,
               escaped: bool, width: int) -> _Rows | None:
    """The block's records, checked a column at a time, when every row has the common shape (a
    hash of one algorithm, plain digits or nothing for quality, no region); None otherwise, and
    the rows then go through the line-by-line check, which names the bad line. Same records as
    :func:`_record` gives, by construction of the conditions."""
    n = len(buf)
    rows = [c for _, c in buf]
    if positions is None:  # headerless: hash[,quality]
        if max(map(len, rows)) > 2:
            return None
        hashes = list(map(itemgetter(0), rows))
        quals: list[str | None] = [c[1] if len(c) > 1 else None for c in rows]
        algos: list[str | None] = [None]
        ids = labels = sources = [None] * n
    else:
        if max(map(len, rows)) > width:
            return None
        full = min(map(len, rows)) == width

        def column(key: str) -> list[str | None]:
            i = positions.get(key)  # type: ignore[union-attr]
            if i is None:
                return [None] * n
            if full:
                return list(map(itemgetter(i), rows))
            return [c[i] if i < len(c) else None for c in rows]

        if any(key in positions for key in ("kind", "x", "y", "w", "h")):
            if any(v for key in "xywh" for v in column(key)) or set(column("kind")) - {None, "", "whole"}:
                return None
        hashes = column("hash")  # type: ignore[assignment]
        if None in hashes:
            return None
        quals = column("quality")
        algos = list(set(column("algo")))
        ids, labels, sources = column("id"), column("label"), column("source")
        if escaped:
            ids, labels, sources = (_unescaped(col) for col in (ids, labels, sources))
        else:
            sources = _unescaped(sources)
        ids, labels, sources = ([v or None for v in col] if "" in col else col for col in (ids, labels, sources))
    length = len(hashes[0])
    named = {a.strip().lower() for a in algos if a} | ({default_algo} if default_algo else set())
    spec = by_hex_length(length)
    if spec is None or named - {spec.name} or len(named) > 1:
        return None
    joined = "".join(hashes)
    if set(map(len, hashes)) != {length} or not _HEX_RUN.fullmatch(joined):
        return None
    if not _QUALITIES.fullmatch(",".join(q or "" for q in quals)):
        return None
    qualities = [int(q) if q else None for q in quals]
    if max((q for q in qualities if q is not None), default=0) > 100:
        return None
    raw = bytes.fromhex(joined)
    size = spec.nbytes
    return _Rows([line for line, _ in buf], [spec.name] * n, [raw[i:i + size] for i in range(0, len(raw), size)],
                 qualities, ids, labels, sources, ["whole"] * n, [None] * n)  # type: ignore[arg-type]


def _delimited_blocks(lines: Iterable[str], fmt: str, report: Callable[[int, _BadLine], None]) -> Iterator[_Rows]:
    sep = "\t" if fmt == "tsv" else ","
    positions: dict[str, int] | None = None  # None: headerless
    default_algo: str | None = None
    width = 0
    escaped = False
    seen_data = False
    buf: list[tuple[int, list[str]]] = []

    def flush() -> _Rows:
        fast = _fast_rows(buf, positions, default_algo, escaped, width)
        if fast is not None:
            return fast
        records = []
        for n, cells in buf:
            try:
                if positions is None:
                    fields = _headerless(cells, sep)
                else:
                    if len(cells) > width:
                        raise _BadLine(f"{len(cells)} fields where the header has {width}")
                    fields = {k: (cells[i] if i < len(cells) else None) for k, i in positions.items()}
                    if escaped:
                        fields = {k: _unescape(v) if isinstance(v, str) else v for k, v in fields.items()}
                records.append(_record(fields, default_algo, n, escaped_source=not escaped))
            except _BadLine as exc:
                report(n, exc)
        return _Rows.of(records)

    for n, cells, comment in _delimited_rows(lines, fmt):
        if comment:
            # Only a '#' line before any data can be the header (photomatch hash --format text).
            if positions is None and not seen_data:
                found = _header_map([cells[0].lstrip()[1:], *cells[1:]])
                if found is not None and found[0]:
                    (positions, default_algo), width, escaped = found, len(cells), fmt == "tsv"
            continue
        if positions is None and not seen_data:
            found = _header_map(cells)
            if found is not None:
                if not found[0]:
                    raise _FatalHeader(n, f"the header has no hash column (expected one of {', '.join(_HASH_NAMES)})")
                (positions, default_algo), width = found, len(cells)
                continue
        seen_data = True
        buf.append((n, cells))
        if len(buf) >= _BLOCK:
            yield flush()
            buf = []
    if buf:
        yield flush()


def _jsonl_blocks(lines: Iterable[str], report: Callable[[int, _BadLine], None]) -> Iterator[_Rows]:
    records: list[HashRecord] = []
    for n, raw in enumerate(lines, 1):
        if len(records) >= _BLOCK:
            yield _Rows.of(records)
            records = []
        line = raw.strip()
        if not line:
            continue
        try:
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError) as exc:  # also a 5000-digit number, or [[[[... nested too deep
                raise _BadLine(f"not valid JSON ({getattr(exc, 'msg', type(exc).__name__)})") from None
            if not isinstance(obj, dict):
                raise _BadLine(f"expected a JSON object, got {type(obj).__name__}")
            fields: dict[str, Any] = {}
            default_algo = None
            lowered = {str(k).strip().lower(): v for k, v in obj.items()}
            for wanted in _HASH_NAMES:
                if wanted in lowered:
                    fields["hash"] = lowered[wanted]
                    default_algo = wanted if wanted in ALGORITHMS else None
                    break
            else:
                raise _BadLine(f"no hash key (expected one of {', '.join(_HASH_NAMES)})")
            for k, v in lowered.items():
                key = _ALIASES.get(k)
                if key is not None and key not in fields:
                    fields[key] = v
            region = obj.get("region")
            if region is not None:  # [x, y, w, h] exactly: any other shape is a bad line, not "no region"
                if not isinstance(region, list) or len(region) != 4:
                    raise _BadLine(f"region must be a list [x, y, w, h], got {_shown(region)}")
                fields.update(zip("xywh", region))
            records.append(_record(fields, default_algo, n))
        except _BadLine as exc:
            report(n, exc)
    if records:
        yield _Rows.of(records)


def _sniff(first: str | None, name: str, fmt: str | None) -> str:
    """The list's format: ``fmt``, else the extension, else its first non-blank line."""
    if fmt is not None:
        fmt = "tsv" if fmt == "text" else fmt
        if fmt not in FORMATS:
            msg = f"unknown hash list format {fmt!r}; expected one of {FORMATS} or 'text'"
            raise ValueError(msg)
        return fmt
    ext = extension(name)
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if first is not None:
        if first.startswith("{"):
            return "jsonl"
        return "tsv" if "\t" in first else "csv"
    return "csv"


_CHUNK = 1 << 22  # bytes read at a time; also the longest line accepted
MAX_LINE = _CHUNK


def _chunks(f: Any, name: str) -> Iterator[str]:
    """The decoded text of a list, in pieces that end at a line end (the last one may not)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    carry = ""
    lines = 0  # line ends in the text given out so far
    first = True
    while True:
        data = f.read(_CHUNK)
        if isinstance(data, str):
            text = data.lstrip("\ufeff") if first else data
        else:
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                line = lines + carry.count("\n") + data[: max(exc.start, 0)].count(b"\n") + 1
                raise _error(name, line, "not UTF-8 text") from None
        first = False
        text = carry + text
        if not data:
            if text:
                yield text
            return
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) > MAX_LINE:
            raise _error(name, lines + 1, f"a line longer than {MAX_LINE} characters")
        if cut:
            yield text[:cut]
            lines += text.count("\n", 0, cut)
        carry = text[cut:]


def _lines(chunks: Iterable[str], fmt: str) -> Iterator[str]:
    """CSV: lines with their ends, split as ``newline=""`` does (at CR, LF or CRLF), which the
    reader needs; TSV and JSON lines: the text between LFs."""
    for chunk in chunks:
        if fmt == "csv":
            yield from io.StringIO(chunk, newline="")
        else:
            pieces = chunk.split("\n")
            if chunk.endswith("\n"):
                pieces.pop()
            yield from pieces


@contextmanager
def _opened(path_or_file: Any) -> Iterator[tuple[Any, str]]:
    if isinstance(path_or_file, (str, os.PathLike)):
        name = os.fspath(path_or_file)
        try:
            f = open_regular(name)
        except OSError as exc:
            raise HashFormatError(f"cannot read the hash list: {exc.strerror}", path=name) from exc
        with f:
            yield f, name
    else:
        yield path_or_file, str(getattr(path_or_file, "name", "<stream>"))


def _blocks(f: Any, name: str, *, skip_invalid: bool, format: str | None,
            skipped: list[SkippedLine]) -> Iterator[_Rows]:
    """The records of an open list in blocks, read as they are needed (bounded memory)."""
    chunks = _chunks(f, name)
    held: list[str] = []  # chunks read to find the first non-blank line (for the format)
    first = None
    for chunk in chunks:
        held.append(chunk)
        first = next((s for s in (line.strip() for line in chunk.split("\n")) if s), None)
        if first is not None or len(held) > 4:
            break
    fmt = _sniff(first, name, format)
    lines = _lines(itertools.chain(held, chunks), fmt)

    def report(line: int, bad: _BadLine) -> None:
        if not skip_invalid:
            raise _error(name, line, bad)
        skipped.append(SkippedLine(name, line, bad.reason))

    try:
        yield from _jsonl_blocks(lines, report) if fmt == "jsonl" else _delimited_blocks(lines, fmt, report)
    except (_BadCsv, _FatalHeader) as exc:
        # A file whose structure cannot be read is wrong as a whole: never skippable.
        raise _error(name, exc.line, exc.reason) from None


def _error(name: str, line: int, reason: str | _BadLine) -> HashFormatError:
    if isinstance(reason, _BadLine) and reason.unknown_algorithm is not None:
        return UnknownAlgorithmError(reason.unknown_algorithm, NAMES, path=name, line=line)
    return HashFormatError(str(reason), path=name, line=line)


def _parse(path_or_file: Any, *, skip_invalid: bool, format: str | None) -> tuple[list[HashRecord], list[SkippedLine], str]:
    skipped: list[SkippedLine] = []
    with _opened(path_or_file) as (f, name):
        records = [r for rows in _blocks(f, name, skip_invalid=skip_invalid, format=format, skipped=skipped)
                   for r in rows.records()]
    return records, skipped, name


def read_hash_list(path_or_file: str | os.PathLike[str] | IO[Any], *, skip_invalid: bool = False,
                   format: str | None = None,
                   on_skip: Callable[[SkippedLine], None] | None = None) -> list[HashRecord]:
    """Read a hash list (see the module docstring for what is accepted) into :class:`HashRecord`\\ s.

    Strict: the first bad line raises :class:`~photomatch.errors.HashFormatError` naming the file
    and line, and nothing is returned. With ``skip_invalid`` bad lines are left out and each is
    passed to ``on_skip`` as a :class:`SkippedLine`.

    >>> import io
    >>> text = "#path\\talgo\\thex\\tquality\\nphoto.jpg\\tphash\\t" + "0f" * 8 + "\\t\\n"
    >>> [(r.source, r.algorithm, r.quality) for r in read_hash_list(io.StringIO(text))]
    [('photo.jpg', 'phash', None)]
    >>> read_hash_list(io.StringIO("abc\\n"))
    Traceback (most recent call last):
    ...
    photomatch.errors.HashFormatError: <stream>, line 1: the hash has 3 characters; expected 64 (pdq) or 16 (phash) hex digits
    """
    records, skipped, _ = _parse(path_or_file, skip_invalid=skip_invalid, format=format)
    if on_skip is not None:
        for s in skipped:
            on_skip(s)
    return records


# ---------------------------------------------------------------------------------------------
# writing


def _as_record(r: Any) -> HashRecord:
    if isinstance(r, HashRecord):
        return r
    if hasattr(r, "algorithm") and hasattr(r, "bits"):  # a photomatch.hashing.Hash
        return HashRecord(r.algorithm, bytes(r.bits).hex(), getattr(r, "quality", None))
    msg = f"expected HashRecord or Hash values, got {type(r).__name__}"
    raise TypeError(msg)


def _render(records: Iterable[HashRecord], fmt: str, out: IO[str], regions: bool) -> int:
    """Write the header and a row per record; return how many rows."""
    # algo first: a line never starts with '#' (a comment) or a blank, whatever the ids and labels
    columns = ["algo", "hex", "quality", "id", "label", "source"] + (["kind", "x", "y", "w", "h"] if regions else [])
    escape_source = fmt != "tsv"  # TSV escapes every cell itself
    count = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal count
        for r in records:
            source = escape(r.source) if escape_source and r.source is not None else r.source
            row: list[Any] = [r.algorithm, r.hex, r.quality, r.id, r.label, source]
            if regions:
                row += [r.region_kind, *(r.region if r.region is not None else (None,) * 4)]
            elif r.region_kind != "whole" or r.region is not None:
                msg = "a record has a region but the list is written without region columns (regions=False)"
                raise ValueError(msg)
            count += 1
            yield row

    if fmt == "csv":
        # RFC 4180 line ends: the writer then quotes every field holding a \r or \n (with "\n"
        # alone it would leave a bare \r unquoted, which readers take for a line break).
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(columns)
        # Text cells neutralised against spreadsheet formulas; read_hash_list takes them back.
        w.writerows(["" if v is None else csv_cell(v) if isinstance(v, str) else v for v in row] for row in rows())
    elif fmt == "tsv":
        out.write("#" + "\t".join(columns) + "\n")
        for row in rows():
            out.write("\t".join("" if v is None else _escape(str(v)) for v in row) + "\n")
    else:
        for row in rows():
            out.write(json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n")
    return count


def write_hash_list(records: Iterable[Any], path_or_file: str | os.PathLike[str] | IO[Any], *,
                    format: str = "csv", regions: bool | None = None) -> int:
    """Write records (:class:`HashRecord` or ``Hash`` values) as CSV, TSV or JSON lines; return
    how many. A path is opened by :func:`photomatch._fileio.open_output`: a regular file or a new
    name is written atomically (temporary file, fsync, rename) and owner-only (0600); a FIFO or a
    character device (``/dev/null``) is written as a stream, never replaced; ``"-"`` is standard
    output; a directory, a socket, a block device or a missing folder raises OutputPathError.

    Columns: ``algo, hex, quality, id, label, source``, plus ``kind, x, y, w, h`` when a record
    has a region or a ``region_kind`` other than ``"whole"``; :func:`read_hash_list` reads them back equal.
    With ``regions`` given (True: those columns; False: none, and a record with a region is an
    error), the records are written as they come, never held in memory together.

    >>> import io
    >>> out = io.StringIO()
    >>> write_hash_list([HashRecord("phash", "00" * 8, label="a")], out)
    1
    >>> read_hash_list(io.StringIO(out.getvalue())) == [HashRecord("phash", "00" * 8, label="a")]
    True
    """
    fmt = "tsv" if format == "text" else format
    if fmt not in FORMATS:
        msg = f"unknown hash list format {format!r}; expected one of {FORMATS} or 'text'"
        raise ValueError(msg)
    if regions is None:
        recs: Iterable[HashRecord] = [_as_record(r) for r in records]
        regions = any(r.region_kind != "whole" or r.region is not None for r in recs)  # type: ignore[union-attr]
    else:
        recs = map(_as_record, records)
    if not isinstance(path_or_file, (str, os.PathLike)):
        if isinstance(path_or_file, io.TextIOBase) or not _is_binary(path_or_file):
            return _render(recs, fmt, path_or_file, regions)
        text = io.TextIOWrapper(path_or_file, encoding="utf-8", newline="", write_through=True)
        try:
            n = _render(recs, fmt, text, regions)
            text.flush()
        finally:
            text.detach()  # the caller's file stays open
        return n
    with open_output(os.fspath(path_or_file), binary=False) as f:
        return _render(recs, fmt, f, regions)


def _is_binary(f: Any) -> bool:
    return isinstance(f, (io.RawIOBase, io.BufferedIOBase)) or "b" in str(getattr(f, "mode", ""))


# ---------------------------------------------------------------------------------------------
# store import/export


def import_hash_list(store: Any, path: str | os.PathLike[str] | IO[Any], *, skip_invalid: bool = False,
                     label: str | None = None, format: str | None = None) -> tuple[int, list[SkippedLine]]:
    """Import a hash list into a :class:`photomatch.store.Store` in ONE transaction.

    Returns ``(hashes imported, skipped lines)``. Strict by default: a bad line raises
    :class:`~photomatch.errors.HashFormatError` (file and line) and the store is left unchanged.
    Each row becomes an item, except that consecutive rows sharing an ``id`` become one item with
    several hashes (as :func:`export_hash_list` writes an item's hashes, one after the other). An
    item's label is its row's label, else ``label``; its source the row's source/path; its note
    records the file and line (and the list's id).

    The list is streamed: read, checked and inserted a block of rows at a time inside the one
    transaction, so memory stays bounded whatever its length (``benchmarks/bench_memory.py
    --lists``), and parsing runs in a thread beside SQLite's inserts.

    >>> import io, os, tempfile
    >>> from photomatch.store import Store
    >>> with Store(os.path.join(tempfile.mkdtemp(), "s.db")) as store:
    ...     import_hash_list(store, io.StringIO("ff" * 32 + ",100\\n" + "00" * 8 + "\\n"), label="partner")
    ...     store.count()
    (2, [])
    2
    """
    skipped: list[SkippedLine] = []
    counted = [0]
    with _opened(path) as (f, name):
        blocks = _blocks(f, name, skip_invalid=skip_invalid, format=format, skipped=skipped)
        # Parsing (Python) runs in a thread beside the inserts (SQLite, without the GIL).
        store.add_item_columns(prefetch(_item_columns(blocks, os.path.basename(name), label, counted)))
    return counted[0], skipped


def _item_columns(blocks: Iterable[_Rows], base: str, label: str | None, counted: list[int]) -> Iterator[Any]:
    """Store blocks (``ItemColumns``) from list blocks. Consecutive rows sharing an ``id`` become
    one item (as :func:`export_hash_list` writes an item's hashes); the rows of a block's last
    item are carried into the next block, which may go on with it (bounded: a run of one id
    longer than ``_BLOCK`` rows may be cut into two items)."""
    from .store import ItemColumns

    carry: _Rows | None = None
    for rows in itertools.chain(blocks, [None]):
        final = rows is None
        if final:
            if carry is None:
                break
            rows = carry
        else:
            counted[0] += len(rows.lines)  # type: ignore[union-attr]
            if carry is not None:
                rows = _Rows(*(a + b for a, b in zip(carry, rows)))  # type: ignore[arg-type]
        carry = None
        assert rows is not None
        ids = rows.ids
        n = len(ids)
        if n == 0:
            continue
        if ids.count(None) == n:
            starts = list(range(n))
        else:  # an item starts where the id changes, and at every row without one
            starts = [0] + [i for i in range(1, n) if ids[i] is None or ids[i] != ids[i - 1]]
        last = starts[-1]
        if not final and ids[last] is not None and n - last < _BLOCK:
            carry = _Rows(*(col[last:] for col in rows))
            rows = _Rows(*(col[:last] for col in rows))
            starts.pop()
            n = last
            if n == 0:
                continue
        labels = [rows.labels[i] for i in starts]
        if label is not None and None in labels:
            labels = [label if v is None else v for v in labels]
        notes = [f"imported from {base}, line {rows.lines[i]}" + (f", id {ids[i]}" if ids[i] is not None else "")
                 for i in starts]
        yield ItemColumns(labels, [rows.sources[i] for i in starts], notes, _item_of(starts, n), rows.algorithms,
                          rows.bits, rows.qualities, rows.regions, rows.kinds)


def _item_of(starts: list[int], n: int) -> list[int]:
    """Per row, the index of its item, given the rows where items start (0 first)."""
    if len(starts) == n:
        return list(range(n))
    marks = np.zeros(n, dtype=np.int64)
    marks[starts] = 1
    return (np.cumsum(marks) - 1).tolist()


def export_hash_list(store: Any, path_or_file: str | os.PathLike[str] | IO[Any], *, format: str = "csv",
                     algorithm: str | None = None) -> int:
    """Write every hash of a store (or only those of ``algorithm``) as a hash list; return how many.

    The ``id`` column is the store's item id (an item with several hashes gives several rows);
    a path is written atomically and owner-only (0600). The list imports back with
    :func:`import_hash_list`.
    """
    def records() -> Iterator[HashRecord]:
        for item in store.items():
            for h in item.hashes:
                if algorithm is None or h.algorithm == algorithm:
                    yield HashRecord(h.algorithm, h.bits.hex(), h.quality, str(item.id), item.label, item.source,
                                     h.region_kind, h.region)

    # Streamed: the region columns are chosen by asking the store first, not by holding the records.
    return write_hash_list(records(), path_or_file, format=format, regions=store.has_regions(algorithm))
