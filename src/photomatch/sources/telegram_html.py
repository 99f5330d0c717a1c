"""Telegram Desktop's HTML export (its default format), read with the standard library's parser.

Layout (Telegram Desktop 3.7.6 to 6.1, read from its ``export_output_html.cpp``): a single chat
is ``messages.html``, ``messages2.html``, ... in the export folder; a whole account has
``export_results.html`` and one folder per chat, ``chats/chat_001/messages.html``, .... Every
page starts with ``div.page_header`` holding the chat's name (``div.text.bold``); each message
is ``div.message`` with ``id="message<id>"`` (classes ``default``, ``service``, and ``joined``
when it continues the previous sender's run, which then has no ``from_name``). Inside:
``div.date.details`` whose ``title`` is ``dd.mm.yyyy hh:mm:ss UTC+hh:mm``, ``div.from_name``,
``div.forwarded.body`` (holding the forwarded sender's ``from_name`` and then the original's
media and text), ``div.text``, and the media: ``a.photo_wrap``, ``a.sticker_wrap``,
``a.animated_wrap``, ``a.video_file_wrap`` (whose ``img`` is the video's thumbnail), or a generic
``a.media`` / ``div.media`` block with a class saying the kind (``media_photo``, ``media_video``,
``media_file``, ...), a title (``Video message``, ``Animation``, ...), an optional ``img.thumb``
and, when the file was not exported, ``div.description`` with the reason instead of a link.

Pages are fed to the parser in chunks; only the message being read is kept. There is no
regular expression over HTML here: the structure comes from the parser's tags and classes.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from .._fileio import open_regular
from .items import QueryItem
from .summary import MALFORMED, UNREADABLE, Problem, ScanSummary
from .telegram import Chat, ExportReader, Media, Message, html_date

_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_WRAPS = {"photo_wrap": "photo", "sticker_wrap": "sticker", "animated_wrap": "animation",
          "video_file_wrap": "video_file"}
_GENERIC = {"media_photo": "photo", "media_video": "video_file", "media_file": "file",
            "media_voice_message": "voice_message", "media_audio_file": "audio_file"}
_GENERIC_TITLES = {"Video message": "video_message", "Animation": "animation", "Sticker": "sticker",
                   "Video file": "video_file", "Photo": "photo"}
# img classes that show a thumbnail of the message's file made by Telegram's servers (videos and
# files); "photo" and "sticker" images are scaled copies the exporter made of the file itself.
_THUMBS = frozenset({"animated", "video_file", "thumb"})
_PAGE = re.compile(r"messages(\d*)\.html")  # over file names, not HTML
CHUNK = 1 << 16


def html_pages(folder: str) -> list[str]:
    """The ``messages*.html`` pages of one chat folder, in Telegram's order (messages, messages2, ...)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    pages = [(int(m.group(1) or 1), n) for n in names if (m := _PAGE.fullmatch(n))]
    return [os.path.join(folder, n) for _, n in sorted(pages)]


def read_html_export(root: str, summary: ScanSummary) -> Iterator[QueryItem]:
    """Query items of every media of every message of an HTML export (single chat or account)."""
    root = os.path.abspath(root)
    reader = ExportReader(root, summary)
    chats_dir = os.path.join(root, "chats")
    folders = [root] if html_pages(root) else []
    if os.path.isdir(chats_dir) and not os.path.islink(chats_dir):
        folders += [os.path.join(chats_dir, n) for n in sorted(os.listdir(chats_dir))
                    if os.path.isdir(os.path.join(chats_dir, n))]
    source = {"path": root, "kind": "telegram-html", "chats": 0}
    summary.sources.append(source)
    for folder in folders:
        pages = html_pages(folder)
        if not pages:
            continue
        source["chats"] += 1
        chat = Chat()
        state: dict[str, Any] = {"sender": None}
        for page in pages:
            yield from _read_page(page, chat, state, reader)


def _read_page(page: str, chat: Chat, state: dict[str, Any], reader: ExportReader) -> Iterator[QueryItem]:
    parser = _PageParser(chat, state, os.path.dirname(page))
    try:
        with open_regular(page) as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                parser.feed_bytes(chunk)  # a UTF-8 character split across chunks waits in the decoder
                for msg in parser.take():
                    yield from reader.items(chat, msg)
            parser.feed_bytes(b"", final=True)
            parser.close()
    except OSError as e:
        reader.summary.problem(Problem(UNREADABLE, e.strerror or str(e), path=page, source=reader.root))
        return
    for msg in parser.take():
        yield from reader.items(chat, msg)
    for reason, mid in parser.malformed:
        reader.summary.problem(Problem(MALFORMED, reason, path=page, source=reader.root, chat=chat.name,
                                       message_id=mid))


class _Node:
    __slots__ = ("tag", "classes", "role")

    def __init__(self, tag: str, classes: frozenset[str], role: str | None) -> None:
        self.tag, self.classes, self.role = tag, classes, role


