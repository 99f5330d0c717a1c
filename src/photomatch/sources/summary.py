"""What a scan read, skipped and could not read: the run summary the CLI prints and the report reads.

Every problem is counted exactly; the details (which file, which chat and message) are kept for
the first ``DETAIL_LIMIT`` of each kind, so that memory stays bounded on an export of millions of
messages whose files were not exported.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DETAIL_LIMIT = 10_000

# Problem kinds. The first four are input failures (the run could not read something it was
# asked to read: exit status 2); the others are the export's or the folder's own content.
MISSING = "missing"              # the export names a file that is not there
UNREADABLE = "unreadable"        # there but can't be read (permissions, I/O error)
PATH_ESCAPE = "path_escape"      # the export names a path outside its folder: refused, never read
MALFORMED = "malformed"          # result.json or a message in it is malformed or truncated
NOT_INCLUDED = "not_included"    # Telegram left the file out ("File not included", too large, ...)
NOT_IMAGE = "not_image"          # a file whose content is not an image (skipped)
NOT_READ = "not_read"            # media photomatch does not read yet (videos)
FAILURES = (MISSING, UNREADABLE, PATH_ESCAPE, MALFORMED)


@dataclass(frozen=True)
class Problem:
    """One thing the scan could not or did not read, with where it was found."""

    kind: str
    reason: str
    path: str | None = None          # the file (or result.json / messages.html for malformed ones)
    source: str | None = None        # the export folder, or the folder/file argument
    chat: str | None = None
    chat_id: int | None = None
    message_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def __str__(self) -> str:
        where = []
        if self.message_id is not None:
            chat = f" in {self.chat!r}" if self.chat else ""
            where.append(f"message {self.message_id}{chat}")
        if self.path:
            where.append(self.path)
        return f"{', '.join(where) or self.source or '?'}: {self.reason}"


@dataclass
class ScanSummary:
    """Counts of a scan, filled in by the sources as they are read and by the matcher as it goes.

    ``to_json()`` gives a plain dict (the contract with the evidence report).
    """

    started: str = field(default_factory=lambda: _now())
    finished: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)  # {"path", "kind", "chats"?}
    messages: int = 0                # messages read from exports (service messages included)
    messages_with_media: int = 0
    media: int = 0                   # media references in exports + files found in folders and named
    images: int = 0                  # of them, handed to the matcher as images
    read: int = 0                    # images decoded and searched
    decode_errors: int = 0           # images that could not be decoded (reported by the matcher)
    matched: int = 0                 # queries with at least one reported match
    matches: int = 0                 # (query, reported item) pairs reported
    ignored: int = 0                 # (query, reported item) pairs suppressed by the ignore list
    flooded: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)     # problems by kind
    reasons: dict[str, Counter[str]] = field(default_factory=dict)  # problems by kind, then reason
    problems: list[Problem] = field(default_factory=list)      # the first DETAIL_LIMIT of each kind
    store: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    listener: Callable[[Problem], None] | None = field(default=None, repr=False, compare=False)
    """Told of every input failure as it is found (the CLI prints it on stderr)."""

    def problem(self, p: Problem) -> None:
        if p.kind in FAILURES and self.listener is not None:
            self.listener(p)
        self.counts[p.kind] += 1
        self.reasons.setdefault(p.kind, Counter())[p.reason] += 1
        if self.counts[p.kind] <= DETAIL_LIMIT:
            self.problems.append(p)

    @property
    def failures(self) -> int:
        """Inputs the scan was asked to read and could not (decode errors included)."""
        return sum(self.counts[k] for k in FAILURES) + self.decode_errors

    def finish(self) -> None:
        self.finished = _now()

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "finished": self.finished,
            "sources": self.sources,
            "messages": self.messages,
            "messages_with_media": self.messages_with_media,
            "media": self.media,
            "images": self.images,
            "read": self.read,
            "decode_errors": self.decode_errors,
            "matched": self.matched,
            "matches": self.matches,
            "ignored": self.ignored,
            "flooded": self.flooded,
            "counts": {k: self.counts[k] for k in sorted(self.counts)},
            "reasons": {k: dict(sorted(v.items())) for k, v in sorted(self.reasons.items())},
            "problems": [p.to_json() for p in self.problems],
            "problems_truncated": any(n > DETAIL_LIMIT for n in self.counts.values()),
            "store": self.store,
            "parameters": self.parameters,
        }

    def lines(self) -> list[str]:
        """The end-of-run summary for a person (stderr), one fact a line."""
        out = []
        if self.messages:
            out.append(f"read {self.messages} message(s) ({self.messages_with_media} with media) "
                       f"from {sum(1 for s in self.sources if s['kind'] != 'folder')} export(s)")
        out.append(f"{self.media} media file(s): {self.read} image(s) searched, {self.matched} matched "
                   f"({self.matches} match(es))" + (f", {self.ignored} ignored" if self.ignored else ""))
        labels = {
            NOT_READ: "not read", NOT_IMAGE: "skipped, not an image", NOT_INCLUDED: "not in the export",
            MISSING: "missing", UNREADABLE: "unreadable", PATH_ESCAPE: "refused, path outside the export",
            MALFORMED: "malformed",
        }
        for kind, label in labels.items():
            if self.counts[kind]:
                why = "; ".join(f"{n} {r}" for r, n in self.reasons[kind].most_common(6))
                found = [p for p in self.problems if p.kind == kind and p.message_id is not None]
                several_chats = len({(p.source, p.chat) for p in found}) > 1
                ids = [f"{p.message_id} in {p.chat}" if several_chats else str(p.message_id) for p in found]
                at = f" (messages {_some(ids)})" if ids else ""
                out.append(f"{self.counts[kind]} {label}: {why}{at}")
        if self.decode_errors:
            out.append(f"{self.decode_errors} image(s) could not be decoded (named above)")
        for f in self.flooded:
            out.append(f"FLOOD: reported item {f['id']} ({f['label'] or 'no label'}) matched {f['matches']} "
                       f"of {f['of']} images read ({100 * f['share']:.1f}%): a low-information picture? "
                       "Its matches are flagged \"flood\"")
        return out


def _some(ids: list[str], n: int = 10) -> str:
    head = ", ".join(ids[:n])
    return head + (f", … {len(ids) - n} more" if len(ids) > n else "")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
