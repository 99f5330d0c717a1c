"""Telegram Desktop's JSON export (``result.json``), streamed.

Two shapes (Telegram Desktop 3.7.6 to 6.1, read from its ``export_output_json.cpp``):

* a single chat: ``{"name", "type", "id", "messages": [...]}``;
* the whole account: ``{"about", "personal_information", ..., "chats": {"about", "list": [chat...]},
  "left_chats": {"about", "list": [chat...]}}`` where each chat has the single chat's fields
  (saved messages have no ``name``).

A message has ``id``, ``type`` (``message``, ``service`` or ``unsupported``), ``date`` (local time of
the exporting computer, ISO 8601 without offset) and ``date_unixtime``, ``from``/``from_id``
(``actor``/``actor_id`` for service messages), ``forwarded_from``, ``text`` (a string or a list of
strings and ``{"type", "text"}`` parts), and its media: ``photo`` (a path, or a placeholder when
the file was not exported), ``file`` with ``media_type`` (``sticker``, ``animation``,
``video_file``, ``video_message``, ``voice_message``, ``audio_file``; absent for documents) and
``mime_type``, and ``thumbnail`` (of videos and files).

The file is read with ijson, one message object at a time, so memory stays bounded whatever the
size of the export (a single chat's messages are built by ijson's C backend; an account's are
built from the parser's events, since each chat's fields must be seen as they go by: about three
times slower); a malformed message is reported by its id (or its
position) and skipped; malformed or truncated JSON ends that export, reported after the last
message read, and everything read before it stands.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import ijson

from .._fileio import open_regular
from .items import QueryItem
from .summary import MALFORMED, UNREADABLE, Problem, ScanSummary
from .telegram import Chat, ExportReader, Media, Message, iso_date

# Where messages sit: a single chat's "messages", or each chat's in the account's two lists.
_MESSAGES = frozenset({"chats.list.item.messages.item", "left_chats.list.item.messages.item"})
_CHAT_STARTS = {"chats.list.item", "left_chats.list.item"}
_CHAT_FIELDS = {"name", "type", "id"}

_MEDIA_FIELDS = ("photo", "file", "thumbnail")


def read_json_export(result_json: str, summary: ScanSummary) -> Iterator[QueryItem]:
    """Query items of every media of every message in ``result_json``, in file order."""
    root = os.path.dirname(os.path.abspath(result_json))
    reader = ExportReader(root, summary)
    source = {"path": root, "kind": "telegram-json", "chats": 0}
    summary.sources.append(source)
    try:
        f = open_regular(result_json)  # noqa: SIM115 -- closed below
    except OSError as e:
        summary.problem(Problem(UNREADABLE, e.strerror or str(e), path=result_json, source=root))
        return
    with f:
        try:
            single = _single_chat_header(f)
        except (ijson.JSONError, ValueError, UnicodeDecodeError, OSError):
            single = None  # the full read below reports the damage where it is
        f.seek(0)
        if single is not None:  # the common case: C-built message objects, no per-event Python
            source["chats"] = 1
            yield from _read(f, ijson.items(f, "messages.item", use_float=True), single, reader, result_json)
        else:
            yield from _read_events(f, reader, result_json, source)


def _single_chat_header(f: Any) -> Chat | None:
    """The chat of a single-chat export (its fields precede ``messages``), or None for an account."""
    chat = Chat()
    for prefix, event, value in ijson.parse(f, use_float=True):
        if prefix in _CHAT_FIELDS:
            _chat_field(chat, prefix, event, value)
        elif prefix == "messages" and event == "start_array":
            return chat
        elif prefix in ("chats", "left_chats"):
            return None
    return None


def _read(f: Any, messages: Iterator[Any], chat: Chat, reader: ExportReader, path: str) -> Iterator[QueryItem]:
    """Items of a single chat's messages (objects built by ijson)."""
    last_id: int | None = None
    position = 0
    try:
        for obj in messages:
            position += 1
            msg = _message(obj, chat, reader, path, position)
            if msg is not None:
                last_id = msg.id
                yield from reader.items(chat, msg)
    except (ijson.JSONError, ValueError, UnicodeDecodeError, OSError) as e:
        _damaged(e, last_id, chat, reader, path)