class _PageParser(HTMLParser):
    """Collects the messages of one page. Text goes to whatever collectors are open (roles)."""

    def __init__(self, chat: Chat, state: dict[str, Any], base: str) -> None:
        super().__init__(convert_charrefs=True)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.chat, self.state, self.base = chat, state, base
        self.stack: list[_Node] = []
        self.done: list[Message] = []
        self.malformed: list[tuple[str, int | None]] = []
        self.msg: Message | None = None
        self.msg_joined = self.msg_service = False
        self.buf: dict[str, list[str]] = {}
        self.generic: dict[str, Any] | None = None

    def feed_bytes(self, data: bytes, final: bool = False) -> None:
        self.feed(self._decoder.decode(data, final))

    def take(self) -> list[Message]:
        out, self.done = self.done, []
        return out

    # --- structure -----------------------------------------------------------------------

    def _inside(self, role: str) -> bool:
        return any(n.role == role for n in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        classes = frozenset(a.get("class", "").split())
        role = self._role(tag, classes, a)
        if tag == "br":
            self._text("\n")
        if tag in _VOID:
            return
        self.stack.append(_Node(tag, classes, role))
        if role is not None and role.startswith("collect:"):
            self.buf[role] = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # pop to the matching open tag (a stray end tag with no opener is ignored)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                for node in reversed(self.stack[i:]):
                    self._close(node)
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self._text(data)

    def _text(self, data: str) -> None:
        if self._inside("skip"):
            return
        for node in self.stack:
            if node.role is not None and node.role.startswith("collect:"):
                self.buf[node.role].append(data)

    def close(self) -> None:
        super().close()
        if self.msg is not None:  # the page ended inside a message: keep what was read
            self.malformed.append(("page ends inside the message (truncated file?)", self.msg.id))
            self._finish()

    # --- roles ---------------------------------------------------------------------------

    def _role(self, tag: str, classes: frozenset[str], a: dict[str, str]) -> str | None:
        if tag == "div" and "message" in classes and self.msg is None:
            ident = a.get("id", "")
            if ident.startswith("message"):
                try:
                    mid = int(ident[len("message"):])
                except ValueError:
                    self.malformed.append((f"message id {ident!r} is not a number", None))
                    return None
                if mid <= 0:  # date separators are service messages with negative ids
                    return None
                self.msg = Message(id=mid)
                self.msg_joined = "joined" in classes
                self.msg_service = "service" in classes
                return "message"
            return None
        if self.msg is None:
            if tag == "div" and {"text", "bold"} <= classes and self._inside_class("page_header") \
                    and self.chat.name is None:
                return "collect:chat"
            return None
        forwarded = self._inside("forwarded")
        if tag == "div" and {"forwarded", "body"} <= classes:
            return "forwarded"
        if "date" in classes and "details" in classes:
            if tag == "div" and not forwarded and self.msg.date is None:
                self.msg.date = html_date(a.get("title"))
            return "skip" if forwarded else None  # the forwarded original's date is not its name
        if tag == "div" and "from_name" in classes:
            return "collect:forwarded_from" if forwarded else "collect:from"
        if tag == "div" and classes == {"text"}:
            return "collect:text"
        if tag == "div" and "reply_to" in classes:
            return "skip"
        if tag in ("a", "div") and "media" in classes:
            kind = next((_GENERIC[c] for c in classes if c in _GENERIC), None)
            if kind is None:
                return None  # contacts, locations, calls, polls: no picture
            self.generic = {"kind": kind, "href": a.get("href", "") if tag == "a" else ""}
            return "generic"
        if tag == "div" and "title" in classes and self._inside("generic"):
            return "collect:generic_title"
        if tag == "div" and "description" in classes and self._inside("generic"):
            return "collect:generic_description"
        if tag == "a":
            kind = next((_WRAPS[c] for c in classes if c in _WRAPS), None)
            if kind is not None and a.get("href"):
                self._media("photo" if kind == "photo" else "file", a["href"], kind)
            elif "userpic_link" in classes and self.msg_service and a.get("href"):
                self._media("photo", a["href"], "photo")  # a new chat photo, in a service message
            return None
        if tag == "img" and classes & _THUMBS and a.get("src"):
            self._media("thumbnail", a["src"], "thumbnail")
        return None

    def _inside_class(self, cls: str) -> bool:
        return any(cls in n.classes for n in self.stack)

    def _media(self, field: str, href: str, kind: str) -> None:
        if self.msg is not None:
            self.msg.media.append(Media(field, href, kind, self.base))

    def _close(self, node: _Node) -> None:
        role = node.role
        if role is None:
            return
        if role.startswith("collect:"):
            text = "".join(self.buf.pop(role, []))
            what = role[len("collect:"):]
            if what == "chat":
                self.chat.name = text.strip()
            elif self.msg is not None:
                if what == "from":
                    name = text.strip()
                    self.msg.sender = name.split(" via @")[0] if " via @" in name else name
                elif what == "forwarded_from":
                    name = " ".join(text.split())
                    self.msg.forwarded_from = name.split(" via @")[0] if " via @" in name else name
                elif what == "text":
                    self.msg.text += text.strip()
                elif what == "generic_title" and self.generic is not None:
                    self.generic["title"] = text.strip()
                elif what == "generic_description" and self.generic is not None:
                    self.generic["description"] = text.strip()
        elif role == "generic":
            self._close_generic()
        elif role == "message":
            self._finish()

    def _close_generic(self) -> None:
        g, self.generic = self.generic, None
        if g is None or self.msg is None:
            return
        kind = _GENERIC_TITLES.get(g.get("title", ""), g["kind"])
        field = "photo" if kind == "photo" else "file"
        if g["href"]:
            # the thumbnail, if any, was recorded when its img was read: keep the file first
            self.msg.media.insert(self._first_thumb(), Media(field, g["href"], kind, self.base))
        elif g.get("description"):
            self.msg.media.append(Media(field, "", kind, self.base, not_included=g["description"]))

    def _first_thumb(self) -> int:
        media = self.msg.media if self.msg is not None else []
        for i, m in enumerate(media):
            if m.field == "thumbnail":
                return i
        return len(media)

    def _finish(self) -> None:
        msg, self.msg = self.msg, None
        if msg is None:
            return
        if msg.sender is None and not self.msg_service:
            msg.sender = self.state.get("sender") if self.msg_joined else None
        elif msg.sender is not None:
            self.state["sender"] = msg.sender
        self.done.append(msg)
