"""Batch commands over a folder of hostile files: each bad file is named on stderr, the rest go on.

The corpus is tests/badinputs.py's (empty, truncated, corrupt, bombs, a text file and a folder
named .jpg, symbolic link loops, a dangling link, huge and tiny valid images, ...), plus a
directory symlink pointing back at the scanned folder. Oracles: the corpus's own list of cases
and their expected cause keywords; the hashes the library computes for each valid file alone
(``hash_file``), which the batch must reproduce; and the process exit code documented in cli.py
(2 when any input failed). Also the regression tests of the fuzzing findings in hashlists.py
(fuzz/fuzz_hashlist.py found them; each input here is the minimised reproducer).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import badinputs
from photomatch.algorithms import ALGORITHMS
from photomatch.cli import build_parser, main
from photomatch.errors import HashFormatError
from photomatch.hashing import hash_file
from photomatch.hashlists import read_hash_list


bad = badinputs  # the bad-input corpus (tests/badinputs.py; tests/ is on sys.path)


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """scan/bad: the whole bad-input corpus; scan/good: two ordinary photos; scan/bad/loop_dir -> scan/bad."""
    root = tmp_path_factory.mktemp("scan")
    (root / "bad").mkdir()
    cases = bad.make_bad_inputs(root / "bad")
    (root / "good").mkdir()
    rng = np.random.default_rng(7)
    for i, name in enumerate(["a.png", "b.jpg"]):
        small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((240 + 10 * i, 180), Image.Resampling.BICUBIC).save(root / "good" / name)
    yield root, cases
    for c in cases:  # let pytest delete the folder
        if c.path.name == bad.UNREADABLE_NAME:
            c.path.chmod(0o600)


def _expected(root: Path, cases: list) -> tuple[set[str], dict[str, str]]:
    """(paths that must be hashed, {path: cause keyword} that must be reported) for a walk of ``root``.

    A directory named folder.jpg inside a scanned folder is walked like any folder (it is empty),
    so it is not an error there; every other error case is a file the walk finds.
    """
    good = {str(p) for p in (root / "good").iterdir()} | {str(c.path) for c in cases if c.valid}
    errors = {str(c.path): c.cause for c in cases if not c.valid and c.path.name != "folder.jpg"}
    return good, errors


def _check_stderr(err: str, errors: dict[str, str]) -> None:
    assert "Traceback" not in err
    lines = err.splitlines()
    for path, cause in errors.items():
        mine = [line for line in lines if path + ":" in line]
        assert len(mine) == 1, f"{path} reported {len(mine)} times in:\n{err}"
        assert cause in mine[0].lower(), f"{path}: expected {cause!r} in {mine[0]!r}"


@pytest.mark.parametrize("workers", [1, 2])
def test_hash_reports_every_bad_file_and_hashes_the_rest(scan, capsys, workers):
    root, cases = scan
    good, errors = _expected(root, cases)
    code = main(["hash", str(root), "--format", "jsonl", "--workers", str(workers)])
    out, err = capsys.readouterr()
    assert code == 2
    _check_stderr(err, errors)
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["path"] for r in rows} == good
    for r in rows:  # the batch gives what each file gives alone
        h = hash_file(r["path"])
        assert (r["algo"], r["hex"], r["quality"]) == ("pdq", h.hex, h.quality)


def test_hash_each_bad_file_named_explicitly(scan, capsys):
    root, cases = scan
    named = [c for c in cases if c.path.name != "folder.jpg"]  # a named folder is walked, not an error
    code = main(["hash", "--algo", "phash", "--workers", "2", *[str(c.path) for c in named]])
    out, err = capsys.readouterr()
    assert code == 2
    causes = {str(c.path): c.cause for c in named}
    _check_stderr(err, {p: causes[p] for p in causes if not bad.BadInput(Path(p), causes[p]).valid
                        and Path(p).name not in LOOPS})
    for name in LOOPS:  # reported once, by name; the cause is checked below
        assert sum(f"{name}:" in line for line in err.splitlines()) == 1
    printed = [line.split("\t")[0] for line in out.splitlines() if not line.startswith("#")]
    assert printed == [str(c.path) for c in named if c.valid]  # in the order given


LOOPS = ("loop_a.jpg",)  # loop_b.jpg is its partner, not a listed case


def test_symlink_loop_named_explicitly_says_loop(scan, capsys):
    root, cases = scan
    loops = [c for c in cases if c.path.name in LOOPS]
    assert main(["hash", *[str(c.path) for c in loops]]) == 2
    _check_stderr(capsys.readouterr().err, {str(c.path): c.cause for c in loops})


def test_symlink_loop_in_scanned_folder_ends(scan):
    """The real entry point, in a child process with a deadline: a walk that followed loop_dir would not end."""
    root, cases = scan
    good, errors = _expected(root, cases)
    proc = subprocess.run(
        [sys.executable, "-m", "photomatch", "hash", str(root / "bad"), "--format", "csv"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    _check_stderr(proc.stderr, {p: c for p, c in errors.items() if "/good/" not in p})
    hashed = [line.split(",")[0] for line in proc.stdout.splitlines()[1:]]
    assert sorted(hashed) == sorted(p for p in good if "/good/" not in p)  # each once: loop_dir not entered
    assert not any("loop_dir" in p for p in hashed)


def _has_command(name: str) -> bool:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return name in sub.choices


@pytest.mark.skipif(not (_has_command("add") and _has_command("match")), reason="cli has no add/match command yet")
def test_match_reports_every_bad_file_and_matches_the_rest(scan, capsys, tmp_path):
    root, cases = scan
    good, errors = _expected(root, cases)
    store = tmp_path / "reports.db"
    assert main(["add", str(store), str(root / "good"), *[str(c.path) for c in cases if c.valid]]) == 0
    capsys.readouterr()
    code = main(["match", str(store), str(root), "--json", "--workers", "2"])
    out, err = capsys.readouterr()
    assert code == 2
    _check_stderr(err, errors)
    results = {r["query"]: r for r in map(json.loads, out.splitlines())}
    for path in good:  # every good file was added, so each finds itself...
        assert "error" not in results[path]
        # ...no further than its query hash (decoded as `photomatch hash` does: a JPEG's luma
        # plane) is from the exact hash stored for it (0 for every file but a JPEG)
        drift = hash_file(path) - hash_file(path, exact=True)
        if drift > ALGORITHMS["pdq"].default_threshold:
            continue  # a flat JPEG (many_scans.jpg): its PDQ bits are noise that any rounding flips
        assert any(m["source"] == path and m["distance"] <= drift for m in results[path]["matches"]), path
    for path in errors:
        if path in results:  # a query that failed may be listed, with its error
            assert results[path]["matches"] == [] and "error" in results[path]


# --- regressions found by fuzz/fuzz_hashlist.py ----------------------------------------------

PDQ = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "data",
    [
        # a 5000-digit quality: int() refuses it with a plain ValueError (Python's digit limit)
        ("hash,quality\n" + PDQ + "," + "1" * 5000 + "\n").encode(),
        ('{"hash": "' + PDQ + '", "quality": ' + "1" * 5000 + "}\n").encode(),
        # nested arrays: json raised RecursionError
        b"[" * 100_000 + b"\n",
    ],
    ids=["csv-long-quality", "jsonl-long-int", "jsonl-deep-nesting"],
)
def test_hash_list_hostile_values_are_format_errors(data):
    with pytest.raises(HashFormatError, match=r"^<stream>, line 1|^<stream>, line 2"):
        read_hash_list(io.BytesIO(data), format="jsonl" if data[:1] in b"[{" else None)


@pytest.mark.parametrize(
    "text",
    [
        "algo,hex\n" + PDQ + "," + PDQ + "\n",  # the hash landed in the algo column
        "hash,quality\n" + PDQ + "," + PDQ[:16] + "\n",  # a pHash in the quality column
        "hash,quality\n" + PDQ + ",8000000000000001\n",  # all digits: parsed as a number, then quoted
    ],
    ids=["algo", "quality-hex", "quality-digits"],
)
def test_hash_list_errors_never_quote_a_hash(text):
    with pytest.raises(HashFormatError) as info:
        read_hash_list(io.StringIO(text))
    message = str(info.value)
    assert "line 2" in message
    for k in range(len(PDQ) - 8 + 1):  # no 8-digit piece of any hash in the input
        assert PDQ[k : k + 8] not in message
    assert "80000000" not in message

