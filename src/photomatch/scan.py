"""A scan: the query items of ``sources`` matched against a store, as ``match --json`` records.

Each record is the dict ``photomatch match --json`` prints for one query: ``query``, ``matches``
(each match with ``flood``), ``error`` when the query could not be read, ``message`` and ``sha256``
for media of a chat export, and ``ignored`` when the query also matched an image of the store's
ignore list (its matches are moved there, each with ``ignored_by``). Records come back in scan
order once the scan is over, because ``flood`` can only be decided then: a reported item that
matched more than ``FloodGuard.share`` of at least ``FloodGuard.minimum`` images read is flagged in
every one of its matches and in the summary (nothing is dropped). Meanwhile they wait in an
owner-only temporary file, so memory stays bounded whatever the number of queries.

Videos are matched like images (``Matcher.match_many`` reads their frames, see
``photomatch.videomatch``, and so does Ray's adapter); their records add ``frames`` (samples
matched), ``skipped_frames`` and ``notes``, and each match its ``time`` spans.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import IO, Any

from ._fileio import sha256_file
from .errors import PhotomatchError
from .loading import MAX_FILE_BYTES
from .sources import QueryItem, ScanSummary, expand
from .sources.summary import Problem

IGNORE_SUFFIX = ".ignored"
"""The ignore list of ``reports.db`` is the store ``reports.db.ignored`` beside it."""


@dataclass(frozen=True)
class FloodGuard:
    """Flag a reported item that matched more than ``share`` of the images read, once at least
    ``minimum`` were read (a blank frame or a logo among the reported pictures matches everything)."""

    share: float = 0.05
    minimum: int = 100

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            msg = f"flood share must be in (0, 1], got {self.share}"
            raise ValueError(msg)
        if self.minimum < 1:
            msg = f"flood minimum must be at least 1, got {self.minimum}"
            raise ValueError(msg)

    def flooded(self, count: int, read: int) -> bool:
        return read >= self.minimum and count > self.share * read


def ignore_path(store: str | os.PathLike[str]) -> str:
    return os.fspath(store) + IGNORE_SUFFIX


class Records:
    """The records of a finished scan, read back in order with ``flood`` set; iterable many times."""

    def __init__(self, spool: IO[str], flooded: set[int]) -> None:
        self._spool, self._flooded = spool, flooded

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._spool.seek(0)
        for line in self._spool:
            rec = json.loads(line)
            for m in rec["matches"]:
                m["flood"] = m["id"] in self._flooded
            for m in rec.get("ignored", ()):
                m["flood"] = False
            yield rec

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> Records:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a caller that only iterated: the spool goes with the records
        self._spool.close()


class Scan:
    """Match every query item of some PATHs; see the module docstring.

    ``matcher`` is an open :class:`photomatch.Matcher`; ``ignore`` the Matcher of its ignore list
    (or None); ``match_options`` go to ``Matcher.match_many`` (mode, threshold, workers, exact,
    dihedral), or to ``match_many(paths)`` when given (another engine, such as Ray, that yields
    ``MatchResult``s in the order of the paths). ``correspondences`` keeps verified matches'
    inlier pairs in the records (for the evidence report). ``on_problem`` is told of every input failure as it happens, ``on_error`` of every
    query that could not be decoded, and ``progress`` may wrap the stream of results (a bar).
    """

    def __init__(self, matcher: Any, *, ignore: Any = None, flood: FloodGuard | None = None,
                 summary: ScanSummary | None = None,
                 on_problem: Callable[[Problem], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None,
                 progress: Callable[[Iterator[Any]], Iterator[Any]] | None = None,
                 match_many: Callable[[Iterator[str]], Iterator[Any]] | None = None,
                 correspondences: bool = False, **match_options: Any) -> None:
        self.matcher, self.ignore = matcher, ignore
        self.correspondences = correspondences
        self.flood = flood or FloodGuard()
        self.summary = summary or ScanSummary()
        self.on_error = on_error
        self.progress = progress or (lambda it: it)
        self.match_options = match_options
        self.match_many = match_many or (lambda paths: matcher.match_many(paths, **match_options))
        self.summary.listener = on_problem
        self.summary.parameters.update({k: v for k, v in match_options.items() if k not in ("workers", "video_options")})
        if match_options.get("video_options") is not None:
            self.summary.parameters["video"] = asdict(match_options["video_options"])
        self.summary.parameters.update(flood_share=self.flood.share, flood_minimum=self.flood.minimum,
                                       ignore_list=len(ignore) if ignore is not None else 0)
        self.summary.store = {"path": os.path.abspath(matcher.path), "items": len(matcher)}

    def run(self, paths: Iterable[str | os.PathLike[str]]) -> Records:
        pending: deque[QueryItem] = deque()

        def images() -> Iterator[str]:
            for item in expand(paths, self.summary):
                pending.append(item)
                yield item.path

        counts: Counter[int] = Counter()
        labels: dict[int, str | None] = {}
        spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # mkstemp: 0600, unlinked at once
        try:
            for r in self.progress(self.match_many(images())):
                item = pending.popleft()
                rec = self._record(item, r)
                for m in rec["matches"]:
                    counts[m["id"]] += 1
                    labels[m["id"]] = m["label"]
                spool.write(json.dumps(rec) + "\n")  # ASCII: a non-UTF-8 name's surrogates survive the spool
        except BaseException:
            spool.close()
            raise
        s = self.summary
        flooded = {i for i, n in counts.items() if self.flood.flooded(n, s.read)}
        s.flooded = [{"id": i, "label": labels[i], "matches": counts[i], "of": s.read,
                      "share": round(counts[i] / s.read, 4)} for i in sorted(flooded)]
        s.finish()
        return Records(spool, flooded)

    def _record(self, item: QueryItem, r: Any) -> dict[str, Any]:
        s = self.summary
        # With "error" if it failed; a video's with "frames", "skipped_frames" (the reasons are its notes).
        rec: dict[str, Any] = r.to_json(correspondences=self.correspondences)
        if not r.ok:
            s.decode_errors += 1
            if self.on_error is not None:
                self.on_error(r.error)
        else:
            s.read += 1
        if item.message is not None:
            rec["message"] = item.message
            rec["sha256"] = _sha256(item.path)
        if rec["matches"] and self.ignore is not None:
            options = {k: v for k, v in self.match_options.items() if k != "workers"}
            try:
                benign = self.ignore.match(item.path, **options)
            except PhotomatchError:  # read a moment ago: changed since? then it is not known benign
                benign = []
            if benign:
                why = {"id": benign[0].id, "reason": benign[0].label, "source": benign[0].source}
                rec["ignored"] = [dict(m, ignored_by=why) for m in rec["matches"]]
                rec["matches"] = []
                s.ignored += len(rec["ignored"])
        if rec["matches"]:
            s.matched += 1
            s.matches += len(rec["matches"])
        return rec


def _sha256(path: str) -> str | None:
    try:
        return sha256_file(path, max_bytes=MAX_FILE_BYTES)[0]
    except OSError:
        return None
