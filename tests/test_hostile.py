"""Hostile input, second round (issue 9): what the budgets refuse, special files, extreme shapes, API edges.

Every input is made here or by tests/badinputs.py. Oracles: the cost formula of
``loading.DEFAULT_MAX_BYTES``'s documentation computed independently, an independent JPEG
segment walker (``badinputs.jpeg_segments``) for the scan count, numpy's own arithmetic for the
striped conversions, and the images themselves (an image must match itself at distance 0).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest
from PIL import Image, ImageFile

import badinputs as bad
import photomatch
from photomatch import Hash, HashIndex, Matcher, loading
from photomatch._fileio import NotRegularFileError, open_regular
from photomatch.cli import main
from photomatch.errors import DecodeError, HashFormatError, ImageTooLargeError, IndexFileError
from photomatch.hashlists import read_hash_list


def _encoded(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


# --- item 2: decoding cost --------------------------------------------------------------------


@pytest.mark.parametrize("scans", [1, 10, 40, 101])
def test_scan_count_agrees_with_an_independent_walker(scans):
    data = (_encoded(Image.new("RGB", (48, 40), "teal"), "JPEG") if scans == 1
            else bad.jpeg_scan_bomb(48, 40, scans))
    expected = sum(1 for m, _, _ in bad.jpeg_segments(data) if m == 0xDA)
    assert expected == scans
    assert loading.jpeg_scan_count(io.BytesIO(data)) == expected


def test_scan_count_skips_markers_inside_other_segments_and_restart_intervals():
    # An APP2 segment holding a whole JPEG (its SOS is segment payload, not a scan, as in an
    # EXIF thumbnail) and restart markers inside the entropy-coded data of a progressive file.
    thumb = _encoded(Image.new("RGB", (16, 16), "red"), "JPEG")
    rng = np.random.default_rng(3)
    im = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    main = _encoded(im, "JPEG", progressive=True, restart_marker_blocks=1)
    data = main[:2] + b"\xff\xe2" + (len(thumb) + 2).to_bytes(2, "big") + thumb + main[2:]
    assert loading.load_rgb(data).shape == (64, 64, 3)
    expected = sum(1 for m, _, _ in bad.jpeg_segments(data) if m == 0xDA)
    assert expected == sum(1 for m, _, _ in bad.jpeg_segments(main) if m == 0xDA) > 1
    assert any(0xD0 <= main[i + 1] <= 0xD7 for i in range(len(main) - 1) if main[i] == 0xFF)  # restarts present
    assert loading.jpeg_scan_count(io.BytesIO(data)) == expected


def test_scan_bomb_is_refused_from_the_markers_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.jpg"
    path.write_bytes(bad.jpeg_scan_bomb(64, 64, loading.MAX_JPEG_SCANS + 1))

    def no_decoding(self):
        raise AssertionError("decoded a file that should have been refused from its markers")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for verb in (photomatch.pdq, photomatch.phash, loading.load_rgb):
        with pytest.raises(ImageTooLargeError, match=f"bomb.jpg: .*{loading.MAX_JPEG_SCANS} scans .*MAX_JPEG_SCANS"):
            verb(path)


def test_scan_limit_is_inclusive():
    data = bad.jpeg_scan_bomb(64, 64, loading.MAX_JPEG_SCANS)
    assert loading.load_rgb(data).shape == (64, 64, 3)


def _cost(width: int, height: int, stored_bytes: int) -> int:
    """The documented working set: decoded pixels at their stored depth, the uint8 RGB result and
    256 bytes of scratch per row and column."""
    return width * height * (stored_bytes + 3) + 256 * (width + height)


@pytest.mark.parametrize(("mode", "stored"), [("I;16", 2), ("F", 4), ("RGB", 4), ("L", 1), ("RGBA", 4)])
def test_decode_budget_is_checked_from_the_header(tmp_path, mode, stored, monkeypatch):
    w, h = 300, 200
    fmt, arr = ("TIFF", np.full((h, w), 1000.0, np.float32)) if mode == "F" else ("PNG", None)
    im = Image.fromarray(arr, "F") if arr is not None else Image.new(mode, (w, h))
    path = tmp_path / f"deep.{fmt.lower()}"
    im.save(path, fmt)
    need = _cost(w, h, stored)
    assert loading.load_rgb(path, max_bytes=need).shape == (h, w, 3)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded past the budget"))
    with pytest.raises(ImageTooLargeError, match=rf"deep\.{fmt.lower()}: .*needs {need} bytes.*limit of {need - 1} \(max_bytes\)"):
        loading.load_rgb(path, max_bytes=need - 1)


def test_progressive_jpeg_budget_counts_full_size_coefficients(tmp_path):
    # A progressive JPEG keeps every coefficient of the full-size image, whatever the draft scale:
    # 4:2:0 subsampling -> Y at full size, Cb and Cr at a quarter, 2 bytes each.
    w, h = 512, 384
    path = tmp_path / "prog.jpg"
    Image.new("RGB", (w, h), "navy").save(path, "JPEG", progressive=True, subsampling=2)
    coefficients = 2 * (w * h + 2 * (w // 2) * (h // 2))
    draft = 64  # decoded at 1/4: 128 x 96 luma
    need = _cost(128, 96, 1) + coefficients
    assert loading.load_pixels(path, luma=True, draft_min_side=draft, max_bytes=need).array.shape == (96, 128)
    with pytest.raises(ImageTooLargeError, match="max_bytes"):
        loading.load_pixels(path, luma=True, draft_min_side=draft, max_bytes=need - 1)


def test_an_extreme_aspect_ratio_is_refused_for_its_scratch(tmp_path):
    # 1 x 3,200,000: only 9.6 MB of pixels, but hashing it needs scratch for every column.
    path = tmp_path / "long.png"
    Image.new("RGB", (3_200_000, 1)).save(path)
    with pytest.raises(ImageTooLargeError, match=f"long.png: .*needs {_cost(3_200_000, 1, 4)} bytes"):
        photomatch.pdq(path)
    assert loading.load_rgb(path, max_bytes=None).shape == (1, 3_200_000, 3)  # the budget, not the decoder, refused


def test_deep_conversions_run_in_stripes_and_match_numpy(monkeypatch):
    monkeypatch.setattr(loading, "_STRIPE_BYTES", 4096)  # a stripe of a few rows
    rng = np.random.default_rng(9)
    deep = rng.integers(0, 65536, (157, 91), dtype=np.uint16)
    rgb = loading.load_rgb(_encoded(Image.fromarray(deep), "PNG"))
    assert np.array_equal(rgb[..., 0], (deep >> 8).astype(np.uint8)) and np.array_equal(rgb[..., 0], rgb[..., 2])
    # Float in [0, 1] except one row: the peak found in a later stripe decides the scaling of every stripe.
    floats = rng.random((157, 91), dtype=np.float32)
    floats[140, 3] = 1.5
    got = loading.load_rgb(_encoded(Image.fromarray(floats, "F"), "TIFF"))[..., 0]
    assert np.array_equal(got, np.rint(np.clip(floats.astype(np.float64), 0, 255)).astype(np.uint8))
    floats[140, 3] = 0.75
    got = loading.load_rgb(_encoded(Image.fromarray(floats, "F"), "TIFF"))[..., 0]
    assert np.array_equal(got, np.rint(floats.astype(np.float64) * 255).astype(np.uint8))


def test_exif_orientation_on_arrays_equals_pillows(tmp_path):
    rng = np.random.default_rng(4)
    im = Image.fromarray(rng.integers(0, 256, (23, 37, 3), dtype=np.uint8))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = _encoded(im, "PNG", exif=exif)
        oracle = np.asarray(ImageOps_exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
        assert np.array_equal(loading.load_rgb(data), oracle), orientation


def ImageOps_exif_transpose(im: Image.Image) -> Image.Image:  # noqa: N802 (Pillow's own, named as such)
    from PIL import ImageOps

    return ImageOps.exif_transpose(im)


def test_decodes_in_flight_share_one_budget():
    budget = loading._Reservations(100)
    inside, peak, lock = [0], [0], threading.Lock()

    def decode(nbytes: int) -> None:
        with budget.hold(nbytes):
            with lock:
                inside[0] += nbytes
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= nbytes

    threads = [threading.Thread(target=decode, args=(n,)) for n in (60, 60, 60, 30, 150)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads)
    assert peak[0] <= 150  # never two 60s at once, the lone 150 ran by itself
    assert budget._held == 0


# --- item 3: special files ---------------------------------------------------------------------


def test_open_regular_checks_the_descriptor(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match="FIFO"):
        open_regular(str(fifo))  # returns at once: the open is non-blocking
    with pytest.raises(NotRegularFileError, match="device"):
        open_regular("/dev/zero")
    with pytest.raises(NotRegularFileError, match="directory"):
        open_regular(str(tmp_path))
    sock_path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(OSError):  # a socket cannot even be opened; never read
            open_regular(str(sock_path))
    real = tmp_path / "real"
    real.write_bytes(b"12345")
    link = tmp_path / "link"
    link.symlink_to(real)
    with open_regular(str(link)) as f:
        assert f.read() == b"12345"
    with pytest.raises(NotRegularFileError, match="symbolic link"):
        open_regular(str(link), follow_symlinks=False)
    with pytest.raises(NotRegularFileError, match="limit of 4"):
        open_regular(str(real), max_bytes=4)


def test_index_cache_replaced_by_special_files(tmp_path):
    index = HashIndex(64)
    index.add(np.arange(16, dtype=np.uint8).reshape(2, 8))
    good = tmp_path / "good.index"
    index.save(good)
    fifo = tmp_path / "fifo.index"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.index"
    zero.symlink_to("/dev/zero")
    linked = tmp_path / "linked.index"
    linked.symlink_to(good)  # even a link to a good index: where we keep a file, a link was planted
    for path, why in ((fifo, "FIFO"), (zero, "symbolic link"), (linked, "symbolic link")):
        with pytest.raises(IndexFileError, match=why):
            HashIndex.load(path)
    # a header promising 2**40 entries is refused from the file's size, before any read
    data = bytearray(good.read_bytes())
    data[16:24] = (2**40).to_bytes(8, "little")  # header: magic 8, version 4, bits 4, n 8, next id 8
    liar = tmp_path / "liar.index"
    liar.write_bytes(bytes(data))
    tracemalloc.start()
    with pytest.raises(IndexFileError, match="does not match"):
        HashIndex.load(liar)
    assert tracemalloc.get_traced_memory()[1] < 1 << 20
    tracemalloc.stop()


@pytest.mark.parametrize("plant", ["fifo", "dev_zero"])
def test_store_matches_with_its_cache_replaced(tmp_path, plant):
    path = tmp_path / "s.db"
    photo = bad.noise_rgb(64, 80, seed=5)
    with Matcher(path) as m:
        [item] = m.add([photo])
        m.match(photo)  # writes the cache
    cache = tmp_path / "s.db.pdq.index"
    assert cache.exists()
    cache.unlink()
    if plant == "fifo":
        os.mkfifo(cache)
    else:
        cache.symlink_to("/dev/zero")
    with Matcher(path, create=False) as m:
        assert [x.id for x in m.match(photo, mode="fast")] == [item]


def test_batch_goes_past_special_files_without_blocking(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    Image.fromarray(bad.noise_rgb(40, 50, seed=1)).save(folder / "ok.png")
    with Matcher(tmp_path / "s.db") as m:
        results = {os.path.basename(r.source): r for r in m.add_many([str(p) for p in sorted(folder.iterdir())],
                                                                          workers=1)}
    assert results["ok.png"].ok
    assert "FIFO" in str(results["pipe.jpg"].error) and "device" in str(results["zero.jpg"].error)


# --- item 4: extreme shapes -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 500), (500, 1), (2, 700), (3, 1100), (40, 14000), (14000, 40)])
def test_extreme_shapes_match_in_every_mode(tmp_path, shape):
    rng = np.random.default_rng(sum(shape))
    thin = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    # a normal image with features, so that the store has a feature stage to skip or adapt
    ordinary = np.asarray(Image.fromarray(bad.noise_rgb(12, 16, seed=2)).resize((160, 120), Image.Resampling.BICUBIC))
    path = tmp_path / "thin.png"
    Image.fromarray(thin).save(path)
    with Matcher(tmp_path / "s.db") as m:
        m.add([ordinary], features=True)
        [added] = list(m.add_many([str(path)], features=True, workers=1))
        assert added.ok
        too_thin = min(shape) < 32
        assert bool(added.notes) == too_thin and all("local features skipped" in n for n in added.notes)
        for mode in ("robust", "fast"):
            [r] = list(m.match_many([str(path)], mode=mode, workers=1))
            assert r.ok and added.id in [x.id for x in r.matches if x.distance == 0], mode
            assert bool(r.notes) == (too_thin and mode == "robust")


def test_cli_reports_a_skipped_feature_stage(tmp_path, capsys):
    path = tmp_path / "banner.png"
    Image.fromarray(bad.noise_rgb(1, 600, seed=3)).save(path)
    store = tmp_path / "s.db"
    assert main(["add", str(store), str(path), "--features"]) == 0
    err = capsys.readouterr().err
    assert "banner.png: local features skipped" in err and "added 1" in err


# --- item 9: API edges ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 5, 3), (5, 0), (0, 0)])
def test_empty_arrays_are_refused(shape):
    arr = np.zeros(shape, np.uint8)
    for verb in (photomatch.pdq, photomatch.phash, photomatch.pdq_dihedral):
        with pytest.raises(DecodeError, match="zero width or height"):
            verb(arr)


@pytest.mark.parametrize("shape", [(100, 100, 3), (100, 100), (100, 100, 4)])
def test_arrays_meet_max_pixels(shape):
    arr = np.zeros(shape, np.uint8)
    for verb in (photomatch.pdq, photomatch.phash, photomatch.pdq_dihedral):
        with pytest.raises(ImageTooLargeError, match="10000 pixels, above the limit of 9999"):
            verb(arr, max_pixels=9999)
        verb(arr, max_pixels=10000)


def test_search_clamps_k_to_the_index_size():
    index = HashIndex(256)
    index.add(np.random.default_rng(0).integers(0, 256, (3, 32), dtype=np.uint8))
    tracemalloc.start()
    d, i = index.search(np.zeros(32, np.uint8), k=10**8)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert d.shape == i.shape == (1, 3) and sorted(i[0].tolist()) == [0, 1, 2]
    assert peak < 64 << 20  # 10**8 columns of distances and ids would be 1.2 GB
    assert HashIndex(64).search(np.zeros(8, np.uint8), k=5)[0].shape == (1, 0)


def test_automatic_ids_do_not_overflow():
    index = HashIndex(64)
    index.add(np.zeros(8, np.uint8), ids=[2**63 - 1])
    with pytest.raises(OverflowError, match="no automatic ids left"):
        index.add(np.ones(8, np.uint8))
    assert len(index) == 1
    index.add(np.ones(8, np.uint8), ids=[5])  # explicit ids still work
    assert len(index) == 2


def test_quality_must_be_an_int_not_a_bool():
    with pytest.raises(HashFormatError, match="quality"):
        Hash.from_hex("ab" * 32, quality=True)
    with pytest.raises(HashFormatError, match="quality"):
        Hash("pdq", b"\0" * 32, False)
    assert Hash.from_hex("ab" * 32, quality=1).quality == 1


@pytest.mark.parametrize("region", ["[1, 2, 3, 4, 5]", "[1, 2, 3]", '"1,2,3,4"', '{"x": 1}', "7"])
def test_jsonl_region_of_the_wrong_shape_is_a_bad_line(region):
    line = '{"hash": "%s", "region": %s}\n' % ("ab" * 32, region)
    with pytest.raises(HashFormatError, match="line 1: region"):
        read_hash_list(io.StringIO(line), format="jsonl")
    assert read_hash_list(io.StringIO(line), format="jsonl", skip_invalid=True) == []
    ok = read_hash_list(io.StringIO('{"hash": "%s", "region": [1, 2, 3, 4]}\n' % ("ab" * 32)), format="jsonl")
    assert ok[0].region == (1.0, 2.0, 3.0, 4.0)
    assert json.loads(region) is not None


# --- items 1 and 8: names and labels from adversaries -------------------------------------------


def test_escape_is_lossless_and_leaves_nothing_a_terminal_obeys():
    from photomatch._text import escape, unescape

    rng = np.random.default_rng(11)
    alphabet = ["a", "é", "\\", "x", "\n", "\t", "\r", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\udcff",
                "\udc80", "\ud800", "\\x41", "\\u0041", "日"]
    for _ in range(500):
        s = "".join(rng.choice(alphabet, size=int(rng.integers(0, 12))))
        e = escape(s)
        assert unescape(e) == s
        e.encode("utf-8")  # valid UTF-8: no lone surrogate left
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u202e\u2066" for c in e)
    assert escape(os.fsdecode(b"a\xff.jpg")) == "a\\xff.jpg"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C.UTF-8", PYTHONIOENCODING="")
    return subprocess.run([sys.executable, "-m", "photomatch", *args], capture_output=True, env=env, timeout=300,
                          check=False)


def test_non_utf8_and_control_names_never_stop_a_batch(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    names = [b"a\xff.png", b"nl\nid=99.png", b"esc\x1b[31m.png", b"good.png"]
    for i, name in enumerate(names):
        Image.fromarray(bad.noise_rgb(12, 16, seed=20 + i)).resize((160, 120), Image.Resampling.BICUBIC).save(
            os.path.join(os.fsencode(folder), name))
    store = str(tmp_path / "s.db")
    label = os.fsdecode(b"case\xfe\n7")
    r = _cli("add", store, str(folder), "--label", label)
    assert r.returncode == 0 and b"added 4 image(s)" in r.stderr, r.stderr
    for fmt in ("text", "jsonl", "csv"):
        r = _cli("hash", str(folder), "--format", fmt)
        assert r.returncode == 0
        out = r.stdout.decode("utf-8")  # valid UTF-8 whatever the names
        if fmt == "jsonl":
            out = "\n".join(json.loads(line)["path"] for line in out.splitlines()) + "\n#header\n"
        assert "a\\xff.png" in out and "nl\\x0aid=99.png" in out and "\x1b" not in out
        assert len(out.splitlines()) == 5  # one line per file (+ header): no forged rows
    r = _cli("match", store, str(folder), "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.decode("utf-8").splitlines()]
    assert len(rows) == 4 and all(len(x["matches"]) == 1 for x in rows)
    assert {x["query"] for x in rows} >= {str(folder / "a\\xff.png"), str(folder / "nl\\x0aid=99.png")}
    assert all("\n" not in x["matches"][0]["label"] for x in rows)
    r = _cli("match", store, str(folder))
    out = r.stdout.decode("utf-8")
    assert r.returncode == 0 and len(out.splitlines()) == 4 and "\x1b" not in out + r.stderr.decode("utf-8")
    r = _cli("dedup", str(folder), "--threshold", "0")
    assert r.returncode in (0, 1) and b"Traceback" not in r.stderr


def test_names_made_of_dots_are_walked_by_their_extension(tmp_path):
    # atheris (fuzz/fuzz_names_scans.py) found "..........png" missing from a folder walk:
    # os.path.splitext counts leading dots as part of the stem, so the name had no extension.
    from photomatch.files import extension, iter_image_paths

    names = ["...png", ".jpg", "..x.JPEG", "a.b.webp", "noext", ".", "..mp4"]
    assert [extension(n) for n in names] == [".png", ".jpg", ".jpeg", ".webp", "", ".", ".mp4"]
    for name in names[:5]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "..mp4").write_bytes(b"")
    found = sorted(os.path.basename(p) for p in iter_image_paths([tmp_path]))
    assert found == sorted(["...png", ".jpg", "..x.JPEG", "a.b.webp"])
    assert "..mp4" in [os.path.basename(p) for p in iter_image_paths([tmp_path], videos=True)]


def test_import_of_a_missing_file_a_fifo_or_a_folder_is_one_line(tmp_path):
    # import first looks whether the file is a vPDQ hash: that look read the whole file with a
    # plain open (a FIFO hung it, a missing file gave a traceback, a long list was held whole).
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "folder.csv").mkdir()
    for name, why in (("missing.csv", "No such file"), ("fifo.csv", "FIFO"), ("folder.csv", "directory")):
        r = _cli("import", str(tmp_path / "s.db"), str(tmp_path / name))
        err = r.stderr.decode()
        assert r.returncode == 2 and why in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert not (tmp_path / "s.db").exists()  # no empty store left behind


def test_csv_export_neutralises_formulas_and_imports_them_back(tmp_path):
    store = tmp_path / "s.db"
    labels = ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "'quoted", "\tTab", "plain"]
    with Matcher(store) as m:
        for i, label in enumerate(labels):
            m.add_hashes([f"{i:02x}" * 32], label=label)
    out = tmp_path / "list.csv"
    assert main(["export", str(store), "-o", str(out)]) == 0
    import csv

    cells = [row[4] for row in csv.reader(io.StringIO(out.read_text(), newline=""))][1:]
    assert cells == ["'" + x for x in labels[:-1]] + ["plain"]  # no cell starts a formula
    back = read_hash_list(out)
    assert [r.label for r in back] == labels  # read back unchanged


def test_a_label_is_refused_on_the_way_in_when_too_long_for_a_list(tmp_path):
    from photomatch.store import MAX_TEXT

    with Matcher(tmp_path / "s.db") as m:
        with pytest.raises(ValueError, match="label has 16385 characters, above the limit of 16384"):
            m.add_hashes(["ab" * 32], label="x" * (MAX_TEXT + 1))
        m.add_hashes(["ab" * 32], label="\udcff" * MAX_TEXT)  # escaped to 4 x MAX_TEXT: still within CSV's field limit
    out = tmp_path / "list.csv"
    assert main(["export", str(tmp_path / "s.db"), "-o", str(out)]) == 0
    assert read_hash_list(out)[0].label == "\\xff" * MAX_TEXT


# --- item 7: stores ----------------------------------------------------------------------------


def test_remove_with_ids_beyond_int64_removes_the_valid_ones(tmp_path, capsys):
    store = tmp_path / "s.db"
    with Matcher(store) as m:
        [a, b] = m.add_hashes(["ab" * 32, "cd" * 32])
    assert main(["remove", str(store), str(a), str(2**63), str(2**70)]) == 1  # not every id existed
    assert "removed 1 of 3" in capsys.readouterr().err
    with Matcher(store, create=False) as m:
        assert len(m) == 1 and m.store.get_item(b) is not None


def test_a_planted_shm_link_is_never_followed(tmp_path):
    store = tmp_path / "s.db"
    with Matcher(store) as m:
        m.add_hashes(["ab" * 32])
    target = tmp_path / "victim"
    target.write_bytes(b"x")
    target.chmod(0o644)
    shm = tmp_path / "s.db-shm"
    if shm.exists() or shm.is_symlink():
        shm.unlink()
    shm.symlink_to(target)
    try:
        with Matcher(store, create=False) as m:
            m.match_hash(Hash.from_hex("ab" * 32))
    except photomatch.PhotomatchError:
        pass  # SQLite refuses the link itself ("unable to open"); what matters is the target's mode
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_removed_hash_is_overwritten_in_the_database(tmp_path):
    store = tmp_path / "s.db"
    secret = bytes(range(7, 7 + 32))
    with photomatch.Store(store) as s:
        assert s._connection().execute("PRAGMA secure_delete").fetchone()[0] == 1
        keep = s.add_item([("pdq", bytes(32), 100)])
        gone = s.add_item([("pdq", secret, 100)])
        s.remove([gone])
        assert s.get_item(keep) is not None
    # Closed: every file beside the store, searched byte by byte, no longer holds the hash.
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert files and not any(secret in p.read_bytes() for p in files)
