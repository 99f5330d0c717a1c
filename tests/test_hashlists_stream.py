"""Hash lists read as a stream: the column-at-a-time fast path gives exactly what the
line-by-line check gives, whatever the block and chunk boundaries, and an import stays one
transaction however many blocks it spans.

The oracle is the line-by-line parser (``_record``), reached by switching the fast path off.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

from photomatch import hashlists
from photomatch.errors import HashFormatError
from photomatch.hashlists import export_hash_list, import_hash_list, read_hash_list
from photomatch.store import ItemColumns, Store


def _hex(rng: np.random.Generator, n: int) -> str:
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes().hex()


# Cells that the fast path must accept, and cells that must send a block to the line-by-line
# check (which either reads them the same way or names the bad line).
_QUALITY = ["100", "0", "7", "", "007", " 5", "101", "1e2", "-1", "\u0661"]
_LABEL = ["", "plain", "'=cmd", "a,b", 'quo"te', "back\\x41slash", "line\nbreak", "tab\tx", "é"]
_ID = ["", "1", "1", "2", "x y", "3"]


def _random_list(rng: np.random.Generator, rows: int, *, header: str | None, bad: bool, sep: str = ",") -> str:
    out = []
    if header:
        out.append(header)
    for _ in range(rows):
        kind = rng.integers(0, 20)
        h = _hex(rng, 32) if kind else _hex(rng, 8)
        if kind == 1:
            h = h.upper()
        if bad and kind == 2:
            h = h[:-1] + "g"
        if bad and kind == 3:
            h = " " + h
        q = _QUALITY[rng.integers(0, len(_QUALITY) if bad else 4)]
        if header is None:
            out.append(h + (sep + q if rng.integers(0, 2) else ""))
            continue
        label = _LABEL[rng.integers(0, len(_LABEL))]
        ident = _ID[rng.integers(0, len(_ID))]
        algo = {0: "phash", 1: "", 2: "PDQ"}.get(int(kind), "pdq") if kind else "phash"
        cells = [algo, h, q, ident, label, f"dir/{ident}.jpg"]
        if sep == ",":
            out.append(",".join('"' + c.replace('"', '""') + '"' if set(c) & set(',"\n\'') else c for c in cells))
        else:
            out.append("\t".join(hashlists._escape(c) for c in cells))
    return "\n".join(out) + "\n"


def _read(text: str, *, fast: bool, skip: bool, monkeypatch: pytest.MonkeyPatch, fmt: str | None = None):
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(hashlists, "_fast_rows", lambda *a, **k: None)
        skipped: list = []
        try:
            records = read_hash_list(io.StringIO(text), skip_invalid=skip, format=fmt, on_skip=skipped.append)
        except HashFormatError as exc:
            return ("error", str(exc))
        return ([(r, r.line) for r in records], skipped)


@pytest.mark.parametrize("header", [None, "algo,hex,quality,id,label,source", "#algo\thex\tquality\tid\tlabel\tsource"])
@pytest.mark.parametrize("bad", [False, True])
def test_fast_path_reads_what_the_line_by_line_check_reads(header, bad, monkeypatch) -> None:
    rng = np.random.default_rng(abs(hash((header, bad))) % 2**32)
    sep = "\t" if header and header.startswith("#") else ","
    monkeypatch.setattr(hashlists, "_BLOCK", 7)  # many blocks, some clean, some not
    for trial in range(20):
        text = _random_list(rng, int(rng.integers(1, 60)), header=header, bad=bad, sep=sep)
        fmt = "tsv" if sep == "\t" else "csv"
        for skip in (False, True):
            fast = _read(text, fast=True, skip=skip, monkeypatch=monkeypatch, fmt=fmt)
            slow = _read(text, fast=False, skip=skip, monkeypatch=monkeypatch, fmt=fmt)
            assert fast == slow, (trial, skip)


def test_the_fast_path_is_taken_for_common_lists(monkeypatch) -> None:
    calls = []
    real = hashlists._fast_rows

    def spy(*a, **k):
        calls.append(real(*a, **k) is not None)
        return real(*a, **k)

    monkeypatch.setattr(hashlists, "_fast_rows", spy)
    rng = np.random.default_rng(3)
    read_hash_list(io.StringIO("".join(f"{_hex(rng, 32)},{i % 101}\n" for i in range(50))))
    read_hash_list(io.StringIO("algo,hex,quality,id,label,source\n" + "".join(
        f"pdq,{_hex(rng, 32)},90,{i // 2},lab,s{i}.jpg\n" for i in range(50))))
    assert calls == [True, True]


@pytest.mark.parametrize("chunk", [16, 50, 1 << 22])
def test_chunk_boundaries_change_nothing(chunk, monkeypatch, tmp_path) -> None:
    rng = np.random.default_rng(5)
    body = "".join(f'pdq,{_hex(rng, 32)},{i % 101},{i},"multi\r\nline, {i}",s{i}.jpg\r\n' for i in range(40))
    path = tmp_path / "l.csv"
    path.write_bytes(("\ufeffalgo,hex,quality,id,label,source\r\n" + body).encode())
    expected = read_hash_list(path)
    monkeypatch.setattr(hashlists, "_CHUNK", chunk)
    got = read_hash_list(path)
    assert got == expected and [r.line for r in got] == [r.line for r in expected]
    assert got[3].label == "multi\r\nline, 3" and got[39].line == 3 + 39 * 2  # the line a record ends on
    # a byte that is not UTF-8 on line 30 is named there, whatever the chunk
    raw = path.read_bytes().split(b"\r\n")
    raw[29] = raw[29] + b"\xff"
    path.write_bytes(b"\r\n".join(raw))
    with pytest.raises(HashFormatError, match=r"line 30: not UTF-8"):
        read_hash_list(path)


def test_a_line_longer_than_the_limit_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(hashlists, "_CHUNK", 64)
    monkeypatch.setattr(hashlists, "MAX_LINE", 64)
    with pytest.raises(HashFormatError, match=r"line 2: a line longer than 64"):
        read_hash_list(io.BytesIO(b"a" * 64 + b"\n" + b"b" * 300))


def test_ids_run_across_blocks_into_one_item(monkeypatch, tmp_path) -> None:
    rng = np.random.default_rng(9)
    rows = []
    for item in range(12):  # item i has i % 4 + 1 hashes, then one row without an id
        rows += [f"pdq,{_hex(rng, 32)},{50 + item},{item},L{item},s{item}" for _ in range(item % 4 + 1)]
        rows.append(f"phash,{_hex(rng, 8)},,,,")
    text = "algo,hex,quality,id,label,source\n" + "\n".join(rows) + "\n"
    shapes = []
    for block in (3, 5, 6, 7, 8192):
        monkeypatch.setattr(hashlists, "_BLOCK", block)
        with Store(tmp_path / f"s{block}.db") as store:
            assert import_hash_list(store, io.StringIO(text)) == (len(rows), [])
            shapes.append([(it.label, [(h.algorithm, h.bits, h.quality) for h in it.hashes]) for it in store.items()])
    assert all(s == shapes[-1] for s in shapes[1:])
    # an id run longer than a block may be cut into two items; no row is lost
    assert sorted(h for _, hs in shapes[0] for h in hs) == sorted(h for _, hs in shapes[-1] for h in hs)
    assert len(shapes[0]) > len(shapes[-1])
    assert [len(h) for _, h in shapes[-1]] == list(itertools.chain.from_iterable((i % 4 + 1, 1) for i in range(12)))


def test_a_bad_line_after_many_blocks_leaves_the_store_unchanged(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(hashlists, "_BLOCK", 16)
    rng = np.random.default_rng(1)
    good = "".join(f"{_hex(rng, 32)},100\n" for _ in range(500))
    with Store(tmp_path / "s.db") as store:
        store.add_item([("pdq", bytes(32), 100)], label="before")
        with pytest.raises(HashFormatError, match="line 501"):
            import_hash_list(store, io.StringIO(good + "zz\n"))
        assert [it.label for it in store.items()] == ["before"]
        n, skipped = import_hash_list(store, io.StringIO(good + "zz\n"), skip_invalid=True)
        assert (n, [s.line for s in skipped]) == (500, [501]) and store.count() == 501


def test_export_streams_every_item_back(tmp_path) -> None:
    rng = np.random.default_rng(4)
    with Store(tmp_path / "a.db") as a:
        a.add_items([{"hashes": [("pdq", rng.integers(0, 256, 32, dtype=np.uint8), 90)], "label": f"x{i}"}
                     for i in range(1200)])  # more than one page of Store.items()
        out = io.StringIO()
        assert export_hash_list(a, out, format="jsonl") == 1200
    with Store(tmp_path / "b.db") as b:
        assert import_hash_list(b, io.StringIO(out.getvalue()), format="jsonl") == (1200, [])
        assert [it.label for it in b.items()] == [f"x{i}" for i in range(1200)]


def test_item_columns_are_checked_as_add_items_checks_them(tmp_path) -> None:
    def cols(**change):
        base = {"labels": ["a"], "sources": [None], "notes": [None], "item_of": [0], "algorithms": ["pdq"],
                "bits": [bytes(32)], "qualities": [100], "regions": [None], "kinds": ["whole"]}
        base.update(change)
        return ItemColumns(**base)

    with Store(tmp_path / "s.db") as store:
        for bad, err in [({"bits": [bytes(31)]}, ValueError), ({"qualities": [101]}, ValueError),
                         ({"qualities": [True]}, ValueError), ({"algorithms": ["md5"]}, ValueError),
                         ({"labels": ["x" * 20000]}, ValueError), ({"regions": [(0, 0, -1, 2)]}, ValueError),
                         ({"item_of": [1]}, ValueError), ({"labels": [3]}, TypeError), ({"kinds": [""]}, ValueError)]:
            with pytest.raises(err):
                store.add_item_columns([cols(), cols(**bad)])
            assert store.count() == 0  # the good block before it was rolled back too
        assert store.add_item_columns([cols(labels=["\udcff"])]) == 1
        [item] = store.items()
        assert item.label == "\\xff"  # a lone surrogate (a non-UTF-8 name) is stored in the escaped form
