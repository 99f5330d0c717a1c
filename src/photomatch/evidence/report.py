"""Writing a report folder: the page, the records, the pictures and the manifest.

``ReportWriter`` is fed the ``match --json`` lines as matching produces them (``add``), keeps only
what the report needs (the lines with matches, and the path and digest of every other file), and
writes everything at ``finish``. The folder and every file in it are owner-only (0700/0600): they
hold the reported pictures.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from .._accel import IMPLEMENTATION
from .._fileio import fsync_dir
from ..errors import DecodeError, ReportError
from .._parallel import default_workers, ordered_map
from ..algorithms import ALGORITHMS
from . import manifest as mf
from . import page, pictures
from .page import e
from .records import Entry, entries_of, write_csv, write_jsonl

PAGE, JSONL, CSV = "report.html", "matches.jsonl", "matches.csv"
PICTURES = "img"
_TRANSFORMS = {  # which of the scanned picture's rotations/flips matched, in words
    "rotate90": "turned a quarter", "rotate180": "upside down", "rotate270": "turned a quarter",
    "flipx": "mirrored top to bottom", "flipy": "mirrored left to right",
    "flipplus1": "mirrored across a diagonal", "flipminus1": "mirrored across a diagonal",
}


def _now() -> tuple[str, float]:
    return datetime.now(timezone.utc).isoformat(timespec="seconds"), time.monotonic()


def prepare_folder(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` owner-only, or accept it empty; anything else is refused (a report is
    evidence: never overwritten, never mixed with other files)."""
    path = Path(folder)
    if path.exists() or path.is_symlink():
        if not path.is_dir() or path.is_symlink():
            raise ReportError(path, "exists and is not a folder")
        if any(path.iterdir()):
            raise ReportError(path, "is not empty (a report is never written over another; name a new folder)")
    else:
        try:
            path.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise ReportError(path, exc.strerror or str(exc)) from None
    os.chmod(path, 0o700)  # mkdir's mode is masked by the umask; an existing empty folder too
    return path


