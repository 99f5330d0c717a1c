"""The report's records: ``match --json`` lines turned into one entry per match, in report order,
and written as JSON lines and CSV.

A line is what ``photomatch match --json`` prints for one query: ``{"query": ..., "matches": [...]}``
with ``"error"`` when the query could not be read. Chat exports add ``"message"`` (chat, id, date,
sender...) and ``"sha256"`` of the media file; a match may carry ``"flood": true`` (its reported
item matches an unusual share of the scanned media) and ignored matches (a known-benign picture)
come in a line's ``"ignored"`` list, each with ``"ignored_by"`` (the ignore list's item and its
reason), or as matches with ``"ignored"`` set (``true`` or the reason).
Everything is optional beyond ``query`` and ``matches``: plain folders have no message.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

MESSAGE_FIELDS = ("chat", "chat_id", "id", "date", "from", "from_id", "forwarded_from", "text", "media")

CSV_FIELDS = (
    "query", "sha256", "chat", "chat_id", "message_id", "date", "from", "from_id", "forwarded_from", "text",
    "media", "item_id", "label", "source", "distance", "algo", "quality", "low_quality", "region", "stage",
    "transform", "verified", "inliers", "score", "flood", "ignored", "reason",
)

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection");
# tab and carriage return are on OWASP's list too.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Entry:
    """One (query, reported item) pair of the report: a match, or an ignored one."""

    query: str
    sha256: str | None
    message: Mapping[str, Any] | None
    match: Mapping[str, Any]
    ignored: bool = False
    reason: str | None = None
    line: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def item_id(self) -> int:
        return int(self.match["id"])

    @property
    def flood(self) -> bool:
        return bool(self.match.get("flood"))

    def sort_key(self) -> tuple[Any, ...]:
        """Chat, then date (as an instant: offsets differ), then message id, then the query path."""
        msg = self.message or {}
        return (str(msg.get("chat") or ""), _instant(msg.get("date")), _as_int(msg.get("id")), self.query,
                self.item_id)


def _instant(date: Any) -> tuple[int, float, str]:
    if not date:
        return (1, 0.0, "")
    try:
        d = datetime.fromisoformat(str(date))
    except ValueError:
        return (1, 0.0, str(date))  # unparsable dates sort after the others, as text
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return (0, d.timestamp(), str(date))


def _as_int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _reason(m: Mapping[str, Any]) -> str:
    by = m.get("ignored_by")  # the scan's form: the ignore list's item that matched, with its reason
    if isinstance(by, Mapping):
        where = f" (ignore-list item #{by['id']})" if by.get("id") is not None else ""
        return f"{by.get('reason') or 'on the ignore list'}{where}"
    flag = m.get("ignored")
    if isinstance(flag, str):
        return flag
    return str(m.get("reason") or "on the ignore list")


def entries_of(line: Mapping[str, Any]) -> list[Entry]:
    """The matches and ignored matches of one ``match --json`` line."""
    query = str(line["query"])
    sha = line.get("sha256")
    msg = line.get("message")
    out = []
    for m in line.get("matches") or ():
        ignored = bool(m.get("ignored"))
        out.append(Entry(query, sha, msg, m, ignored, _reason(m) if ignored else None, line))
    extra = line.get("ignored")
    for m in extra if isinstance(extra, list) else ():
        out.append(Entry(query, sha, msg, m, True, _reason(m), line))
    return out


def neutralise(cell: Any) -> Any:
    """A CSV cell that a spreadsheet would run as a formula, prefixed with ``'`` (shown, not run)."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def csv_row(e: Entry) -> list[Any]:
    m, msg = e.match, e.message or {}
    region = m.get("region")
    pairs = m.get("correspondences")
    row = [
        e.query, e.sha256, msg.get("chat"), msg.get("chat_id"), msg.get("id"), msg.get("date"), msg.get("from"),
        msg.get("from_id"), msg.get("forwarded_from"), msg.get("text"), msg.get("media"),
        m.get("id"), m.get("label"), m.get("source"), m.get("distance"), m.get("algo"), m.get("quality"),
        _flag(m.get("low_quality")), " ".join(map(str, region)) if region else None, m.get("stage"),
        m.get("transform"), _flag(m.get("verified")), len(pairs) if pairs else None, m.get("score"),
        _flag(e.flood), _flag(e.ignored), e.reason,
    ]
    return ["" if v is None else neutralise(v) for v in row]


def _flag(v: Any) -> str:
    return "true" if v else "false"


def write_csv(out: IO[str], entries: Iterable[Entry]) -> None:
    w = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    w.writerow(CSV_FIELDS)
    for e in entries:
        w.writerow(csv_row(e))


def write_jsonl(out: IO[str], lines: Iterable[Mapping[str, Any]]) -> None:
    """One ``match --json``-shaped line per query with a match or an ignored match, keys sorted
    (the same inputs give the same bytes)."""
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
