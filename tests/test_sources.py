"""Reading Telegram Desktop exports and plain folders into query items, and scanning them.

Ground truth comes from tests/telegram_exports.py, which writes the exports: every message that
carries a copy of a reported photo must be found with the right chat, message id, date, sender
and media path, and nothing else may match; every problem must be reported by message id.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import telegram_exports as tx
from photomatch import Matcher
from photomatch.cli import main
from photomatch.scan import FloodGuard, Scan
from photomatch.sources import ScanSummary, expand, export_format, sniff_bytes
from photomatch.sources.telegram import html_date, iso_date


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "reports.db"
    with Matcher(path) as m:
        for i, rgb in enumerate(tx.reported_photos()):
            m.add([rgb], label=f"report-{i}", features=True)
    return path


def _problems(summary: ScanSummary, kind: str) -> set[tuple[str | None, int | None]]:
    return {(p.chat, p.message_id) for p in summary.problems if p.kind == kind}


@pytest.mark.parametrize("fmt", ["json", "html"])
@pytest.mark.parametrize("account", [False, True], ids=["chat", "account"])
def test_export_ground_truth(store, tmp_path, fmt, account):
    truth = tx.make_export(tmp_path, fmt=fmt, account=account)
    with Matcher(store, create=False) as m:
        scan = Scan(m, workers=2, mode="robust")
        records = list(scan.run([truth.root]))
    s = scan.summary
    labels = {f"report-{i}": i for i in range(tx.N_REPORTED)}
    found = set()
    for rec in records:
        assert "error" not in rec, rec
        assert rec["sha256"] and len(rec["sha256"]) == 64
        for match in rec["matches"]:
            msg = rec["message"]
            found.add(tx.Hit(msg["chat"], msg["chat_id"], msg["id"], msg["date"], msg["from"],
                             msg["forwarded_from"], msg["media"], labels[match["label"]]))
            assert match["flood"] is False
    assert found == set(truth.hits)  # every message with a reported photo, and nothing else
    assert _problems(s, "not_included") == truth.not_included
    assert _problems(s, "missing") == truth.missing
    assert _problems(s, "path_escape") == truth.escapes
    assert _problems(s, "not_read") == set()  # videos are read: their frames matched
    video_records = {rec["message"]["id"]: rec for rec in records if rec["query"].endswith(".mp4")}
    assert set(video_records) == {m for _, m in truth.videos} and all(r["frames"] >= 1 for r in video_records.values())
    assert _problems(s, "not_image") == truth.not_images
    assert s.messages == truth.messages - (0 if fmt == "json" else 0)
    assert s.media == truth.media
    assert s.matched == len(truth.hits) and s.failures == len(truth.missing) + len(truth.escapes)
    assert all("outside" not in rec["query"] for rec in records)  # the escapes were never read


def test_message_context_fields(store, tmp_path):
    """The context of one message, field by field, in both formats (JSON has ids, HTML has none)."""
    contexts = {}
    for fmt in ("json", "html"):
        truth = tx.make_export(tmp_path / fmt, fmt=fmt, account=False)
        contexts[fmt] = {i.message["id"]: i.message for i in expand([truth.root], ScanSummary())}
    for fmt, ids in (("json", ("user1002", 1001)), ("html", (None, None))):
        m5 = contexts[fmt][5]
        assert m5 == {"chat": "Helpline reports", "chat_id": ids[1], "id": 5, "date": "2025-03-14T09:39:53+03:00",
                      "from": "Carol D.", "from_id": "user1003" if fmt == "json" else None,
                      "forwarded_from": "Rumour Mill Channel", "text": "fwd",
                      "media": "photos/photo_3@14-03-2025_09-40-00.jpg"}
        m6 = contexts[fmt][6]  # edited later: the date is still the message's own
        assert m6["date"] == "2025-03-14T10:01:53+03:00"
        assert m6["text"] == "screenshot from the other group (edited)"
        assert contexts[fmt][4]["from"] == "Bob Ignatiev"  # a "joined" message in HTML: the run's sender


def test_cli_match_json_lines_and_summary(store, tmp_path, capsys):
    truth = tx.make_export(tmp_path, fmt="json", account=True)
    code = main(["match", str(store), str(truth.root), "--json", "--workers", "2"])
    out, err = capsys.readouterr()
    assert code == 2  # a missing file and two refused paths are input failures
    lines = [json.loads(line) for line in out.splitlines()]
    matched = {(r["message"]["chat"], r["message"]["id"]) for r in lines if r["matches"]}
    assert matched == {(h.chat, h.message_id) for h in truth.hits}
    for r in lines:
        assert set(r) - {"frames", "skipped_frames"} == {"query", "query_hash", "matches", "message", "sha256"}
        for m in r["matches"]:
            assert m["flood"] is False
    assert "message 9 in 'Helpline reports'" in err and "not found" in err
    assert "refused" in err and "not read" not in err  # videos are read now
    assert "Traceback" not in err


def test_truncated_json_keeps_what_was_read(tmp_path):
    truth = tx.make_export(tmp_path, fmt="json", account=False)
    result = truth.root / "result.json"
    text = result.read_text(encoding="utf-8")
    cut = text.index('"id": 7,')  # in the middle of the messages array
    result.write_text(text[:cut], encoding="utf-8")
    s = ScanSummary()
    items = list(expand([truth.root], s))
    assert {i.message["id"] for i in items} == {3, 4, 5, 6}
    assert s.counts["malformed"] == 1
    [p] = [p for p in s.problems if p.kind == "malformed"]
    assert "after message 6" in p.reason and p.path == str(result)


def test_malformed_messages_are_reported_and_the_rest_read(tmp_path):
    root = tmp_path / "export"
    (root / "photos").mkdir(parents=True)
    Image.fromarray(tx.photo_like(64, 64, 1)).save(root / "photos" / "a.jpg")
    doc = {"name": "c", "type": "personal_chat", "id": 5, "messages": [
        {"id": "seven", "type": "message", "photo": "photos/a.jpg"},
        17,
        {"id": 8, "type": "message", "date": "2025-01-01T00:00:00", "photo": ["not", "a", "path"]},
        {"id": 9, "type": "message", "date": "2025-01-01T00:00:00", "date_unixtime": "1735689600",
         "photo": "photos/a.jpg"},
    ]}
    (root / "result.json").write_text(json.dumps(doc))
    s = ScanSummary()
    items = list(expand([root], s))
    assert [(i.message["id"], i.message["date"]) for i in items] == [(9, "2025-01-01T00:00:00+00:00")]
    reasons = sorted(p.reason for p in s.problems)
    assert reasons == ["'photo' is not a path", "message #1 has no valid id", "message #2 is not an object"]
    assert [p.message_id for p in s.problems if "photo" in p.reason] == [8]


def test_truncated_html_page(tmp_path):
    truth = tx.make_export(tmp_path, fmt="html", account=False)
    page = truth.root / "messages.html"
    text = page.read_text(encoding="utf-8")
    page.write_text(text[: text.index('photo_3@') + 60], encoding="utf-8")  # inside message 5, after its link
    s = ScanSummary()
    ids = {i.message["id"] for i in expand([truth.root], s)}
    assert {3, 4} <= ids and 5 in ids  # message 5 was cut after its media link: kept, and reported
    assert [(p.kind, p.message_id) for p in s.problems if p.kind == "malformed"] == [("malformed", 5)]


def test_export_detection(tmp_path):
    truth = tx.make_export(tmp_path / "j", fmt="json", account=False)
    assert export_format(str(truth.root)) == ("json", str(truth.root / "result.json"))
    assert export_format(str(truth.root / "result.json"))[0] == "json"
    html = tx.make_export(tmp_path / "h", fmt="html", account=True)
    assert export_format(str(html.root)) == ("html", str(html.root))
    assert export_format(str(tmp_path)) is None
    # an export inside a folder is read as an export, wherever it sits
    s = ScanSummary()
    items = list(expand([tmp_path / "h"], s))
    assert [i.path for i in items if i.message is None] == [str(tmp_path / "h" / "outside.jpg")]
    assert len(items) > 1 and {x["kind"] for x in s.sources} == {"folder", "telegram-html"}
    # naming messages.html and messages2.html of one export reads it once
    s2 = ScanSummary()
    chat = html.root / "chats" / "chat_01"
    twice = list(expand([chat / "messages.html", chat / "messages2.html"], s2))
    assert len(twice) == len({(i.message["chat"], i.message["id"], i.path) for i in twice})


def test_plain_folder_by_content(tmp_path):
    """Extension-less and misnamed files are recognised by content; the rest are skipped with a reason."""
    rgb = tx.photo_like(80, 120, 3)
    Image.fromarray(rgb).save(tmp_path / "cache_0001", "JPEG")
    Image.fromarray(rgb).save(tmp_path / "photo.dat", "PNG")
    Image.fromarray(rgb).save(tmp_path / "named.jpg")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "doc").write_bytes(b"%PDF-1.7\n")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "clip").write_bytes(tx.mp4(rgb, frames=2))
    (tmp_path / "sub").mkdir()
    Image.fromarray(rgb).save(tmp_path / "sub" / "x", "WEBP")
    s = ScanSummary()
    items = list(expand([tmp_path], s))
    names = [(os.path.relpath(i.path, tmp_path), i.kind) for i in items]
    assert names == [("cache_0001", "image"), ("clip", "video"), ("named.jpg", "image"), ("photo.dat", "image"),
                     ("sub/x", "image")]
    assert dict(s.reasons["not_image"]) == {"PDF document": 1, "empty file": 1, "text": 1}
    assert s.failures == 0 and s.media == 8


@pytest.mark.parametrize(("head", "kind", "what"), [
    (b"\xff\xd8\xff\xe0", "image", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image", "PNG"),
    (b"GIF89a", "image", "GIF"),
    (b"RIFF\0\0\0\0WEBPVP8 ", "image", "WebP"),
    (b"\0\0\0\x1cftypheic", "image", "HEIF"),
    (b"\0\0\0\x1cftypavif", "image", "AVIF"),
    (b"\0\0\0\x18ftypmp42", "video", "MP4/QuickTime video"),
    (b"\0\0\0\x18ftypM4A ", "other", "audio (MP4)"),
    (b"\x1a\x45\xdf\xa3", "video", "Matroska/WebM video"),
    (b"OggS\0", "other", "audio (Ogg)"),
    (b"BMW is a car", "other", "text"),
    (b"\0\1\2\3\xfe", "other", "unrecognised content"),
])
def test_sniff(head, kind, what):
    assert (sniff_bytes(head).kind, sniff_bytes(head).what) == (kind, what)


def test_dates():
    assert iso_date("2025-03-14T09:26:53", "1741933613") == "2025-03-14T09:26:53+03:00"
    assert iso_date("2025-03-14T09:26:53", None) == "2025-03-14T09:26:53"  # before 3.7.6: no offset known
    assert iso_date("2025-03-14T09:26:53", "1") == "2025-03-14T09:26:53"  # fields disagree: as written
    assert html_date("14.03.2025 09:26:53 UTC+03:00") == "2025-03-14T09:26:53+03:00"
    assert html_date("14.03.2025 09:26:53 UTC-05:30") == "2025-03-14T09:26:53-05:30"
    assert html_date("14.03.2025 09:26:53") == "2025-03-14T09:26:53"


def test_flood_guard_flags_and_keeps(tmp_path):
    """A blank reported picture matches every blank query: flagged, in the summary and each match."""
    store = tmp_path / "s.db"
    grey = np.full((300, 400, 3), 128, np.uint8)
    with Matcher(store) as m:
        m.add([grey], label="blank")
        m.add([tx.photo_like(300, 400, 9)], label="photo")
    q = tmp_path / "q"
    q.mkdir()
    for i in range(6):
        Image.fromarray(np.full((200 + i, 300, 3), 128, np.uint8)).save(q / f"blank{i}.png")
    for i in range(14):
        Image.fromarray(tx.photo_like(200, 300, 50 + i)).save(q / f"other{i:02d}.png")
    Image.fromarray(tx.photo_like(300, 400, 9)).save(q / "the_photo.png")
    with Matcher(store, create=False) as m:
        scan = Scan(m, flood=FloodGuard(share=0.2, minimum=10), workers=1, mode="fast")
        records = list(scan.run([q]))
    flagged = {(r["query"].rsplit("/", 1)[1], m["label"], m["flood"]) for r in records for m in r["matches"]}
    assert flagged == {(f"blank{i}.png", "blank", True) for i in range(6)} | {("the_photo.png", "photo", False)}
    [f] = scan.summary.flooded
    assert (f["label"], f["matches"], f["of"]) == ("blank", 6, 21)
    with Matcher(store, create=False) as m:  # below the minimum: nothing is flagged
        scan = Scan(m, flood=FloodGuard(share=0.2, minimum=22), workers=1, mode="fast")
        assert not any(m["flood"] for r in scan.run([q]) for m in r["matches"])


def test_ignore_list(tmp_path, capsys):
    store = tmp_path / "s.db"
    logo = tx.photo_like(300, 300, 77)
    photo = tx.photo_like(300, 400, 78)
    Image.fromarray(logo).save(tmp_path / "logo.png")
    Image.fromarray(photo).save(tmp_path / "photo.png")
    q = tmp_path / "q"
    q.mkdir()
    Image.fromarray(logo).resize((200, 200)).save(q / "logo_copy.jpg")
    Image.fromarray(photo).resize((200, 150)).save(q / "photo_copy.jpg")
    assert main(["add", str(store), str(tmp_path / "logo.png"), str(tmp_path / "photo.png")]) == 0
    assert main(["ignore", str(store), str(tmp_path / "logo.png"), "--reason", "app logo"]) == 0
    capsys.readouterr()
    code = main(["match", str(store), str(q), "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    recs = {r["query"].rsplit("/", 1)[1]: r for r in map(json.loads, out.splitlines())}
    assert recs["logo_copy.jpg"]["matches"] == []
    [ig] = recs["logo_copy.jpg"]["ignored"]
    assert ig["label"] is None and ig["ignored_by"]["reason"] == "app logo"
    [hit] = recs["photo_copy.jpg"]["matches"]
    assert "ignored" not in recs["photo_copy.jpg"] and hit["source"].endswith("photo.png")
    assert "1 ignored" in err
    # the ignore list is not part of the store: not counted, not exported
    assert main(["info", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == 2
    assert main(["ignore", str(tmp_path / "nope.db"), str(tmp_path / "logo.png")]) == 2


def test_add_keeps_features_by_default(tmp_path, capsys):
    Image.fromarray(tx.photo_like(300, 400, 5)).save(tmp_path / "r.png")
    assert main(["add", str(tmp_path / "a.db"), str(tmp_path / "r.png")]) == 0
    assert main(["add", str(tmp_path / "b.db"), str(tmp_path / "r.png"), "--no-features"]) == 0
    with Matcher(tmp_path / "a.db", create=False) as a, Matcher(tmp_path / "b.db", create=False) as b:
        assert a.store.keypoints_state()[0] == 1 and b.store.keypoints_state()[0] == 0


_JSON_BITS = st.sampled_from(['{', '}', '[', ']', ',', ':', '"messages"', '"chats"', '"list"', '"id"', '"photo"',
                              '"file"', '"../x.jpg"', '"/etc/passwd"', '1', '-1', '1e999', 'null', 'true', '"\\ud800"',
                              '"date"', '"2025-01-01T00:00:00"', '"date_unixtime"', '"99999999999999"', '"text"'])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_JSON_BITS, max_size=60), st.binary(max_size=40))
def test_hostile_result_json_never_raises(tmp_path, bits, tail):
    """Whatever result.json holds, the reader reports problems and never raises or reads outside."""
    _read_hostile(tmp_path / "x", "result.json", "".join(bits).encode("utf-8", "surrogatepass") + tail)


def _read_hostile(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    for item in expand([folder], ScanSummary()):
        assert os.path.realpath(item.path).startswith(os.path.realpath(folder))


_HTML_BITS = st.sampled_from(['<div class="message default clearfix" id="message', '7', '-3', 'x', '">', '</div>',
                              '<div class="from_name">', '<div class="forwarded body">', '<a class="photo_wrap" href="',
                              '../../etc/passwd', '/abs.jpg', '<img class="thumb" src="', '"/>', '<br>', '&amp;',
                              '<div class="pull_right date details" title="', '31.02.2025 25:61:00 UTC+99:99',
                              '<div class="media clearfix pull_left media_photo">', '<div class="description">',
                              '<div class="text">', '</a>', '<span class="date details">', '<!--', '<script>'])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_HTML_BITS, max_size=60), st.binary(max_size=40))
def test_hostile_messages_html_never_raises(tmp_path, bits, tail):
    _read_hostile(tmp_path / "h", "messages.html", "".join(bits).encode() + tail)


def test_paths_that_leave_the_export_are_refused(tmp_path):
    from photomatch.sources.telegram import ExportReader

    root = tmp_path / "export"
    (root / "photos").mkdir(parents=True)
    (tmp_path / "secret.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "secret.jpg", root / "photos" / "link.jpg")
    os.symlink(tmp_path, root / "up")  # a folder link on the way out
    reader = ExportReader(str(root), ScanSummary())
    for value in ("/etc/passwd", "C:\\Windows\\x.jpg", "c:/x.jpg", "\\\\server\\share\\x.jpg", "../secret.jpg",
                  "photos/../../secret.jpg", "photos/link.jpg", "up/secret.jpg", "", "a\0b"):
        assert reader.resolve(str(root), value)[1] is None, value
    for value in ("photos/a.jpg", "a:b.jpg", "photos/./x/../a.jpg", "..a.jpg"):
        rel, path, _ = reader.resolve(str(root), value)
        assert path is not None and os.path.realpath(path).startswith(str(root.resolve())), value
