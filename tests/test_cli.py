"""The command line, run in-process (and once as ``python -m photomatch``)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import photomatch
from images import photo_like
from photomatch.cli import main


def photo(seed: int, h: int = 200, w: int = 260) -> np.ndarray:
    return photo_like(h, w, seed)


@pytest.fixture
def folder(tmp_path):
    """reported/ with 3 photos, queries/ with copies of two of them, an unrelated one and a bad file."""
    rep = tmp_path / "reported"
    qry = tmp_path / "queries" / "nested"
    rep.mkdir()
    qry.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(photo(i)).save(rep / f"r{i}.png")
    Image.fromarray(photo(0)).resize((130, 100)).save(qry / "copy0.jpg", quality=60)
    Image.fromarray(photo(1)[:, ::-1]).save(qry / "copy1-mirrored.jpg", quality=80)
    Image.fromarray(photo(50)).save(qry / "unrelated.jpg", quality=80)
    (qry / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (qry / "notes.txt").write_text("not an image, and not picked up from a folder")
    return tmp_path


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("fmt", ["text", "csv", "jsonl"])
def test_hash_formats_and_errors(folder, capsys, fmt):
    code, out, err = run(capsys, "hash", folder / "queries", "--format", fmt, "--workers", "2")
    assert code == 2
    assert "broken.jpg" in err and "notes.txt" not in err
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
    else:
        lines = out.splitlines()
        assert lines[0].startswith("#")
        rows = [dict(zip(("path", "algo", "hex", "quality"), line.split("\t"))) for line in lines[1:]]
    assert sorted(r["path"].rsplit("/", 1)[1] for r in rows) == ["copy0.jpg", "copy1-mirrored.jpg", "unrelated.jpg"]
    for r in rows:
        h = photomatch.pdq(r["path"])
        assert (r["algo"], r["hex"], int(r["quality"])) == ("pdq", h.hex, h.quality)


def test_hash_phash_all_good_exits_zero(folder, capsys):
    code, out, err = run(capsys, "hash", folder / "reported", "--algo", "phash", "--format", "jsonl")
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["hex"] for r in rows] == [photomatch.phash(r["path"]).hex for r in rows]


def test_add_match_json_and_exit_codes(folder, capsys):
    store = folder / "s.db"
    code, _, err = run(capsys, "add", store, folder / "reported", "--label", "case-7")
    assert code == 0 and "added 3" in err
    code, out, err = run(capsys, "match", store, folder / "queries", "--json")
    assert code == 2  # broken.jpg
    lines = [json.loads(line) for line in out.splitlines()]
    by_name = {rec["query"].rsplit("/", 1)[1]: rec for rec in lines}
    assert set(by_name) == {"copy0.jpg", "copy1-mirrored.jpg", "unrelated.jpg", "broken.jpg"}
    assert by_name["unrelated.jpg"]["matches"] == []
    assert by_name["broken.jpg"]["matches"] == [] and "error" in by_name["broken.jpg"]
    for name, src in (("copy0.jpg", "r0.png"), ("copy1-mirrored.jpg", "r1.png")):
        [m] = by_name[name]["matches"]
        assert m["source"].endswith(src) and m["label"] == "case-7" and m["algo"] == "pdq"
        assert isinstance(m["id"], int) and 0 <= m["distance"] <= 31
    code, out, _ = run(capsys, "match", store, folder / "queries" / "nested" / "copy0.jpg")
    assert code == 0 and "label=case-7" in out
    code, out, _ = run(capsys, "match", store, folder / "queries" / "nested" / "unrelated.jpg")
    assert code == 1 and "no match" in out


def test_match_on_missing_store_is_an_error(folder, capsys):
    code, _, err = run(capsys, "match", folder / "nope.db", folder / "reported")
    assert code == 2 and "nope.db" in err


def test_hash_output_imports_as_is_then_export_remove_info(folder, capsys):
    _, out, _ = run(capsys, "hash", folder / "reported", "--format", "csv")
    listing = folder / "hashes.csv"
    listing.write_text(out)
    store = folder / "imported.db"
    code, _, err = run(capsys, "import", store, listing)
    assert code == 0 and "imported 3" in err
    code, out, _ = run(capsys, "info", store, "--json")
    assert json.loads(out)["items"] == 3
    code, out, _ = run(capsys, "export", store, "--format", "jsonl")
    exported = sorted(json.loads(line)["hex"] for line in out.splitlines())
    assert exported == sorted(photomatch.pdq(p).hex for p in sorted((folder / "reported").iterdir()))
    # the hash-only store still finds a re-encoded copy
    code, out, _ = run(capsys, "match", store, folder / "queries" / "nested" / "copy0.jpg", "--json")
    assert code == 0 and len(json.loads(out)["matches"]) == 1
    ids = [m["id"] for m in json.loads(out)["matches"]]
    code, _, err = run(capsys, "remove", store, *ids)
    assert code == 0 and "removed 1" in err
    code, out, _ = run(capsys, "match", store, folder / "queries" / "nested" / "copy0.jpg")
    assert code == 1


def test_import_is_strict_and_atomic(folder, capsys):
    listing = folder / "list.csv"
    good = photomatch.pdq(photo(1)).hex
    listing.write_text(f"hash\n{good}\n{'z' * 64}\n")
    store = folder / "strict.db"
    code, _, err = run(capsys, "import", store, listing)
    assert code == 2 and "3" in err and "list.csv" in err
    # the failed import created nothing: no empty store file left behind
    assert not any(p.name.startswith("strict.db") for p in folder.iterdir())
    code, _, err = run(capsys, "import", store, listing, "--skip-invalid")
    # the good line is in; the bad one is reported, counted and makes the exit status 2
    assert code == 2 and "imported 1" in err and "skipped 1 bad line" in err and "line 3" in err
    with photomatch.Store(store) as s:
        assert s.count() == 1


def test_dedup_groups_near_duplicates(folder, capsys):
    (folder / "reported" / "dup.jpg").write_bytes((folder / "queries" / "nested" / "copy0.jpg").read_bytes())
    code, out, _ = run(capsys, "dedup", folder / "reported", "--json")
    assert code == 0
    [group] = [json.loads(line)["group"] for line in out.splitlines()]
    assert sorted(g["path"].rsplit("/", 1)[1] for g in group) == ["dup.jpg", "r0.png"]


def test_python_dash_m_works(folder):
    r = subprocess.run([sys.executable, "-m", "photomatch", "hash", str(folder / "reported" / "r0.png")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert photomatch.pdq(folder / "reported" / "r0.png").hex in r.stdout


def test_match_address_needs_ray(folder, capsys, tmp_path):
    code, out, err = run(capsys, "match", tmp_path / "absent.db", folder / "queries", "--address", "10.0.0.1:6379")
    assert code == 2 and out == "" and err.strip() == "photomatch: --address needs --ray"


def test_match_ray_without_ray_installed_is_one_line(folder, capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees
    code, out, err = run(capsys, "add", tmp_path / "s.db", folder / "reported")
    code, out, err = run(capsys, "match", tmp_path / "s.db", folder / "queries", "--ray")
    assert code == 2 and out == ""
    assert err.strip() == "photomatch: --ray needs Ray Data: pip install 'photomatch[ray]'"


@pytest.mark.parametrize("args", [
    ("match", "{store}", "{q}", "--threshold", "-1"),
    ("match", "{store}", "{q}", "--threshold", "9999"),
    ("match", "{store}", "{q}", "--threshold", "ten"),
    ("match", "{store}", "{q}", "--phash-threshold", "65"),
    ("match", "{store}", "{q}", "--workers", "0"),
    ("match", "{store}", "{q}", "--mode", "slow"),
    ("add", "{store}", "{q}", "--algo", "md5"),
    ("dedup", "{q}", "--algo", "phash", "--threshold", "65"),
    ("dedup", "{q}", "--threshold", "-3"),
    ("export", "{store}", "-o", "{folder}"),
    ("export", "{store}", "-o", "{folder}/no/such/folder/x.csv"),
    ("remove", "{store}", "x"),
    ("demo", "--images", "{folder}/nowhere"),
    (),
])
def test_usage_mistakes_are_one_line_and_exit_2_before_any_work(folder, capsys, args):
    store = folder / "s.db"
    assert run(capsys, "add", store, folder / "reported")[0] == 0
    before = store.stat().st_mtime_ns
    fields = {"store": store, "q": folder / "queries", "folder": folder}
    code, out, err = _run_exiting(capsys, *(a.format(**fields) for a in args))
    assert code == 2
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert store.stat().st_mtime_ns == before  # nothing was done


def _run_exiting(capsys, *args):
    """``run``, for mistakes argparse itself reports (it exits, as every argparse program does)."""
    try:
        code = main(list(args))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_thresholds_at_their_bounds_are_accepted_and_phash_threshold_is_used(folder, capsys):
    store = folder / "s.db"
    assert run(capsys, "add", store, folder / "reported", "--algo", "phash")[0] == 0
    query = folder / "queries" / "nested" / "copy0.jpg"
    code, out, _ = run(capsys, "match", store, query, "--json", "--threshold", "256", "--phash-threshold", "64")
    every = {m["id"]: m["distance"] for m in json.loads(out)["matches"]}
    assert code == 0 and len(every) == 3  # at 64 of 64 bits every item matches
    for t in sorted(set(every.values())):
        _, out, _ = run(capsys, "match", store, query, "--json", "--phash-threshold", str(t))
        assert {m["id"] for m in json.loads(out)["matches"]} == {i for i, d in every.items() if d <= t}


def _query_set(folder):
    """JPEGs small and large (drafted differently for PDQ and pHash), grey, EXIF-rotated, 64x64,
    a PNG and a CMYK JPEG: every decode path a query can take."""
    qdir = folder / "hashpath"
    qdir.mkdir()
    Image.fromarray(photo_like(1700, 2100, 11)).save(qdir / "large.jpg", quality=85)
    Image.fromarray(photo_like(1100, 900, 12)).save(qdir / "mid.jpg", quality=70)
    Image.fromarray(photo(13)).save(qdir / "small.jpg", quality=60)
    Image.fromarray(photo(14)).convert("L").save(qdir / "grey.jpg", quality=80)
    Image.fromarray(photo(15)).convert("CMYK").save(qdir / "cmyk.jpg", quality=80)
    Image.fromarray(photo(16)).resize((64, 64)).save(qdir / "tiny64.png")
    Image.fromarray(photo(17)).save(qdir / "plain.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: both paths must apply it
    Image.fromarray(photo(18)).save(qdir / "rotated.jpg", quality=75, exif=exif)
    return qdir


@pytest.mark.parametrize("mode", ["robust", "fast"])
@pytest.mark.parametrize("exact", [False, True])
def test_hash_equals_the_query_hash_match_reports(folder, capsys, mode, exact):
    qdir = _query_set(folder)
    store = folder / "s.db"
    assert run(capsys, "add", store, folder / "reported", "--algo", "both")[0] == 0
    flags = ["--exact"] if exact else []
    hashed = {}
    for algo in ("pdq", "phash"):
        code, out, _ = run(capsys, "hash", qdir, "--algo", algo, "--format", "jsonl", *flags)
        assert code == 0
        for line in out.splitlines():
            rec = json.loads(line)
            hashed[rec["path"], algo] = {"hex": rec["hex"], "quality": rec["quality"]}
    _, out, _ = run(capsys, "match", store, qdir, "--json", "--mode", mode, *flags)
    reported = {(rec["query"], algo): h for rec in map(json.loads, out.splitlines())
                for algo, h in rec["query_hash"].items()}
    assert len(hashed) == 2 * 8
    assert reported == hashed
