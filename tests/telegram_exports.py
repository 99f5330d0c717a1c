"""Writes realistic Telegram Desktop exports (JSON and HTML) with known ground truth.

The layouts and fields model Telegram Desktop 3.7.6 to 6.1 (read from its export writers,
``export_output_json.cpp`` and ``export_output_html.cpp``, at 6.1.2): ``result.json`` for one chat
or for the whole account (``chats.list`` and ``left_chats.list``); ``messages.html`` pages for one
chat, or ``export_results.html`` with ``chats/chat_NN/messages.html``; media in ``photos/``,
``files/``, ``video_files/``, ``stickers/`` beside them.

The chats hold what an investigator meets: service messages, plain text, copies of reported
photos as a messenger recompresses them (longest side 1280 px, JPEG quality 87), a screenshot of
one, a forward, an edited message, a document without an extension, a video (frames of a reported photo) with its thumbnail,
an animation (GIF sent as MP4), a sticker, a PDF, unrelated photos, files left out of the export
(placeholders), a file that is missing, a path that climbs out of the export and a symbolic link
that leads out of it (both aimed at a copy of a reported photo, so that reading them would show).

``make_export(root, fmt=..., account=...)`` writes one and returns its :class:`Truth`.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from images import photo_like

TZ = dt.timezone(dt.timedelta(hours=3))  # the exporting computer's zone (its offset is in the export)
N_REPORTED = 4


@functools.lru_cache(maxsize=1)
def reported_photos() -> list[np.ndarray]:
    """The reported pictures (camera-sized, 4:3 and 3:4)."""
    return [photo_like(1200, 1600, 100), photo_like(1600, 1200, 101), photo_like(1200, 1600, 102),
            photo_like(1080, 1440, 103)]


def recompressed(rgb: np.ndarray, longest: int = 1280, quality: int = 87) -> bytes:
    """What a messenger sends: the longest side brought to ``longest`` px, JPEG at ``quality``."""
    im = Image.fromarray(rgb)
    scale = longest / max(im.size)
    if scale < 1:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def screenshot(rgb: np.ndarray) -> bytes:
    """A phone screenshot (PNG, 1080 x 2340) showing the photo between a status bar and some UI."""
    canvas = np.full((2340, 1080, 3), 242, np.uint8)
    canvas[:96] = (30, 30, 30)                      # status bar
    canvas[96:260] = (255, 255, 255)                # app header
    canvas[150:200, 40:520] = (60, 60, 60)          # its title
    im = Image.fromarray(rgb)
    h = round(im.height * 1080 / im.width)
    canvas[400:400 + h] = np.asarray(im.resize((1080, h), Image.Resampling.BILINEAR))
    for y in range(400 + h + 60, 2200, 90):         # caption lines
        canvas[y:y + 36, 40:1000 - (y % 300)] = (90, 90, 90)
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, "PNG")
    return buf.getvalue()


def mp4(rgb: np.ndarray, frames: int = 10) -> bytes:
    """A real MP4 (MPEG-4 Part 2, 10 fps, 320 x 240) whose frames show ``rgb``, slowly brightening."""
    import av  # a base dependency since video decoding landed

    small = np.asarray(Image.fromarray(rgb).resize((320, 240), Image.Resampling.BILINEAR), dtype=np.int16)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            frame = np.clip(small + 2 * i, 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buf.getvalue()


def webp(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).resize((256, 256)).save(buf, "WEBP")
    return buf.getvalue()


@dataclass(frozen=True)
class Hit:
    """A message that carries a copy of reported photo ``reported``: what a scan must report."""

    chat: str
    chat_id: int | None
    message_id: int
    date: str
    sender: str | None
    forwarded_from: str | None
    media: str
    reported: int


@dataclass
class Truth:
    root: Path
    hits: list[Hit] = field(default_factory=list)
    not_included: set[tuple[str, int]] = field(default_factory=set)   # (chat, message id)
    missing: set[tuple[str, int]] = field(default_factory=set)
    escapes: set[tuple[str, int]] = field(default_factory=set)
    videos: set[tuple[str, int]] = field(default_factory=set)
    not_images: set[tuple[str, int]] = field(default_factory=set)
    messages: int = 0
    media: int = 0
    outside: Path | None = None  # the file the escapes aim at


# --- the chats -----------------------------------------------------------------------------------

@dataclass
class Msg:
    id: int
    when: dt.datetime
    sender: str | None = None
    sender_id: str | None = None
    text: str = ""
    service: str | None = None         # the action of a service message
    forwarded_from: str | None = None
    edited: dt.datetime | None = None
    photo: str | None = None           # path, or a placeholder
    file: str | None = None
    media_type: str | None = None
    mime: str | None = None
    thumbnail: str | None = None
    file_name: str | None = None


@dataclass
class ChatSpec:
    name: str
    type: str
    id: int
    messages: list[Msg]
    files: dict[str, bytes]             # path inside the chat's folder -> content
    hits: list[tuple[int, str, int]]    # (message id, media path inside the chat's folder, reported index)
    kinds: dict[str, set[int]]          # problem kind -> message ids
    links: dict[str, str] = field(default_factory=dict)  # path -> symlink target outside


NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"


@functools.lru_cache(maxsize=1)
def _chats() -> list[ChatSpec]:
    reported = reported_photos()
    t0 = dt.datetime(2025, 3, 14, 9, 26, 53, tzinfo=TZ)
    other = [photo_like(960, 1280, 200 + i) for i in range(4)]
    alice, bob, carol = ("Alice Moreau", "user1001"), ("Bob Ignatiev", "user1002"), ("Carol D.", "user1003")

    def at(minutes: float) -> dt.datetime:
        return t0 + dt.timedelta(minutes=minutes)

    a_files = {
        "photos/photo_1@14-03-2025_09-30-00.jpg": recompressed(reported[0]),
        "photos/photo_2@14-03-2025_09-31-00.jpg": recompressed(other[0]),
        "photos/photo_3@14-03-2025_09-40-00.jpg": recompressed(reported[1]),
        "photos/photo_4@14-03-2025_10-02-00.jpg": screenshot(reported[2]),
        "files/IMG_0042": recompressed(reported[3], longest=2000, quality=92),
        "video_files/clip.mp4": mp4(reported[1]),
        "video_files/clip.mp4_thumb.jpg": recompressed(reported[1], longest=320, quality=80),
        "stickers/sticker.webp": webp(other[1]),
        "files/report.pdf": b"%PDF-1.4\n% not a picture\n",
    }
    a = ChatSpec("Helpline reports", "private_supergroup", 1001, [
        Msg(1, at(0), *alice, service="create_group"),
        Msg(2, at(1), *alice, text="Welcome. Post what you were sent here."),
        Msg(3, at(3), *bob, text="this one is going around", photo="photos/photo_1@14-03-2025_09-30-00.jpg"),
        Msg(4, at(4), *bob, photo="photos/photo_2@14-03-2025_09-31-00.jpg"),
        Msg(5, at(13), *carol, forwarded_from="Rumour Mill Channel", text="fwd",
            photo="photos/photo_3@14-03-2025_09-40-00.jpg"),
        Msg(6, at(35), *bob, text="screenshot from the other group (edited)", edited=at(50),
            photo="photos/photo_4@14-03-2025_10-02-00.jpg"),
        Msg(7, at(40), *carol, text="sent as a file", file="files/IMG_0042", mime="image/jpeg",
            file_name="IMG_0042"),
        Msg(8, at(41), *alice, photo=NOT_INCLUDED),
        Msg(9, at(42), *alice, photo="photos/photo_9@14-03-2025_10-09-00.jpg"),           # missing
        Msg(10, at(43), *bob, file="../outside.jpg", mime="image/jpeg", file_name="outside.jpg"),  # escape
        Msg(11, at(44), *bob, file="video_files/clip.mp4", media_type="video_file", mime="video/mp4",
            thumbnail="video_files/clip.mp4_thumb.jpg", file_name="clip.mp4"),
        Msg(12, at(45), *carol, file="stickers/sticker.webp", media_type="sticker", mime="image/webp"),
        Msg(13, at(46), *carol, text="the report", file="files/report.pdf", mime="application/pdf",
            file_name="report.pdf"),
        Msg(14, at(47), *bob, photo="photos/linked.jpg"),                                  # symlink out
        Msg(15, at(48), *alice, service="pin_message"),
    ], a_files, hits=[(3, "photos/photo_1@14-03-2025_09-30-00.jpg", 0),
                      (5, "photos/photo_3@14-03-2025_09-40-00.jpg", 1),
                      (6, "photos/photo_4@14-03-2025_10-02-00.jpg", 2),
                      (7, "files/IMG_0042", 3),
                      (11, "video_files/clip.mp4_thumb.jpg", 1),
                      (11, "video_files/clip.mp4", 1)],  # the video shows it too
        kinds={"not_included": {8}, "missing": {9}, "escapes": {10, 14}, "videos": {11}, "not_images": {13}},
        links={"photos/linked.jpg": "outside"})

    b_files = {
        "photos/photo_1@20-03-2025_21-15-00.jpg": recompressed(reported[0], quality=85),
        "photos/photo_2@20-03-2025_21-16-00.jpg": recompressed(other[2]),
        "animations/anim.mp4": mp4(other[3], frames=5),
        "animations/anim.mp4_thumb.jpg": recompressed(other[3], longest=320),
    }
    t1 = dt.datetime(2025, 3, 20, 21, 15, 0, tzinfo=TZ)
    b = ChatSpec("Bob Ignatiev", "personal_chat", 1002, [
        Msg(101, t1, *bob, text="look", photo="photos/photo_1@20-03-2025_21-15-00.jpg"),
        Msg(102, t1 + dt.timedelta(seconds=30), *bob, photo="photos/photo_2@20-03-2025_21-16-00.jpg"),
        Msg(103, t1 + dt.timedelta(minutes=2), *alice, file="animations/anim.mp4", media_type="animation",
            mime="video/mp4", thumbnail="animations/anim.mp4_thumb.jpg"),
    ], b_files, hits=[(101, "photos/photo_1@20-03-2025_21-15-00.jpg", 0)], kinds={"videos": {103}})
    return [a, b]


@functools.lru_cache(maxsize=1)
def _left_chat() -> ChatSpec:
    reported = reported_photos()
    t = dt.datetime(2024, 11, 2, 7, 5, 9, tzinfo=TZ)
    files = {"photos/photo_1@02-11-2024_07-05-09.jpg": recompressed(reported[3])}
    return ChatSpec("Old swap group", "private_supergroup", 1003, [
        Msg(7, t, "Dmitri K.", "user1004", text="", photo="photos/photo_1@02-11-2024_07-05-09.jpg"),
        Msg(8, t + dt.timedelta(hours=1), "Dmitri K.", "user1004", photo=NOT_INCLUDED),
    ], files, hits=[(7, "photos/photo_1@02-11-2024_07-05-09.jpg", 3)], kinds={"not_included": {8}})


# --- writers ---------------------------------------------------------------------------------------

def make_export(root: str | os.PathLike[str], *, fmt: str, account: bool) -> Truth:
    """Write an export under ``root`` (``fmt`` "json" or "html"; one chat or a whole account)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    reported = reported_photos()
    chats = list(_chats()) if account else _chats()[:1]
    left = [_left_chat()] if account else []
    export = root / "export"
    export.mkdir()
    outside = root / "outside.jpg"  # beside the export: a copy of a reported photo nobody may read
    outside.write_bytes(recompressed(reported[0]))
    truth = Truth(export, outside=outside)
    folders = {}
    for i, chat in enumerate(chats + left):
        folder = f"chats/chat_{i + 1:02d}/" if account else ""
        folders[chat.name] = folder
        for rel, data in chat.files.items():
            p = export / folder / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        for rel in chat.links:
            p = export / folder / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(outside, p)
        for mid, rel, k in chat.hits:
            m = next(m for m in chat.messages if m.id == mid)
            truth.hits.append(Hit(chat.name, chat.id if fmt == "json" else None, mid, m.when.isoformat(),
                                  m.sender, m.forwarded_from, folder + rel, k))
        for kind, ids in chat.kinds.items():
            getattr(truth, kind).update((chat.name, i) for i in ids)
        truth.messages += len(chat.messages)
        truth.media += sum((m.photo is not None) + (m.file is not None) + (m.thumbnail is not None)
                           for m in chat.messages)
    if fmt == "json":
        _write_json(export, chats, left, folders, account)
    else:
        _write_html(export, chats + left, folders, account)
    return truth