def _write(path: Path, data: bytes, *, sync: bool = True) -> None:
    """A new owner-only file. Pictures skip the fsync (one per card cost more than drawing it):
    the manifest, written and synced last, vouches for them, and verify-report finds any lost."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())


def tool_identity() -> dict[str, Any]:
    import cv2
    import numpy
    import PIL

    return {"name": "photomatch", "version": __version__, "core": IMPLEMENTATION,
            "python": platform.python_version(), "numpy": numpy.__version__, "pillow": PIL.__version__,
            "opencv": cv2.__version__}


class ReportWriter:
    """Collects ``match --json`` lines and writes the report folder.

    ``store`` is the open Store matched against, ``parameters`` every setting of the run (they are
    recorded in the manifest and shown on the page), ``inputs`` the paths the user named.
    """

    def __init__(self, folder: str | os.PathLike[str], *, store: Any, parameters: Mapping[str, Any],
                 inputs: Sequence[str], workers: int | None = None) -> None:
        self.folder = prepare_folder(folder)
        self.started, self._t0 = _now()
        self.store = store
        self.parameters = dict(parameters)
        self.inputs = [str(p) for p in inputs]
        self.workers = workers or default_workers()
        self.store_identity = mf.store_identity(store)
        self._lines: list[dict[str, Any]] = []
        self._entries: list[Entry] = []
        self._others: list[tuple[str, str | None]] = []  # scanned files without a match: (path, sha256)
        self._errors: list[tuple[str, str]] = []
        self._query_sha: dict[str, str] = {}  # sha256 of each matched file as read for its card
        self.scanned = 0
        self.manifest_sha256: str | None = None

    def add(self, line: Mapping[str, Any]) -> None:
        """One ``match --json`` line (one query), with whatever context it carries."""
        self.scanned += 1
        query = str(line["query"])
        if line.get("error"):
            self._errors.append((query, str(line["error"])))
        entries = entries_of(line)
        if entries:
            self._lines.append(dict(line))
            self._entries.extend(entries)
        else:
            self._others.append((query, line.get("sha256")))

    # --- writing -----------------------------------------------------------------------------

    def finish(self, summary: Mapping[str, Any] | None = None) -> Path:
        """Write the folder; returns the page's path. ``summary`` is the run summary of chat
        exports (counts of messages, media, skipped items with reasons), shown as given."""
        img = self.folder / PICTURES
        img.mkdir(mode=0o700)
        os.chmod(img, 0o700)
        matches = sorted((x for x in self._entries if not x.ignored), key=Entry.sort_key)
        ignored = sorted((x for x in self._entries if x.ignored), key=Entry.sort_key)
        by_item: dict[int, list[Entry]] = defaultdict(list)
        for x in matches:
            by_item[x.item_id].append(x)

        reported = dict(ordered_map(self._reported, sorted(by_item), workers=self.workers))
        jobs = [(i, x, reported[x.item_id][0], reported[x.item_id][1]) for i, x in enumerate(
            (x for item in sorted(by_item) for x in by_item[item]), start=1)]
        cards = iter(list(ordered_map(self._card, jobs, workers=self.workers)))  # in the jobs' (page) order
        scanned = self._scanned_digests(matches + ignored)

        groups = []
        for item in sorted(by_item):
            _, note, rel, size, label, source = reported[item]
            xs = by_item[item]
            chats = len({(x.message or {}).get("chat") for x in xs if x.message})
            groups.append(page.Group(item, label, source, rel, size, note, any(x.flood for x in xs),
                                     [next(cards) for _ in xs], chats))

        # plain folders: the digest read for the cards goes into the records too
        self._entries = [x if x.sha256 else replace(x, sha256=self._query_sha.get(x.query)) for x in self._entries]
        for line in self._lines:
            if not line.get("sha256") and line["query"] in self._query_sha:
                line["sha256"] = self._query_sha[line["query"]]
        _write(self.folder / JSONL, self._jsonl())
        buf = io.StringIO(newline="")
        write_csv(buf, sorted(self._entries, key=Entry.sort_key))
        _write(self.folder / CSV, buf.getvalue().encode("utf-8"))
        finished, t1 = _now()
        duration = t1 - self._t0
        _write(self.folder / PAGE, self._page(groups, ignored, summary, finished, duration, len(matches)).encode())
        doc = mf.build(tool=tool_identity(), store=self.store_identity, parameters=self.parameters,
                       started=self.started, finished=finished, duration_s=duration, scanned=scanned,
                       folder=str(self.folder))
        data = mf.dumps(doc)
        _write(self.folder / mf.MANIFEST, data)
        fsync_dir(str(img))
        fsync_dir(str(self.folder))
        self.manifest_sha256 = hashlib.sha256(data).hexdigest()
        return self.folder / PAGE

    def _jsonl(self) -> bytes:
        def key(line: dict[str, Any]) -> tuple[Any, ...]:
            return min(x.sort_key() for x in entries_of(line))

        buf = io.StringIO()
        write_jsonl(buf, sorted(self._lines, key=key))
        return buf.getvalue().encode("utf-8")

    def _scanned_digests(self, entries: list[Entry]) -> list[dict[str, Any]]:
        """Path and sha256 of every scanned file (read again where matching did not record it)."""
        # a matched file: the digest recorded when it was matched, else the one read for its card
        known: dict[str, str | None] = dict(self._others)
        known.update((x.query, x.sha256 or self._query_sha.get(x.query)) for x in entries)

        def digest(item: tuple[str, str | None]) -> dict[str, Any]:
            path, sha = item
            if sha is None:
                try:
                    sha = mf.sha256_file(path)
                except OSError:
                    sha = None
            return {"path": path, "sha256": sha}

        return list(ordered_map(digest, sorted(known.items()), workers=self.workers))

    # --- pictures ------------------------------------------------------------------------------

    def _reported(self, item_id: int) -> tuple[int, tuple[Any, ...]]:
        """The reported picture of an item when its source is there unchanged, with a note for the page."""
        item = self.store.get_item(item_id)
        label, source, sha = (item.label, item.source, item.sha256) if item is not None else (None, None, None)
        state, data = pictures.source_state(source, sha)
        pic = None
        if data is not None:
            try:
                pic = pictures.decode(data, str(source))
            except DecodeError:
                state = "unreadable"
        notes = {
            "ok": "Picture read from its recorded source; its sha256 is the one recorded when it was added.",
            "hash-only": "Not shown: the store holds only hashes of this item (no picture was ever kept).",
            "missing": "Not shown: its recorded source file is no longer there.",
            "changed": "Not shown: its recorded source file has changed since it was added (sha256 differs).",
            "unreadable": "Not shown: its recorded source file cannot be read.",
        }
        if item is None:
            notes[state] = "Not shown: the item was removed from the store during the run."
        rel = size = None
        if pic is not None:
            im = pictures.item_picture(pic)
            rel, size = f"{PICTURES}/item-{item_id}.jpg", im.size
            _write(self.folder / rel, pictures.jpeg(im), sync=False)
        return item_id, (pic, e(notes[state]), rel, size, label, source)

    def _card(self, job: tuple[int, Entry, pictures.Picture | None, str]) -> page.Card:
        n, x, reported, why = job
        m = x.match
        flags, notes = [], []
        rel = size = None
        try:
            data, sha = pictures.read(x.query)
        except OSError as exc:
            data, sha = None, None
            notes.append(f"The scanned file can no longer be read ({exc.strerror or exc}).")
        if sha is not None:
            self._query_sha[x.query] = sha
            if x.sha256 and sha != x.sha256:
                flags.append("file changed")
                notes.append("The scanned file changed after it was matched: the picture shown is its current content.")
        query = None
        spans = m.get("time")  # a video: the matched frames' time spans, in seconds
        if data is not None and spans:
            try:
                query = pictures.video_frame(x.query, float(spans[0][0]))
            except (DecodeError, OSError, ImportError) as exc:
                notes.append(f"The video's frame at {spans[0][0]} s can no longer be read ({exc}).")
            notes.append("A video: matched at " + ", ".join(f"{a:g}-{b:g} s" for a, b in spans)
                         + "; the frame shown is the first sampled one of the first span.")
        elif data is not None:
            try:
                query = pictures.decode(data, x.query)
            except DecodeError as exc:
                notes.append(f"The scanned file can no longer be decoded ({exc.reason}).")
        pairs = m.get("correspondences") or None
        if query is not None:
            im = pictures.card_picture(query, m.get("region"), reported, pairs)
            rel, size = f"{PICTURES}/match-{n:05d}.jpg", im.size
            _write(self.folder / rel, pictures.jpeg(im), sync=False)
        item = f"reported item #{m['id']}" + (f" ({m['label']})" if m.get("label") else "")
        caption = "Left: the scanned picture, the matched region outlined in magenta."
        if reported is not None:
            caption += f" Right: {item}."
            if pairs:
                caption += f" Lines join {min(len(pairs), pictures.MAX_LINES)} of the {len(pairs)} keypoint pairs " \
                           "that agree on one geometric transform."
        unshown = None if reported is not None else f"<b>{e(item)}</b><br>{why}"
        if m.get("low_quality"):
            flags.append("low quality")
        if x.flood:
            flags.append("flood")
        msg = x.message or {}
        title = (f"{msg.get('chat') or 'chat'} · message {msg.get('id')}" if msg else os.path.basename(x.query))
        subtitle = _date(msg.get("date")) if msg else ""
        return page.Card(f"m{n}", title, subtitle, rel, size, caption, unshown,
                         _context_rows(x, sha, notes), _match_rows(m, self.parameters), flags)

    def _page(self, groups: list[page.Group], ignored: list[Entry], summary: Mapping[str, Any] | None,
              finished: str, duration: float, n_matches: int) -> str:
        st = self.store_identity
        # workers change the speed, not the matches: the manifest records them, the page leaves them out
        params = ", ".join(f"{k}={v}" for k, v in sorted(self.parameters.items())
                           if k not in ("inputs", "store", "workers"))
        rows = [
            ("Scanned", "<br>".join(f"<code>{e(p)}</code>" for p in self.inputs)),
            ("When", f"{e(self.started)} to {e(finished)} (UTC), {_duration(duration)}"),
            ("Store", f"<code>{e(st['path'])}</code>: {st['items']} reported items, {st['hashes']} hashes"),
            ("Store digest", f"<code>{e(st['hashes_sha256'])}</code> (sha256 of its hashes: names the store's "
                             "content without revealing any hash)"),
            ("Settings", f"<code>{e(params)}</code>"),
            ("Tool", f"photomatch {e(__version__)} ({e(IMPLEMENTATION)} core)"),
        ]
        flood = sum(1 for g in groups for c in g.cards if "flood" in c.flags)
        counts: list[tuple[str, Any]] = []
        scan = summary or {}
        if scan.get("messages"):
            counts.append(("messages read", scan["messages"]))
        if "media" in scan:
            counts.append(("media", scan["media"]))
        counts += [("pictures scanned", self.scanned), ("matches", n_matches),
                   ("pictures with a match", len({c.query for c in self._entries if not c.ignored})),
                   ("reported items found", len(groups)), ("could not be decoded", len(self._errors))]
        problems = scan.get("counts") or {}
        if isinstance(problems, Mapping):
            counts += [(_PROBLEMS.get(k, k), n) for k, n in problems.items() if n]
        counts.append(("ignored", len(ignored)))
        if flood:
            counts.append(("flood-flagged matches", flood))
        extra: list[tuple[str, str]] = []
        if summary:
            extra.extend(_summary_sections(summary))
        if self._errors:
            body = "".join(f"<tr><td><code>{e(q)}</code></td><td>{e(r)}</td></tr>" for q, r in sorted(self._errors))
            extra.append((f"Could not be decoded ({len(self._errors)})",
                          f'<div class="panel"><table><tr><th>File</th><th>Why</th></tr>{body}</table></div>'))
        ignored_rows = [[f"<code>{e(x.query)}</code>", e(_message_line(x.message)),
                         e(f"#{x.item_id} {x.match.get('label') or ''}"), e(x.reason or "")] for x in ignored]
        footer = (f"Written by photomatch {e(__version__)}. This folder holds <code>{PAGE}</code>, <code>{JSONL}</code>, "
                  f"<code>{CSV}</code>, the pictures in <code>{PICTURES}/</code> and <code>{mf.MANIFEST}</code> (the "
                  "sha256 of every file here and of every scanned file). Check it with "
                  f"<code>photomatch verify-report {e(self.folder)}</code>.")
        return page.render(title="photomatch evidence report", subtitle=f"{n_matches} match"
                           f"{'es' if n_matches != 1 else ''} of {st['items']} reported items in {self.scanned} "
                           f"scanned pictures · {self.started}", summary_rows=rows, counts=counts, extra=extra,
                           groups=groups, ignored_rows=ignored_rows, footer=footer)


def _duration(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {int(s % 60)} s"


def _date(d: Any) -> str:
    return "" if not d else str(d).replace("T", " ")


def _message_line(msg: Mapping[str, Any] | None) -> str:
    if not msg:
        return ""
    return f"{msg.get('chat') or ''} · {msg.get('id')} · {_date(msg.get('date'))}"


def _context_rows(x: Entry, sha: str | None, notes: list[str]) -> list[tuple[str, str]]:
    msg = x.message or {}
    rows: list[tuple[str, str]] = []
    if msg:
        def who(name: Any, ident: Any) -> str:
            return e(name) + (f' <span class="mono">({e(ident)})</span>' if ident else "")

        rows.append(("Chat", who(msg.get("chat"), msg.get("chat_id"))))
        rows.append(("Message", f"{e(msg.get('id'))}, {e(_date(msg.get('date')))}"))
        if msg.get("from") or msg.get("from_id"):
            rows.append(("From", who(msg.get("from"), msg.get("from_id"))))
        if msg.get("forwarded_from"):
            rows.append(("Forwarded from", e(msg.get("forwarded_from"))))
        if msg.get("text"):
            rows.append(("Text", f"<blockquote>{e(msg.get('text'))}</blockquote>"))
        if msg.get("media"):
            rows.append(("Media", f"<code>{e(msg.get('media'))}</code>"))
    rows.append(("File", f"<code>{e(x.query)}</code>"))
    rows.append(("sha256", f"<code>{e(sha or x.sha256 or 'not readable')}</code>"))
    rows.extend(("Note", e(n)) for n in notes)
    return rows


def _match_rows(m: Mapping[str, Any], parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    algo = str(m.get("algo") or "")
    record = ALGORITHMS.get(algo)
    bits = record.bits if record is not None else None
    limit = parameters.get({"pdq": "threshold", "phash": "phash_threshold"}.get(algo, ""))
    distance = f"{e(m.get('distance'))}" + (f" of {bits} bits" if bits else "") + f" ({e(algo.upper())}"
    over = limit is not None and isinstance(m.get("distance"), int) and m["distance"] > int(limit)
    if over:  # found by local features alone: the hash distance is shown but is not what matched
        distance += f"; over the hash threshold of {e(limit)}: this match rests on the verification)"
    else:
        distance += f", threshold {e(limit)})" if limit is not None else ")"
    stage = {"whole": "whole picture", "region": "a region of the scanned picture",
             "verified": "local features and a geometric fit"}.get(str(m.get("stage")), str(m.get("stage")))
    rows = [("Reported item", f"#{e(m.get('id'))}" + (f" — {e(m.get('label'))}" if m.get("label") else "")),
            ("Distance", distance), ("Found by", e(stage))]
    if m.get("transform") and m.get("transform") != "original":
        t = str(m.get("transform"))
        rows.append(("Orientation", f"{e(_TRANSFORMS.get(t, t))} <span class=\"mono\">({e(t)})</span>"))
    pairs = m.get("correspondences")
    if m.get("verified"):
        rows.append(("Verified", '<span class="flag ok">yes</span>'
                     + (f" {len(pairs)} keypoint pairs agree" if pairs else "")))
    else:
        rows.append(("Verified", "no (hash match only)"))
    region = m.get("region")
    if region:
        x, y, w, h = region
        rows.append(("Region", f"{w} × {h} px at ({x}, {y}) in the scanned file"))
    rows.append(("Score", e(m.get("score"))))
    if m.get("quality") is not None:
        low = ' <span class="flag">low: check by eye</span>' if m.get("low_quality") else ""
        rows.append(("Hash quality", f"{e(m.get('quality'))}{low}"))
    return rows


_PROBLEMS = {  # the scan summary's problem kinds, as the page names them
    "missing": "missing", "unreadable": "unreadable", "path_escape": "refused: path outside the export",
    "malformed": "malformed", "not_included": "not in the export", "not_image": "skipped: not an image",
    "not_read": "not read (videos)",
}
# summary keys shown elsewhere on the page (counts, settings, store, times) or in the sections below
_SHOWN = {"started", "finished", "messages", "media", "images", "read", "decode_errors", "matched", "matches",
          "ignored", "counts", "reasons", "problems", "problems_truncated", "flooded", "store", "parameters",
          "sources"}


def _summary_sections(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run summary of a scan (``ScanSummary.to_json()``): sources, floods, problems by
    message; any other key is shown as given."""
    out = []
    rows = []
    for src in summary.get("sources") or ():
        if isinstance(src, Mapping):
            chats = f", {src['chats']} chat(s)" if src.get("chats") is not None else ""
            rows.append((str(src.get("kind", "")), f"<code>{e(src.get('path'))}</code>{e(chats)}"))
    if summary.get("messages"):
        rows.append(("Messages", f"{e(summary['messages'])} read, {e(summary.get('messages_with_media', '?'))} "
                                 "with media"))
    rows += [(str(k), _value(v)) for k, v in summary.items() if k not in _SHOWN and k != "messages_with_media"]
    if rows:
        body = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows)
        out.append(("What was scanned", f'<div class="panel"><table>{body}</table></div>'))
    flooded = summary.get("flooded") or []
    if flooded:
        body = "".join(
            f"<tr><td>#{e(f.get('id'))}</td><td>{e(f.get('label'))}</td><td class=\"num\">{e(f.get('matches'))} of "
            f"{e(f.get('of'))}</td><td class=\"num\">{100 * float(f.get('share', 0)):.1f}%</td></tr>" for f in flooded)
        out.append(("Flood", '<p class="warn">These reported items matched an unusual share of the pictures read: '
                             "a low-information picture (a blank frame, a logo) matches almost anything. Their "
                             "matches are flagged; check each by eye.</p><div class=\"panel\"><table><tr><th>Item</th>"
                             f"<th>Label</th><th class=\"num\">Matches</th><th class=\"num\">Share</th></tr>{body}"
                             "</table></div>"))
    problems = summary.get("problems") or []
    if problems:
        body = "".join(
            f"<tr><td>{e(_PROBLEMS.get(p.get('kind'), p.get('kind')))}</td><td>{e(p.get('chat'))}</td>"
            f"<td>{e(p.get('message_id'))}</td><td><code>{e(p.get('path') or p.get('source'))}</code></td>"
            f"<td>{e(p.get('reason'))}</td></tr>" for p in problems if isinstance(p, Mapping))
        more = ('<p class="sub">Only the first of each kind are listed; the counts above are complete.</p>'
                if summary.get("problems_truncated") else "")
        out.append((f"Not read ({len(problems)})", f'{more}<div class="panel"><table><tr><th>What</th><th>Chat</th>'
                                                  f"<th>Message</th><th>File</th><th>Why</th></tr>{body}</table></div>"))
    return out


def _value(v: Any) -> str:
    """A run summary as nested tables (keys and values escaped); a list of records as one table."""
    if isinstance(v, Mapping):
        return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{_value(x)}</td></tr>" for k, x in v.items()) + "</table>"
    if isinstance(v, (list, tuple)):
        if not v:
            return "none"
        if all(isinstance(x, Mapping) for x in v):
            keys = list(dict.fromkeys(k for x in v for k in x))
            head = "".join(f"<th>{e(k)}</th>" for k in keys)
            body = "".join("<tr>" + "".join(f"<td>{_value(x.get(k))}</td>" for k in keys) + "</tr>" for x in v)
            return f"<table><tr>{head}</tr>{body}</table>"
        return "<br>".join(_value(x) for x in v)
    return e(v)

