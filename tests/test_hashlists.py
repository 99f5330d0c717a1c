"""Hash lists: field formats, round trips, strict and atomic import, export privacy."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from photomatch.errors import HashFormatError
from photomatch.hashing import Hash, HashResult
from photomatch.hashlists import (
    HashRecord,
    SkippedLine,
    export_hash_list,
    import_hash_list,
    read_hash_list,
    write_hash_list,
)
from photomatch.store import Store

# A PDQ hash in the reference's format (64 lowercase hex digits). The value is the PDQ hash of
# bsds500_0001.jpg from photos-dev, printed by `photomatch hash` on this checkout; the tests only
# need a well-formed hash, the value itself does not matter.
PDQ = "07dc463cba197d6688f6b3cd6f0d8c9904321be1fdc2e27f119dce40ea09399a"
PDQ2 = "3ec61a34b135f6673626b939626536479a9392f5f6ec37899319d49926c205c9"
PHASH = "c3963c6e39c1c71c"


def rec(algorithm: str, hexdigits: str, **kw) -> HashRecord:
    return HashRecord(algorithm, hexdigits, **kw)


# ---------------------------------------------------------------------------------------------
# formats exchanged in the field


def test_headerless_one_hash_per_line() -> None:
    text = f"{PDQ}\n\n{PDQ2.upper()}\r\n{PHASH}\n"
    assert read_hash_list(io.StringIO(text)) == [rec("pdq", PDQ), rec("pdq", PDQ2), rec("phash", PHASH)]


def test_headerless_hash_quality() -> None:
    # "hash,quality" lines, as PDQ lists are commonly exchanged (e.g. ThreatExchange's PDQ
    # signal exports keep the quality next to the 64 hex digits).
    records = read_hash_list(io.StringIO(f"{PDQ},100\n{PDQ2},49\n"))
    assert [(r.hex, r.quality) for r in records] == [(PDQ, 100), (PDQ2, 49)]
    assert [r.line for r in records] == [1, 2]


def test_pdq_photo_hasher_output() -> None:
    # Meta's reference CLI, ThreatExchange pdq/cpp/bin/pdq-photo-hasher.cpp (as vendored by pdqhash
    # 0.2.8): printf("%s,%d,%s\n", hash, quality, filename) by default, and with --details
    # "hash=%s,norm=%d,delta=%d,quality=%d,filename=%s".
    plain = f"{PDQ},100,photos/a, with comma.jpg\n{PDQ2},87,b.png\n"
    details = (f"hash={PDQ},norm=128,delta=0,quality=100,filename=photos/a, with comma.jpg\n"
               f"hash={PDQ2},norm=90,delta=3,quality=87,filename=b.png\n")
    expected = [rec("pdq", PDQ, quality=100, source="photos/a, with comma.jpg"),
                rec("pdq", PDQ2, quality=87, source="b.png")]
    assert read_hash_list(io.StringIO(plain)) == expected
    assert read_hash_list(io.StringIO(details)) == expected


def test_header_aliases_and_extra_columns() -> None:
    text = ("Signal_Type,SIGNAL,Quality,Label,filename,extra\n"
            f"pdq,{PDQ},90,case 7,x.jpg,ignored\n"
            f"phash,{PHASH},,case 8,,\n")
    assert read_hash_list(io.StringIO(text)) == [
        rec("pdq", PDQ, quality=90, label="case 7", source="x.jpg"),
        rec("phash", PHASH, label="case 8"),
    ]
    # a column named after the algorithm implies it
    assert read_hash_list(io.StringIO(f"id\tphash\n7\t{PHASH}\n")) == [rec("phash", PHASH, id="7")]


def test_comments_bom_and_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "list.txt"
    f.write_bytes(("\ufeff# exported 2024-01-01 by partner X\n\nhash,quality\n"
                   f"# a comment\n{PDQ},100\n\n").encode())
    assert read_hash_list(f) == [rec("pdq", PDQ, quality=100)]


def _hash_command_outputs(paths: list[str]) -> dict[str, str]:
    """The three formats of `photomatch hash`, written by the CLI's own writer."""
    from photomatch.cli import HashWriter

    hashes = [Hash.from_hex(PDQ, quality=100), Hash.from_hex(PHASH), Hash.from_hex(PDQ2, quality=12)]
    out = {}
    for fmt in ("text", "csv", "jsonl"):
        buf = io.StringIO()
        writer = HashWriter(buf, fmt)
        for p, h in zip(paths, hashes):
            writer.write(HashResult(p, h))
        out[fmt] = buf.getvalue()
    return out


