"""Where queries come from: the PATH arguments of ``photomatch match`` expanded into query items.

A PATH may be an image file, a plain folder (walked recursively, files recognised by content),
or a Telegram Desktop export (JSON: a folder with ``result.json``, or that file; HTML: a folder
with ``messages.html`` or, for a whole account, ``export_results.html`` and ``chats/``), whose
messages are read instead of its files: each media item comes with its message's context.
Everything the expansion could not or did not read goes into the :class:`ScanSummary`.

>>> summary = ScanSummary()
>>> list(expand(["no/such/file.jpg"], summary)), summary.counts["missing"]
([], 1)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from .folders import read_file, walk_folder
from .items import QueryItem
from .sniff import Sniff, sniff_bytes, sniff_file
from .summary import FAILURES, MISSING, Problem, ScanSummary
from .telegram_html import html_pages, read_html_export
from .telegram_json import read_json_export

__all__ = ["FAILURES", "Problem", "QueryItem", "ScanSummary", "Sniff", "expand", "export_format",
           "sniff_bytes", "sniff_file"]


def export_format(path: str) -> tuple[str, str] | None:
    """``("json", result.json)`` or ``("html", export folder)`` when ``path`` is a Telegram Desktop
    export (the folder, or its ``result.json`` / ``messages.html`` / ``export_results.html``);
    ``None`` otherwise. When an export has both formats, the JSON one is read."""
    if os.path.isdir(path):
        result = os.path.join(path, "result.json")
        if os.path.isfile(result):
            return "json", result
        if html_pages(path) or (os.path.isfile(os.path.join(path, "export_results.html"))
                                and os.path.isdir(os.path.join(path, "chats"))):
            return "html", path
        return None
    name = os.path.basename(path)
    if name == "result.json" and os.path.isfile(path):
        return "json", path
    if name == "export_results.html" or (name.startswith("messages") and name.endswith(".html")):
        folder = os.path.dirname(path) or "."
        json_twin = export_format(folder)
        return json_twin if json_twin is not None else ("html", folder)
    return None


def _read_export(path: str, summary: ScanSummary) -> Iterator[QueryItem] | None:
    found = export_format(path)
    if found is None:
        return None
    kind, where = found
    return read_json_export(where, summary) if kind == "json" else read_html_export(where, summary)


def expand(paths: Iterable[str | os.PathLike[str]], summary: ScanSummary) -> Iterator[QueryItem]:
    """Query items (images and videos) of every PATH, in order; problems go to ``summary``."""
    seen_exports: set[str] = set()
    for p in paths:
        p = os.fspath(p)
        found = export_format(p)
        if found is not None:
            key = os.path.realpath(found[1])
            if key in seen_exports:  # messages.html and messages2.html of one export named together
                continue
            seen_exports.add(key)
            yield from _read_export(p, summary) or ()
        elif os.path.isdir(p):
            yield from walk_folder(p, summary, lambda sub: _read_export(sub, summary))
        elif os.path.lexists(p):
            summary.sources.append({"path": os.path.abspath(p), "kind": "file"})
            item = read_file(p, summary, source=p)
            if item is not None:
                yield item
        else:
            summary.problem(Problem(MISSING, "no such file or folder", path=p, source=p))
