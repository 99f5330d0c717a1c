"""The evidence report: ``match --report DIR``, its records, manifest and ``verify-report``.

Oracles: the ground truth of the case (``evidence_case``: which scanned file copies which reported
picture), sha256 recomputed here with hashlib, the stored hashes read back from the store (they
must not appear anywhere in the folder), and the hand-made message contexts (their order by
instant, their text escaped).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

import evidence_case
from photomatch import Matcher, ReportError
from photomatch.cli import main
from photomatch.evidence import ReportWriter, check_report
from photomatch.evidence.records import neutralise
from photomatch.sources import ScanSummary
from photomatch.sources.summary import NOT_READ, Problem


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return evidence_case.build(tmp_path_factory.mktemp("case"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(case, folder: Path, capsys) -> tuple[int, str]:
    rc = main(["match", str(case.store), str(case.scan), "--report", str(folder), "--workers", "2"])
    return rc, capsys.readouterr().err


def _jsonl(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "matches.jsonl").read_text(encoding="utf-8").splitlines()]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def cli_report(case, tmp_path_factory):
    folder = tmp_path_factory.mktemp("out") / "report"
    rc = main(["match", str(case.store), str(case.scan), "--report", str(folder)])
    return rc, folder


def test_cli_report_holds_every_match_and_nothing_else(case, cli_report):
    rc, folder = cli_report
    assert rc == 2  # the broken file is an input error; the rest was matched and reported
    lines = _jsonl(folder)
    found = {(Path(x["query"]).name, m["id"]) for x in lines for m in x["matches"]}
    assert found == set(case.expected.items())
    for x in lines:  # each record carries the digest of the file it describes
        assert x["sha256"] == _sha(Path(x["query"]))
    with open(folder / "matches.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(Path(r["query"]).name, int(r["item_id"])) for r in rows} == found
    verified = [m for x in lines for m in x["matches"] if m["verified"]]
    assert verified and all(m["correspondences"] for m in verified)


def test_report_folder_is_private(cli_report):
    _, folder = cli_report
    for root, dirs, files in os.walk(folder):
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o600, name


def test_manifest_records_store_parameters_and_every_file(case, cli_report):
    _, folder = cli_report
    doc = json.loads((folder / "manifest.json").read_text())
    assert doc["tool"]["name"] == "photomatch" and doc["tool"]["version"]
    with Matcher(case.store, create=False) as m:
        items = list(m.store.items())
    digest = hashlib.sha256("".join(f"{i.id}\t{h.algorithm}\t{h.region_kind}\t{h.bits.hex()}\n"
                                    for i in items for h in i.hashes).encode()).hexdigest()
    assert doc["store"] == {"path": str(case.store.resolve()), "items": 4, "hashes": sum(len(i.hashes) for i in items),
                            "hashes_sha256": digest}
    assert doc["parameters"]["mode"] == "robust" and doc["parameters"]["threshold"] == 31
    assert doc["started"] <= doc["finished"]
    scanned = {Path(s["path"]).name: s["sha256"] for s in doc["scanned"]}
    assert scanned == {p.name: _sha(p) for p in case.scan.iterdir()}  # matched or not, even the broken one
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(doc["files"]) == on_disk
    assert all(doc["files"][f] == _sha(folder / f) for f in on_disk)


def test_stored_hashes_never_appear_in_the_folder(case, cli_report):
    _, folder = cli_report
    with Matcher(case.store, create=False) as m:
        hexes = [h.bits.hex() for i in m.store.items() for h in i.hashes]
    text = "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file() and p.suffix != ".jpg")
    assert hexes and not any(h in text for h in hexes)


def test_verify_report_names_each_changed_missing_and_added_file(case, tmp_path, capsys):
    folder = tmp_path / "r"
    scan = tmp_path / "scan"
    scan.mkdir()
    for p in case.scan.iterdir():
        (scan / p.name).write_bytes(p.read_bytes())
    assert main(["match", str(case.store), str(scan), "--report", str(folder)]) == 2
    capsys.readouterr()
    assert main(["verify-report", str(folder)]) == 0
    pic = sorted((folder / "img").iterdir())[0]
    pic.write_bytes(pic.read_bytes()[:-1] + b"\0")
    (folder / "matches.csv").unlink()
    (folder / "notes.txt").write_text("added later")
    (scan / "unrelated-601.jpg").write_bytes(b"tampered")
    (scan / "shown-small.jpg").unlink()
    capsys.readouterr()
    assert main(["verify-report", str(folder)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"changed: report file img/{pic.name}",
        "missing: report file matches.csv",
        "added: report file notes.txt",
        f"missing: scanned file {scan / 'shown-small.jpg'}",
        f"changed: scanned file {scan / 'unrelated-601.jpg'}",
    ]


@pytest.mark.parametrize("content", [None, b"{", b'{"format": "other"}'])
def test_verify_report_refuses_what_is_not_a_report(tmp_path, capsys, content):
    if content is not None:
        (tmp_path / "manifest.json").write_bytes(content)
    assert main(["verify-report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("photomatch: ") and err.count("\n") == 1 and "manifest" in err


def test_report_is_never_written_over_another(case, tmp_path, capsys):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "keep.txt").write_text("earlier evidence")
    assert main(["match", str(case.store), str(case.scan), "--report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and err.count("\n") == 1
    assert os.listdir(folder) == ["keep.txt"]
    (tmp_path / "file").write_text("x")
    assert main(["match", str(case.store), str(case.scan), "--report", str(tmp_path / "file")]) == 2
    with pytest.raises(ReportError):
        ReportWriter(folder, store=None, parameters={}, inputs=[])


def test_rerun_gives_the_same_matches_and_only_times_differ(case, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["match", str(case.store), str(case.scan), "--report", str(a)]) == 2
    assert main(["match", str(case.store), str(case.scan), "--report", str(b), "--workers", "1"]) == 2
    for name in ("matches.jsonl", "matches.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for p in (a / "img").iterdir():
        assert p.read_bytes() == (b / "img" / p.name).read_bytes(), p.name
    ma, mb = (json.loads((x / "manifest.json").read_text()) for x in (a, b))
    # what the README says differs: the times, the page that shows them, and the workers setting
    for m in (ma, mb):
        for key in ("started", "finished", "duration_s"):
            m.pop(key)
        m["files"].pop("report.html")
        m["parameters"].pop("workers")
    assert ma == mb


def test_match_json_is_unchanged_by_report(case, tmp_path, capsys):
    assert main(["match", str(case.store), str(case.scan), "--json"]) == 2
    plain = capsys.readouterr().out
    assert main(["match", str(case.store), str(case.scan), "--json", "--report", str(tmp_path / "r")]) == 2
    out, err = capsys.readouterr()
    assert out == plain and "correspondences" not in out
    assert f"report: {tmp_path / 'r' / 'report.html'}" in err and "manifest sha256: " in err
    sha = err.split("manifest sha256: ")[1].split()[0]
    assert sha == _sha(tmp_path / "r" / "manifest.json")


# --- the page, with chat message contexts ---------------------------------------------------


@pytest.fixture(scope="module")
def message_report(case, tmp_path_factory):
    """Through the API, as the chat-export reader feeds it: messages, a flood flag, an ignored match."""
    folder = tmp_path_factory.mktemp("msg") / "report"
    with Matcher(case.store, create=False) as m:
        lines = evidence_case.lines(case, m)
        for line in lines:
            name = Path(line["query"]).name
            if name == "second-screenshot.jpg":
                for x in line["matches"]:
                    x["flood"] = True
            if name == "unrelated-602.jpg":  # as the scan moves a match of an ignore-list picture
                line["ignored"] = [{"id": case.items["shown"], "label": "case-17", "distance": 20, "algo": "pdq",
                                    "stage": "whole", "ignored_by": {"id": 1, "reason": "app logo, benign"}}]
        w = ReportWriter(folder, store=m.store, parameters={"mode": "robust", "threshold": 31}, inputs=[str(case.scan)])
        for line in lines:
            w.add(line)
        summary = ScanSummary(messages=12, messages_with_media=9, media=9)
        summary.problem(Problem(NOT_READ, "video", path="video_files/v.mp4", chat="Another chat", message_id=7))
        page = w.finish(summary=summary.to_json())
    return folder, page.read_text(encoding="utf-8")


def test_page_is_self_contained_and_escapes_what_came_from_outside(message_report):
    folder, html = message_report
    tags = _parse(html).tags
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "link", "form")]
    for tag, attrs in tags:
        for key in ("src", "href"):
            if key in attrs:
                v = attrs[key]
                assert v.startswith("#") or (not v.startswith(("/", "\\")) and ":" not in v and ".." not in v), v
                if key == "src":
                    assert (folder / v).is_file()
    assert "look &lt;script&gt;alert(1)&lt;/script&gt; at this" in html
    assert "case-17 &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp


def test_cards_are_grouped_by_item_and_sorted_by_chat_and_instant(case, message_report):
    _, html = message_report
    tags = _parse(html).tags
    sections = [a["id"] for t, a in tags if t == "section"]
    assert sections == [f"item-{i}" for i in sorted(set(case.expected.values()))]
    # item 1: message 98 at 12:00 UTC comes before message 120 at 14:22+01:00 (13:22 UTC)
    group1 = html.split('id="item-1"')[1].split("<section")[0]
    assert group1.index("message 98") < group1.index("message 120")
    assert "2 matches in 1 chat" in group1
    assert html.count('<article class="card"') == len(case.expected)


def test_reported_pictures_are_shown_only_from_an_unchanged_source(case, message_report):
    _, html = message_report

    def group(role: str) -> str:
        return html.split(f'id="item-{case.items[role]}"')[1].split("<section")[0]

    assert f'img/item-{case.items["shown"]}.jpg' in group("shown")
    assert "no longer there" in group("gone") and "img/item-" not in group("gone")
    assert "only hashes" in group("hashonly") and "img/item-" not in group("hashonly")


def test_changed_source_is_not_shown(case, tmp_path):
    src = case.store.parent / "reported" / "second.png"
    original = src.read_bytes()
    try:
        src.write_bytes(original + b"\0")
        with Matcher(case.store, create=False) as m:
            w = ReportWriter(tmp_path / "r", store=m.store, parameters={}, inputs=[])
            for line in evidence_case.lines(case, m):
                w.add(line)
            html = w.finish().read_text()
    finally:
        src.write_bytes(original)
    g = html.split(f'id="item-{case.items["second"]}"')[1].split("<section")[0]
    assert "has changed since it was added" in g and "img/item-" not in g


def test_flood_ignored_and_run_summary_are_shown(case, message_report):
    folder, html = message_report
    assert html.count('class="flag">flood') >= 2  # in the contents and on the card
    ignored = html.split("<h2>Ignored (1)</h2>")[1]
    assert "unrelated-602.jpg" in ignored and "app logo, benign" in ignored
    with open(folder / "matches.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["reason"] for r in rows if r["ignored"] == "true"] == ["app logo, benign (ignore-list item #1)"]
    not_read = html.split("<h2>Not read (1)</h2>")[1].split("<h2>")[0]
    assert "Another chat" in not_read and "<td>7</td>" in not_read and "video_files/v.mp4" in not_read
    assert "<b>12</b><span>messages read</span>" in html


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(message_report):
    folder, _ = message_report
    with open(folder / "matches.csv", newline="", encoding="utf-8") as f:
        rows = {r["message_id"]: r for r in csv.DictReader(f)}
    assert rows["98"]["from"] == "'=HYPERLINK(\"http://x\")" and rows["98"]["text"] == "'@everyone"
    assert rows["5"]["text"] == "'-1+1"
    assert rows["120"]["text"].startswith("look")


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_neutralise_prefixes_formula_starts(cell):
    assert neutralise(cell) == "'" + cell
    assert neutralise("a" + cell) == "a" + cell
    assert neutralise(-1) == -1


@pytest.mark.slow
def test_demo_writes_a_report(tmp_path, capsys):
    from photomatch.demo import run_demo

    pytest.importorskip("skimage")
    assert run_demo(out=str(tmp_path)) == 0
    out = capsys.readouterr().out
    page = tmp_path / "report" / "report.html"
    assert f"Evidence report (open it in a browser): {page.resolve()}" in out
    assert check_report(str(tmp_path / "report")) == []
    # One card per copy the demo found; the demo checks each against its ground truth.
    found, total = (int(n) for n in re.search(r"found (\d+) of (\d+) altered copies", out).groups())
    assert found == total > 0
    assert page.read_text().count('<article class="card"') == found


# --- a Telegram export, end to end through the CLI -------------------------------------------


@pytest.fixture(scope="module")
def export_store(tmp_path_factory):
    import telegram_exports as tx
    from PIL import Image

    root = tmp_path_factory.mktemp("tx")
    store = root / "reports.db"
    with Matcher(store) as m:
        for i, rgb in enumerate(tx.reported_photos()):
            Image.fromarray(rgb).save(root / f"reported-{i}.png")
            m.add([root / f"reported-{i}.png"], label=f"report-{i}", features=True)
    return store


@pytest.mark.parametrize("fmt", ["html", "json"])
def test_export_report_finds_every_message_with_its_context(export_store, tmp_path, capsys, fmt):
    import telegram_exports as tx

    truth = tx.make_export(tmp_path / "export", fmt=fmt, account=fmt == "json")
    folder = tmp_path / "report"
    assert main(["match", str(export_store), str(truth.root), "--report", str(folder), "--workers", "2"]) == 2
    capsys.readouterr()
    lines = _jsonl(folder)
    assert {(x["message"]["chat"], x["message"]["id"], m["label"]) for x in lines for m in x["matches"]} == \
        {(h.chat, h.message_id, f"report-{h.reported}") for h in truth.hits}
    for x in lines:
        assert x["sha256"] == _sha(Path(x["query"]))
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert html.count('<article class="card"') == len(truth.hits)
    # every card has its picture, videos included (a frame of the matched span)
    assert html.count('src="img/match-') == len(truth.hits) and "can no longer" not in html
    for h in truth.hits:  # each card names its chat and message
        assert f"{h.chat} · message {h.message_id}" in html.replace("&#x27;", "'").replace("&quot;", '"')
    not_read = html.split("<h2>Not read (")[1].split("<h2>")[0]
    # videos are read (their frames matched), so only refused and missing files are left here
    assert "not read (videos)" not in not_read and "refused: path outside the export" in not_read
    # every image of the export is in the manifest; the file the escapes aim at is not
    scanned = {s["path"] for s in json.loads((folder / "manifest.json").read_text())["scanned"]}
    assert {x["query"] for x in lines} <= scanned and str(truth.outside) not in scanned
    assert main(["verify-report", str(folder)]) == 0
