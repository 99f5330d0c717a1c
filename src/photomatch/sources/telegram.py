"""What the two Telegram Desktop export formats share: media paths, placeholders, message context.

Both formats name each message's files by paths relative to the export (JSON: to the folder of
``result.json``; HTML: to the folder of the ``messages*.html`` page, which stays inside the
export). An export is evidence handed over by someone else, so a path is never trusted: an
absolute path, one that climbs out with ``..`` or a symbolic link that leads out of the export
folder is refused and reported, and never opened.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .items import TEXT_LIMIT, QueryItem
from .sniff import IMAGE, VIDEO, sniff_file
from .summary import (
    MISSING,
    NOT_IMAGE,
    NOT_INCLUDED,
    NOT_READ,
    PATH_ESCAPE,
    UNREADABLE,
    Problem,
    ScanSummary,
)

VIDEO_KINDS = frozenset({"video_file", "video_message", "animation"})
"""Media kinds Telegram declares as videos (animations are GIFs sent as MP4)."""


@dataclass
class Chat:
    name: str | None = None
    id: int | None = None
    type: str | None = None


@dataclass
class Media:
    """One file reference of a message: ``field`` is its role (``photo``, ``file``, ``thumbnail``)."""

    field: str
    value: str            # the path as the export wrote it, or its placeholder text
    kind: str             # photo, file, sticker, animation, video_file, ..., thumbnail
    base: str             # the folder the path is relative to
    not_included: str | None = None  # why Telegram left the file out (HTML gives it apart from the path)


@dataclass
class Message:
    id: int
    date: str | None = None
    sender: str | None = None
    sender_id: str | None = None
    forwarded_from: str | None = None
    text: str = ""
    media: list[Media] = field(default_factory=list)


class ExportReader:
    """Turns parsed messages into query items, recording every problem in the summary."""

    def __init__(self, root: str, summary: ScanSummary) -> None:
        self.root = os.path.abspath(root)
        self.real_root = os.path.realpath(self.root)
        self.summary = summary

    def items(self, chat: Chat, msg: Message) -> Iterator[QueryItem]:
        self.summary.messages += 1
        if not msg.media:
            return
        self.summary.messages_with_media += 1
        main_is_image = False
        for media in msg.media:
            if media.field == "thumbnail" and main_is_image:
                continue  # the file itself is searched: its thumbnail would only repeat it
            item = self._item(chat, msg, media)
            if item is not None:
                main_is_image = main_is_image or (item.kind == IMAGE and media.field != "thumbnail")
                yield item

    def _problem(self, kind: str, reason: str, chat: Chat, msg: Message | None, path: str | None) -> None:
        self.summary.problem(Problem(kind, reason, path=path, source=self.root, chat=chat.name, chat_id=chat.id,
                                     message_id=None if msg is None else msg.id))

    def _item(self, chat: Chat, msg: Message, media: Media) -> QueryItem | None:
        self.summary.media += 1
        if media.not_included is not None or is_placeholder(media.value):
            self._problem(NOT_INCLUDED, media.not_included or media.value.strip().strip("()"), chat, msg, None)
            return None
        rel, path, why = self.resolve(media.base, media.value)
        if path is None:
            self._problem(PATH_ESCAPE, why, chat, msg, rel)
            return None
        try:
            found = sniff_file(path)
        except FileNotFoundError:
            self._problem(MISSING, "file not found in the export", chat, msg, rel)
            return None
        except IsADirectoryError:
            self._problem(UNREADABLE, "a folder, not a file", chat, msg, rel)
            return None
        except OSError as e:
            self._problem(UNREADABLE, e.strerror or str(e), chat, msg, rel)
            return None
        context = self.context(chat, msg, rel)
        if found.kind == VIDEO or (found.kind != IMAGE and media.kind in VIDEO_KINDS and media.field == "file"):
            return QueryItem(path, kind=VIDEO, message=context, media_kind=media.kind)
        if found.kind != IMAGE:
            self._problem(NOT_IMAGE, found.what, chat, msg, rel)
            return None
        self.summary.images += 1
        return QueryItem(path, kind=IMAGE, message=context, media_kind=media.kind)

    def not_read(self, item: QueryItem, reason: str) -> None:
        m = item.message or {}
        self.summary.problem(Problem(NOT_READ, reason, path=m.get("media", item.path), source=self.root,
                                     chat=m.get("chat"), chat_id=m.get("chat_id"), message_id=m.get("id")))

    def resolve(self, base: str, value: str) -> tuple[str, str | None, str]:
        """(path inside the export, file path to open or None when refused, why refused)."""
        if not value or "\0" in value:
            return value, None, "empty or invalid path"
        drive = len(value) > 2 and value[0].isalpha() and value[1] == ":" and value[2] in "/\\"  # C:\ or C:/
        if os.path.isabs(value) or value.startswith(("/", "\\")) or drive:
            return value, None, "absolute path: refused (outside the export folder)"
        joined = os.path.normpath(os.path.join(base, value))
        rel = os.path.relpath(joined, self.root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            return value, None, "path climbs out of the export folder: refused"
        # A symbolic link (of the file or of a folder on its way) may lead out: follow it on paper first.
        real = os.path.realpath(joined)
        if real != self.real_root and not real.startswith(self.real_root + os.sep):
            return rel, None, "symbolic link leads out of the export folder: refused"
        return rel.replace(os.sep, "/"), joined, ""

    def context(self, chat: Chat, msg: Message, rel: str) -> dict[str, Any]:
        return {
            "chat": chat.name,
            "chat_id": chat.id,
            "id": msg.id,
            "date": msg.date,
            "from": msg.sender,
            "from_id": msg.sender_id,
            "forwarded_from": msg.forwarded_from,
            "text": msg.text[:TEXT_LIMIT],
            "media": rel,
        }


def is_placeholder(value: str) -> bool:
    """Telegram's text in place of a file it did not export, e.g. ``(File not included. Change data
    exporting settings to download.)``, ``(File exceeds maximum size. ...)``, ``(File unavailable,
    please try again later)`` (possibly after the file's name)."""
    v = value.strip()
    return v.endswith(")") and ("(File " in v or "(Photo " in v)


def iso_date(local: str | None, unixtime: Any = None) -> str | None:
    """ISO 8601 with the UTC offset of the exporting computer, from JSON's local ``date`` and
    ``date_unixtime`` (Telegram Desktop >= 3.7.6); the local date alone, as written, without it."""
    if not local:
        return None
    try:
        naive = _dt.datetime.fromisoformat(local)
    except (TypeError, ValueError):
        return str(local)
    if unixtime in (None, ""):
        return naive.isoformat()
    try:
        utc = _dt.datetime.fromtimestamp(int(unixtime), _dt.timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        return naive.isoformat()
    minutes = round((naive - utc).total_seconds() / 60)
    if abs(minutes) > 18 * 60:  # not a time zone: the two fields disagree; keep what was written
        return naive.isoformat()
    return naive.replace(tzinfo=_dt.timezone(_dt.timedelta(minutes=minutes))).isoformat()


def html_date(title: str | None) -> str | None:
    """ISO 8601 from the HTML export's date title, ``15.01.2025 10:30:00 UTC+03:00`` (the offset
    since Telegram Desktop 3.7.6; earlier exports have none and give the local time alone)."""
    if not title:
        return None
    parts = title.split()
    try:
        naive = _dt.datetime.strptime(" ".join(parts[:2]), "%d.%m.%Y %H:%M:%S")
    except ValueError:
        return title
    if len(parts) > 2 and parts[2].startswith("UTC"):
        off = parts[2][3:]
        if not off:
            return naive.replace(tzinfo=_dt.timezone.utc).isoformat()
        try:
            sign = -1 if off[0] == "-" else 1
            hours, _, minutes = off[1:].partition(":")
            delta = _dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
            return naive.replace(tzinfo=_dt.timezone(sign * delta)).isoformat()
        except (ValueError, IndexError):
            return naive.isoformat()
    return naive.isoformat()
