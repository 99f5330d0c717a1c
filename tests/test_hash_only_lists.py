"""Region hash lists a reporter running photomatch can share (``photomatch hash --regions``).

The list stays a plain list of PDQ hashes with an item id on each row: ``import`` groups the
rows of one id into one item, and a copy that only a region hash reaches (a framed photo) is
found in the imported store exactly as in a store photomatch built itself.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import numpy as np
from PIL import Image
from skimage import data

import photomatch
from photomatch.hashing import region_hashes


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "photomatch", *args], capture_output=True, text=True, timeout=300)


def test_hash_regions_lists_what_add_stores_and_imports_back(tmp_path):
    framed = np.full((520, 700, 3), 255, np.uint8)  # a reported picture that has a white frame
    framed[60:460, 50:650] = data.coffee()
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(framed).save(a)
    Image.fromarray(data.astronaut()).save(b)

    out = run("hash", "--regions", "--format", "csv", str(a), str(b))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    expected = [(str(n), r.region_kind, r.hash.hex) for n, p in ((1, a), (2, b)) for r in region_hashes(str(p))]
    assert [(r["id"], r["kind"], r["hex"]) for r in rows] == expected
    assert {r["kind"] for r in rows if r["id"] == "1"} >= {"whole", "trim"}  # the frame was trimmed

    listed = tmp_path / "list.csv"
    listed.write_text(out.stdout)
    store = os.fspath(tmp_path / "partner.db")
    assert run("import", store, str(listed)).returncode == 0
    with photomatch.Matcher(store) as m:
        assert len(m) == 2  # one item per id, whatever its number of rows
        # The coffee photo without its frame matches only the list's trimmed region hash.
        [match] = m.match(data.coffee(), mode="fast")
        assert match.source == str(a)
        assert m.match(data.chelsea()) == []


def test_hash_regions_reports_bad_files_and_goes_on(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(data.rocket()).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    out = run("hash", "--regions", str(bad), str(good))
    assert out.returncode == 2
    assert "bad.jpg" in out.stderr
    assert str(good) in out.stdout