def _write_json(export: Path, chats: list[ChatSpec], left: list[ChatSpec], folders: dict[str, str],
                account: bool) -> None:
    def chat_obj(c: ChatSpec) -> dict[str, Any]:
        return {"name": c.name, "type": c.type, "id": c.id,
                "messages": [_json_message(m, folders[c.name]) for m in c.messages]}

    if account:
        doc: dict[str, Any] = {
            "about": "Here is the data you requested.",
            "personal_information": {"user_id": 1001, "first_name": "Alice", "last_name": "Moreau",
                                     "phone_number": "+00 000 000 0000", "bio": ""},
            "chats": {"about": "This page lists all chats from this export.", "list": [chat_obj(c) for c in chats]},
            "left_chats": {"about": "This page lists all supergroups and channels left.",
                           "list": [chat_obj(c) for c in left]},
        }
    else:
        doc = chat_obj(chats[0])
    (export / "result.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def _json_message(m: Msg, folder: str) -> dict[str, Any]:
    local = m.when.replace(tzinfo=None).isoformat()
    o: dict[str, Any] = {"id": m.id, "type": "service" if m.service else "message", "date": local,
                         "date_unixtime": str(int(m.when.timestamp()))}
    if m.edited:
        o["edited"] = m.edited.replace(tzinfo=None).isoformat()
        o["edited_unixtime"] = str(int(m.edited.timestamp()))
    if m.service:
        o.update(actor=m.sender, actor_id=m.sender_id, action=m.service)
    else:
        o.update({"from": m.sender, "from_id": m.sender_id})
        if m.forwarded_from:
            o["forwarded_from"] = m.forwarded_from

    def path(p: str) -> str:
        return p if p.startswith("(") or p.startswith("..") else folder + p

    if m.photo is not None:
        o["photo"] = path(m.photo)
        o["photo_file_size"] = 123456
        o["width"], o["height"] = 1280, 960
    if m.file is not None:
        o["file"] = path(m.file)
        if m.file_name:
            o["file_name"] = m.file_name
        o["file_size"] = 65432
        if m.thumbnail is not None:
            o["thumbnail"] = path(m.thumbnail)
            o["thumbnail_file_size"] = 4321
        if m.media_type:
            o["media_type"] = m.media_type
        if m.mime:
            o["mime_type"] = m.mime
    # rich text as Telegram writes it: a string, or a list of strings and entities
    o["text"] = [m.text[:5], {"type": "bold", "text": m.text[5:]}] if len(m.text) > 10 else m.text
    o["text_entities"] = []
    return o


def _write_html(export: Path, chats: list[ChatSpec], folders: dict[str, str], account: bool) -> None:
    if account:
        (export / "export_results.html").write_text(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"/><title>Exported Data</title></head><body>"
            + "".join(f'<a class="section block_link chats" href="{folders[c.name]}messages.html">{html.escape(c.name)}'
                      "</a>" for c in chats) + "</body></html>", encoding="utf-8")
    for c in chats:
        folder = export / folders[c.name]
        depth = folders[c.name].count("/")
        up = "../" * depth
        # two pages, as Telegram splits long chats (messages.html, messages2.html)
        half = (len(c.messages) + 1) // 2
        pages = [c.messages[:half], c.messages[half:]] if len(c.messages) > 2 else [c.messages]
        previous = None
        for n, msgs in enumerate(pages):
            body = []
            for m in msgs:
                body.append(_html_message(m, previous, up, folders[c.name]))
                previous = m
            name = "messages.html" if n == 0 else f"messages{n + 1}.html"
            (folder / name).write_text(
                "<!DOCTYPE html>\n<html>\n <head>\n  <meta charset=\"utf-8\"/>\n  <title>Exported Data</title>\n"
                "  <meta content=\"width=device-width, initial-scale=1.0\" name=\"viewport\"/>\n"
                f"  <link href=\"{up}css/style.css\" rel=\"stylesheet\"/>\n </head>\n <body>\n"
                "  <div class=\"page_wrap\">\n   <div class=\"page_header\">\n    <div class=\"content\">\n"
                f"     <div class=\"text bold\">\n{html.escape(c.name)}\n     </div>\n    </div>\n   </div>\n"
                "   <div class=\"page_body chat_page\">\n    <div class=\"history\">\n"
                "     <div class=\"message service\" id=\"message-1\">\n      <div class=\"body details\">\n"
                f"{m.when.day} {m.when.strftime('%B %Y')}\n      </div>\n     </div>\n"
                + "\n".join(body) + "\n    </div>\n   </div>\n  </div>\n </body>\n</html>\n", encoding="utf-8")


def _title(t: dt.datetime) -> str:
    off = t.utcoffset() or dt.timedelta(0)
    sign = "-" if off < dt.timedelta(0) else "+"
    minutes = abs(int(off.total_seconds())) // 60
    return t.strftime("%d.%m.%Y %H:%M:%S") + f" UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _html_message(m: Msg, previous: Msg | None, up: str, folder: str) -> str:
    e = html.escape
    if m.service:
        return (f'     <div class="message service" id="message{m.id}">\n      <div class="body details">\n'
                f"{e(m.sender or '')} {e(m.service.replace('_', ' '))}\n      </div>\n     </div>")
    joined = previous is not None and not previous.service and previous.sender == m.sender and not m.forwarded_from
    cls = "message default clearfix joined" if joined else "message default clearfix"
    out = [f'     <div class="{cls}" id="message{m.id}">']
    if not joined:
        out.append(f'      <div class="pull_left userpic_wrap">\n       <div class="userpic userpic3" '
                   f'style="width: 42px; height: 42px">\n        <div class="initials" style="line-height: 42px">'
                   f"\n{e((m.sender or '?')[:1])}\n        </div>\n       </div>\n      </div>")
    out.append('      <div class="body">')
    out.append(f'       <div class="pull_right date details" title="{_title(m.when)}">\n'
               f"{m.when.strftime('%H:%M')}\n       </div>")
    if not joined:
        out.append(f'       <div class="from_name">\n{e(m.sender or "")} \n       </div>')
    if m.forwarded_from:
        out.append('       <div class="pull_left forwarded userpic_wrap">\n       </div>\n'
                   '       <div class="forwarded body">\n'
                   f'        <div class="from_name">\n{e(m.forwarded_from)}<span class="date details" '
                   f'title="{_title(m.when - dt.timedelta(days=1))}"> '
                   f'{(m.when - dt.timedelta(days=1)).strftime("%d.%m.%Y %H:%M:%S")}</span>\n        </div>')

    def href(p: str) -> str:
        return up + "../" + p[3:] if p.startswith("../") else up + folder + p

    if m.photo is not None:
        if m.photo.startswith("("):
            out.append('       <div class="media_wrap clearfix">\n        <div class="media clearfix pull_left '
                       'media_photo">\n         <div class="fill pull_left">\n         </div>\n'
                       '         <div class="body">\n          <div class="title bold">\nPhoto\n          </div>\n'
                       '          <div class="description">\nNot included, change data exporting settings to download.'
                       '\n          </div>\n          <div class="status details">\n1280x960, 120.5 KB\n'
                       '          </div>\n         </div>\n        </div>\n       </div>')
        else:
            thumb = href(m.photo)[:-4] + "_thumb.jpg"
            out.append(f'       <div class="media_wrap clearfix">\n        <a class="photo_wrap clearfix pull_left" '
                       f'href="{e(href(m.photo))}">\n         <img class="photo" src="{e(thumb)}" '
                       'style="width: 260px; height: 195px"/>\n        </a>\n       </div>')
    if m.file is not None:
        if m.media_type == "sticker":
            out.append(f'       <div class="media_wrap clearfix">\n        <a class="sticker_wrap clearfix pull_left" '
                       f'href="{e(href(m.file))}">\n         <img class="sticker" src="{e(href(m.file))}_thumb.png" '
                       'style="width: 128px; height: 128px"/>\n        </a>\n       </div>')
        elif m.media_type in ("video_file", "animation"):
            wrap, img = ("video_file_wrap", "video_file") if m.media_type == "video_file" else ("animated_wrap",
                                                                                                "animated")
            out.append(f'       <div class="media_wrap clearfix">\n        <a class="{wrap} clearfix pull_left" '
                       f'href="{e(href(m.file))}">\n         <div class="video_play_bg">\n          <div '
                       'class="video_play">\n          </div>\n         </div>\n'
                       f'         <img class="{img}" src="{e(href(m.thumbnail or ""))}" '
                       'style="width: 260px; height: 146px"/>\n        </a>\n       </div>')
        else:
            out.append('       <div class="media_wrap clearfix">\n        <a class="media clearfix pull_left '
                       f'block_link media_file" href="{e(href(m.file))}">\n         <div class="fill pull_left">'
                       '\n         </div>\n         <div class="body">\n          <div class="title bold">\n'
                       f"{e(m.file_name or 'File')}\n          </div>\n          <div class=\"status details\">\n"
                       "63.9 KB\n          </div>\n         </div>\n        </a>\n       </div>")
    if m.text:
        out.append(f'       <div class="text">\n{e(m.text)}\n       </div>')
    if m.forwarded_from:
        out.append("       </div>")
    out.append("      </div>\n     </div>")
    return "\n".join(out)
