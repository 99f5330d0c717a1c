"""Plain folders and files: every file is recognised by its content, not by its name.

A file named like an image always goes to the loader (which names the problem if it is not one,
as before); any other file is read when its first bytes are an image's, counted as a video when
they are a video's, and otherwise skipped with the reason (empty, text, PDF, ...) in the summary.
Symbolic links to folders are not followed, so a link loop can't trap the walk. A folder that is
a Telegram Desktop export is read as one, wherever it sits below the named folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from ..files import IMAGE_EXTENSIONS, extension
from .items import QueryItem
from .sniff import IMAGE, VIDEO, sniff_file
from .summary import MISSING, NOT_IMAGE, UNREADABLE, Problem, ScanSummary

ExportHandler = Callable[[str], "Iterator[QueryItem] | None"]


def read_file(path: str, summary: ScanSummary, *, source: str) -> QueryItem | None:
    """The query item for one file found in a folder or named by the user, or None (recorded)."""
    summary.media += 1
    named_as_image = extension(path) in IMAGE_EXTENSIONS
    try:
        found = sniff_file(path)
    except OSError as e:
        if named_as_image:  # the loader reports it, in its words, with the query's line
            summary.images += 1
            return QueryItem(path)
        kind = MISSING if isinstance(e, FileNotFoundError) else UNREADABLE
        summary.problem(Problem(kind, e.strerror or str(e), path=path, source=source))
        return None
    if found.kind == VIDEO:
        return QueryItem(path, kind=VIDEO)
    if found.kind == IMAGE or named_as_image:
        summary.images += 1
        return QueryItem(path)
    summary.problem(Problem(NOT_IMAGE, found.what, path=path, source=source))
    return None


def walk_folder(top: str, summary: ScanSummary, read_export: ExportHandler) -> Iterator[QueryItem]:
    """Items of every file below ``top`` (files of a folder first, sorted; then its subfolders)."""
    summary.sources.append({"path": os.path.abspath(top), "kind": "folder"})
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            summary.problem(Problem(UNREADABLE, e.strerror or str(e), path=folder, source=top))
            continue
        subfolders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                subfolders.append(entry.path)
                continue
            item = read_file(entry.path, summary, source=top)
            if item is not None:
                yield item
        for sub in reversed(subfolders):  # popped in sorted order
            items = read_export(sub)
            if items is not None:
                yield from items
            else:
                stack.append(sub)