def _read_events(f: Any, reader: ExportReader, path: str, source: dict[str, Any]) -> Iterator[QueryItem]:
    """Items of an account export: chats follow one another, so the parser's events are watched
    for each chat's fields and each message object is built from its events."""
    chat = Chat()
    last_id: int | None = None
    position = 0
    events = ijson.parse(f, use_float=True)
    try:
        for prefix, event, value in events:
            if prefix in _MESSAGES and event == "start_map":
                position += 1
                msg = _message(_build(events), chat, reader, path, position)
                if msg is not None:
                    last_id = msg.id
                    yield from reader.items(chat, msg)
            elif event == "start_map" and prefix in _CHAT_STARTS:
                chat = Chat()
                source["chats"] += 1
            elif prefix.rpartition(".")[0] in _CHAT_STARTS:
                _chat_field(chat, prefix.rpartition(".")[2], event, value)
            elif prefix in _MESSAGES and event not in ("start_array", "end_array"):
                position += 1  # a message that is not an object
                _message(value, chat, reader, path, position)
    except (ijson.JSONError, ValueError, UnicodeDecodeError, OSError) as e:
        _damaged(e, last_id, chat, reader, path)


def _damaged(e: Exception, last_id: int | None, chat: Chat, reader: ExportReader, path: str) -> None:
    if isinstance(e, OSError):
        reader.summary.problem(Problem(UNREADABLE, e.strerror or str(e), path=path, source=reader.root))
        return
    after = f"after message {last_id}" if last_id is not None else "before any message"
    why = (str(e).strip().splitlines() or [type(e).__name__])[0]  # yajl adds lines pointing at the spot
    reader.summary.problem(Problem(MALFORMED, f"malformed or truncated JSON {after}: {why}", path=path,
                                   source=reader.root, chat=chat.name, chat_id=chat.id))


def _chat_field(chat: Chat, key: str, event: str, value: Any) -> None:
    if key == "id" and event == "number":
        chat.id = int(value)
    elif key in ("name", "type") and event == "string":
        setattr(chat, key, value)


def _build(events: Iterator[tuple[str, str, Any]]) -> Any:
    """The object whose ``start_map`` was just read, built from the following events."""
    builder = ijson.ObjectBuilder()
    builder.event("start_map", None)
    depth = 1
    for _prefix, event, value in events:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def _message(obj: Any, chat: Chat, reader: ExportReader, path: str, position: int) -> Message | None:
    if not isinstance(obj, dict):
        reader.summary.problem(Problem(MALFORMED, f"message #{position} is not an object", path=path,
                                       source=reader.root, chat=chat.name, chat_id=chat.id))
        return None
    mid = obj.get("id")
    if not isinstance(mid, (int, float)) or isinstance(mid, bool) or int(mid) != mid:
        reader.summary.problem(Problem(MALFORMED, f"message #{position} has no valid id", path=path,
                                       source=reader.root, chat=chat.name, chat_id=chat.id))
        return None
    mid = int(mid)
    if not any(key in obj for key in _MEDIA_FIELDS):
        return Message(id=mid)  # counted; its context is only needed for media
    msg = Message(
        id=mid,
        date=iso_date(_str(obj.get("date")), obj.get("date_unixtime")),
        sender=_str(obj.get("from", obj.get("actor"))),
        sender_id=_str(obj.get("from_id", obj.get("actor_id"))),
        forwarded_from=_str(obj.get("forwarded_from")),
        text=_text(obj.get("text")),
    )
    base = reader.root
    kind = _str(obj.get("media_type")) or "file"
    for key in _MEDIA_FIELDS:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            reader.summary.problem(Problem(MALFORMED, f"{key!r} is not a path", path=path, source=reader.root,
                                           chat=chat.name, chat_id=chat.id, message_id=mid))
            continue
        msg.media.append(Media(key, value, kind if key == "file" else key, base))
    return msg


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None if v is None else str(v)


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) if isinstance(p, dict) else "" for p in v)
    return ""