def test_photomatch_hash_output_imports_as_is(tmp_path: Path) -> None:
    paths = ["a.jpg", "dir with\ttab/b,c \"quoted\".png", "C:\\photos\\é.jpg"]
    expected = [rec("pdq", PDQ, quality=100, source=paths[0]), rec("phash", PHASH, source=paths[1]),
                rec("pdq", PDQ2, quality=12, source=paths[2])]
    for fmt, text in _hash_command_outputs(paths).items():
        assert read_hash_list(io.StringIO(text)) == expected, fmt  # sniffed from the content
        f = tmp_path / f"hashes.{ {'text': 'txt'}.get(fmt, fmt)}"
        f.write_text(text, encoding="utf-8")
        assert read_hash_list(f) == expected, fmt  # from the file, by extension
        with Store(tmp_path / f"{fmt}.db") as store:
            assert import_hash_list(store, f) == (3, [])
            assert sorted((h.algorithm, h.bits.hex(), h.quality, it.source) for it in store.items()
                          for h in it.hashes) == sorted((r.algorithm, r.hex, r.quality, r.source) for r in expected)


# ---------------------------------------------------------------------------------------------
# round trips


ODD_LABELS = ["plain", "comma, and \"quotes\"", "tab\there", "new\nline", "back\\slash", "ünïcödé ✓", "#not a comment"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(3)
    records = []
    for i, label in enumerate(ODD_LABELS * 3):
        algorithm = ("pdq", "phash")[i % 2]
        n = 32 if algorithm == "pdq" else 8
        records.append(HashRecord(algorithm, rng.integers(0, 256, n, dtype=np.uint8).tobytes().hex(),
                                  quality=int(rng.integers(0, 101)) if algorithm == "pdq" else None,
                                  id=str(i), label=label, source=f"src/{label}.jpg" if i % 3 else None,
                                  region_kind=("whole", "crop")[i % 2], region=(1.0, 2.5, 30.0, 40.0) if i % 2 else None))
    path = tmp_path / f"list.{fmt}"
    assert write_hash_list(records, path, format=fmt) == len(records)
    assert read_hash_list(path) == records
    buf = io.StringIO()
    write_hash_list(records, buf, format=fmt)
    assert read_hash_list(io.StringIO(buf.getvalue())) == records  # sniffed from the content
    raw = io.BytesIO()
    write_hash_list(records, raw, format=fmt)
    assert raw.getvalue().decode() == buf.getvalue()


def test_write_accepts_hash_values() -> None:
    buf = io.StringIO()
    write_hash_list([Hash.from_hex(PDQ, quality=5)], buf, format="jsonl")
    assert json.loads(buf.getvalue()) == {"id": None, "label": None, "algo": "pdq", "hex": PDQ, "quality": 5,
                                          "source": None}
    with pytest.raises(ValueError, match="format"):
        write_hash_list([], io.StringIO(), format="xml")


# ---------------------------------------------------------------------------------------------
# strict and atomic


BAD_LINES = {
    "wrong length": f"{PDQ[:-1]},50",
    "not hex": f"{PDQ[:-1]}g,50",
    "bad quality": f"{PDQ},101",
    "not a number": f"{PDQ},high",
}


@pytest.mark.parametrize("why", list(BAD_LINES))
def test_bad_line_3_of_5_imports_nothing(tmp_path: Path, why: str) -> None:
    lines = [f"{PDQ},100", f"{PDQ2},90", BAD_LINES[why], f"{PHASH}", f"{PDQ},80"]
    f = tmp_path / "partner.csv"
    f.write_text("\n".join(lines) + "\n")
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.add_item([("phash", bytes(8))], label="existing")
        with pytest.raises(HashFormatError, match=r"partner\.csv, line 3: ") as info:
            import_hash_list(store, f)
        assert info.value.line == 3 and info.value.path == str(f)
        assert PDQ[:20] not in str(info.value)  # errors never quote the hash
        assert store.count() == 1
    with pytest.raises(HashFormatError, match="line 3"):
        read_hash_list(f)

    skipped_seen: list[SkippedLine] = []
    assert len(read_hash_list(f, skip_invalid=True, on_skip=skipped_seen.append)) == 4
    with Store(path) as store:
        n, skipped = import_hash_list(store, f, skip_invalid=True, label="partner X")
        assert n == 4 and [s.line for s in skipped] == [3] == [s.line for s in skipped_seen]
        assert str(skipped[0]).startswith(f"{f}, line 3: ")
        assert store.count() == 5
        assert sorted(it.label for it in store.items()) == ["existing"] + ["partner X"] * 4


@pytest.mark.parametrize(("text", "line", "reason"), [
    (f'{{"hash": "{PDQ}"}}\n{{"hash": "{PDQ}"}}\n{{"hash": "{PDQ}"\n', 3, "not valid JSON"),
    (f'{{"hash": "{PDQ}"}}\n\n["{PDQ}"]\n', 3, "expected a JSON object"),
    (f'{{"hex": "{PDQ}", "algo": "md5"}}\n', 1, "unknown hash algorithm 'md5'"),
    (f'{{"hex": "{PHASH}", "algo": "pdq"}}\n', 1, "a pdq hash has 64 hex digits, got 16"),
    (f'{{"label": "no hash"}}\n', 1, "no hash key"),
    (f'{{"hash": "{PDQ}", "quality": true}}\n', 1, "quality"),
    (f'{{"hash": "{PDQ}", "x": 1, "y": 2}}\n', 1, "region"),
])
def test_jsonl_errors_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(HashFormatError, match=rf"<stream>, line {line}: .*{reason}"):
        read_hash_list(io.StringIO(text))


def test_structural_errors(tmp_path: Path) -> None:
    with pytest.raises(HashFormatError, match="line 1: the header has no hash column"):
        read_hash_list(io.StringIO(f"path,label\na.jpg,{PDQ}\n"), skip_invalid=True)
    with pytest.raises(HashFormatError, match="line 2: malformed CSV"):  # never skippable: it swallows lines
        read_hash_list(io.StringIO(f'hash,label\n{PDQ},"unterminated\n{PDQ},x\n'), skip_invalid=True)
    with pytest.raises(HashFormatError, match="line 2: 3 fields where the header has 2"):
        read_hash_list(io.StringIO(f"hash,quality\n{PDQ},1,2\n"))
    f = tmp_path / "latin1.csv"
    f.write_bytes(f"{PDQ}\n{PDQ2}\n\xe9t\xe9\n".encode("latin-1"))
    with pytest.raises(HashFormatError, match=r"latin1\.csv, line 3: not UTF-8"):
        read_hash_list(f)
    with pytest.raises(HashFormatError, match="cannot read"):
        read_hash_list(tmp_path / "absent.csv")
    assert read_hash_list(io.StringIO("")) == []


# ---------------------------------------------------------------------------------------------
# store import/export


def test_export_import_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    with Store(tmp_path / "a.db") as a:
        for i in range(30):
            hashes = [("pdq", rng.integers(0, 256, 32, dtype=np.uint8), int(rng.integers(0, 101)))]
            if i % 3 == 0:
                hashes.append(("phash", rng.integers(0, 256, 8, dtype=np.uint8)))
            if i % 5 == 0:
                hashes.append(("pdq", rng.integers(0, 256, 32, dtype=np.uint8), 70, (0, 0, 50, 60), "crop"))
            a.add_item(hashes, label=ODD_LABELS[i % len(ODD_LABELS)], source=f"r/{i}.jpg")
        original = [(it.label, it.source, [(h.algorithm, h.bits, h.quality, h.region, h.region_kind) for h in it.hashes])
                    for it in a.items()]
    for fmt in ("csv", "tsv", "jsonl"):
        out = tmp_path / f"export.{fmt}"
        with Store(tmp_path / "a.db") as a:
            assert export_hash_list(a, out, format=fmt) == sum(len(h) for _, _, h in original)
        with Store(tmp_path / f"b-{fmt}.db") as b:
            n, skipped = import_hash_list(b, out)
            assert (n, skipped) == (sum(len(h) for _, _, h in original), [])
            copied = [(it.label, it.source, [(h.algorithm, h.bits, h.quality, h.region, h.region_kind) for h in it.hashes])
                      for it in b.items()]
            assert copied == original  # rows sharing an id became one item again


def test_export_is_owner_only_and_atomic(tmp_path: Path) -> None:
    out = tmp_path / "export.csv"
    out.write_text("old content\n")
    os.chmod(out, 0o644)
    old = os.umask(0)
    try:
        with Store(tmp_path / "s.db") as store:
            store.add_item([("pdq", bytes.fromhex(PDQ), 100)], label="x")
            export_hash_list(store, out)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert read_hash_list(out) == [rec("pdq", PDQ, quality=100, id="1", label="x")]
    assert sorted(p.name for p in tmp_path.iterdir() if "export" in p.name) == ["export.csv"]  # no temp left


# ---------------------------------------------------------------------------------------------
# property: any text in the text fields survives every format

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_text = st.one_of(st.none(), st.text(min_size=1, max_size=30))
_record = st.builds(
    HashRecord,
    algorithm=st.sampled_from(["pdq", "phash"]),
    hex=st.just(""),
    quality=st.one_of(st.none(), st.integers(0, 100)),
    id=_text, label=_text, source=_text,
    region_kind=st.sampled_from(["whole", "crop", "window"]),
    region=st.one_of(st.none(), st.tuples(st.integers(-5, 5000), st.integers(-5, 5000), st.integers(1, 5000),
                                          st.integers(1, 5000)).map(lambda t: tuple(float(v) for v in t))),
)


@settings(max_examples=150, deadline=None)
@given(records=st.lists(st.tuples(_record, st.binary(min_size=32, max_size=32)), max_size=6),
       fmt=st.sampled_from(["csv", "tsv", "jsonl"]))
def test_round_trip_any_text(records, fmt) -> None:
    from dataclasses import replace

    recs = [replace(r, hex=(b if r.algorithm == "pdq" else b[:8]).hex(),
                    quality=r.quality if r.algorithm == "pdq" else None) for r, b in records]
    buf = io.StringIO()
    write_hash_list(recs, buf, format=fmt)
    assert read_hash_list(io.StringIO(buf.getvalue()), format=fmt) == recs
    assert read_hash_list(io.StringIO(buf.getvalue())) == recs  # format sniffed from the content


_line = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(["hash", "hex", "pdq", "phash", "algo", "quality", "x", "w", "#", '"', "",
                                        "{", "}", "=", PDQ, PHASH, "pdq", "phash", "101", "-1", "1e999"]),
                       st.text(max_size=8)), max_size=6).map(",".join),
)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_line, max_size=6), sep=st.sampled_from([",", "\t"]),
       fmt=st.sampled_from([None, "csv", "tsv", "jsonl"]), skip=st.booleans())
def test_any_input_reads_or_raises_hash_format_error(lines, sep, fmt, skip) -> None:
    text = "\n".join(line.replace(",", sep) for line in lines)
    try:
        records = read_hash_list(io.StringIO(text), format=fmt, skip_invalid=skip)
    except HashFormatError as exc:
        assert ", line " in str(exc)
        return
    for r in records:  # whatever was accepted is well-formed
        assert len(r.hex) == {"pdq": 64, "phash": 16}[r.algorithm] and r.hex == r.hex.lower()
        assert r.quality is None or 0 <= r.quality <= 100
