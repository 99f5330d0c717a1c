"""The engine-neutral batch functions, against the plain single-process paths as oracles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import videos

from photomatch import Matcher, MatchResult, hash_files
from photomatch.batch import BatchMatcher, hash_batch, match_batch
from photomatch.errors import StoreError
from photomatch.videomatch import VideoOptions
from scanset import make_scan


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    return make_scan(tmp_path_factory.mktemp("scan"), reported=6, queries=24)


def _paths(qdir):
    return sorted(str(p) for p in qdir.iterdir())


def _expected_matches(store, paths, **options):
    with Matcher(store, create=False) as m:
        return [(r.query, [x.to_json() for x in r.matches], None if r.ok else str(r.error))
                for r in m.match_many(paths, workers=1, **options)]


def test_hash_batch_of_a_list_equals_hash_files(scan):
    _, qdir = scan
    paths = _paths(qdir)
    table = hash_batch(paths, algorithm="pdq")
    expected = list(hash_files(paths, "pdq", workers=1))
    assert table["path"] == paths
    assert table["hex"] == [r.hash.hex if r.ok else None for r in expected]
    assert table["quality"] == [r.hash.quality if r.ok else None for r in expected]
    assert [e is not None for e in table["error"]] == [not r.ok for r in expected]
    assert "broken" in next(e for e in table["error"] if e)


def test_hash_batch_reads_bytes_and_keeps_names(scan):
    _, qdir = scan
    paths = _paths(qdir)[:5]
    data = [Path(p).read_bytes() for p in paths]
    by_bytes = hash_batch({"bytes": data, "path": paths}, algorithm="phash")
    assert by_bytes["path"] == paths
    assert by_bytes["hex"] == hash_batch(paths, algorithm="phash")["hex"]
    anonymous = hash_batch(data)
    assert anonymous["path"] == ["<bytes>"] * 5


def test_match_batch_equals_match_many(scan):
    store, qdir = scan
    paths = _paths(qdir)
    expected = _expected_matches(store, paths)
    assert any(m for _, m, _ in expected) and any(e for _, _, e in expected)
    assert any(x["stage"] == "verified" for _, m, _ in expected for x in m)  # the crops
    with BatchMatcher(store, mode="robust") as match:
        table = match({"path": paths})
    assert list(zip(table["query"], table["matches"], table["error"])) == expected
    with Matcher(store, create=False) as m:
        own = [r.to_json()["query_hash"] for r in m.match_many(paths, workers=1)]
    assert table["query_hash"] == own and all("pdq" in h for h in own[:3])


def test_match_batch_of_hashes_and_missing_rows(scan):
    store, qdir = scan
    paths = _paths(qdir)[:4]
    hexes = hash_batch(paths)["hex"]
    with Matcher(store, create=False) as m:
        table = match_batch({"hash": hexes + ["nothex", None], "name": ["a", "b", "c", "d", "bad", "none"]}, m)
        expected = [[x.to_json() for x in m.match_hash(h)] for h in hexes]
    assert table["query"] == ["a", "b", "c", "d", "bad", "none"]
    assert table["matches"][:4] == expected
    assert table["matches"][0] and table["matches"][0][0]["region"] is None
    assert table["error"][:4] == [None] * 4
    assert "bad" in table["error"][4] and "none" in table["error"][5]


def test_tables_of_arrow_and_pandas(scan):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (it comes with photomatch[ray])")
    store, qdir = scan
    paths = _paths(qdir)[:8]
    expected = _expected_matches(store, paths)
    with BatchMatcher(store) as match:
        table = match(pa.table({"path": paths}))
        assert isinstance(table, pa.Table) and table.column_names == ["query", "query_hash", "matches", "error",
                                                                      "frames", "skipped_frames", "notes"]
        # A table has every field in every row (an image's "time" is null): read back, the same results.
        back = [MatchResult.from_json(r) for r in table.to_pylist()]
        assert [(r.query, [x.to_json() for x in r.matches], None if r.ok else str(r.error)) for r in back] == expected
        assert all(r.video is None for r in back)
        with Matcher(store, create=False) as m:
            own = [r.query_hash for r in m.match_many(paths, workers=1)]
        assert [MatchResult.from_json(r).query_hash for r in table.to_pylist()] == own
        hashes = hash_batch(pa.table({"path": paths}))
        assert hashes.column("hex").to_pylist() == hash_batch(paths)["hex"]
        pd = pytest.importorskip("pandas", reason="pandas is not installed (it comes with photomatch[ray])")
        frame = match(pd.DataFrame({"path": paths}))
        assert list(frame["query"]) == [q for q, _, _ in expected]
        assert [list(m) for m in frame["matches"]] == [m for _, m, _ in expected]


def test_options_are_checked_before_any_batch(scan, tmp_path):
    store, _ = scan
    with pytest.raises(ValueError, match="mode"):
        BatchMatcher(store, mode="fastest")
    with pytest.raises(ValueError, match="threshold"):
        BatchMatcher(store, threshold=300)
    with pytest.raises(StoreError, match="no such store"):
        BatchMatcher(tmp_path / "absent.db")
    with pytest.raises(ValueError, match="algorithm"):
        hash_batch([], algorithm="md5")
    with pytest.raises(ValueError, match="no image column"):
        hash_batch({"url": ["x"]})
    with pytest.raises(TypeError, match="paths or encoded image bytes"):
        hash_batch([1, 2])


def _written(folder):
    """(mtime, size) of the store's files; SQLite's shared-memory file and an empty write-ahead
    log (which a read-only connection may create) hold no data."""
    files = {p: os.stat(p) for p in folder.iterdir() if p.name.startswith("reports.db")}
    return {p: (st.st_mtime_ns, st.st_size) for p, st in files.items()
            if not p.name.endswith("-shm") and not (p.name.endswith("-wal") and st.st_size == 0)}


def test_batch_matcher_never_writes_the_store(scan):
    store, qdir = scan
    before = _written(store.parent)
    with BatchMatcher(store) as match:
        match(_paths(qdir)[:4])
        with pytest.raises(StoreError):
            match.matcher.add_hashes(["0" * 64])
    assert _written(store.parent) == before


def test_errors_name_the_row(scan):
    store, qdir = scan
    broken = next(p for p in _paths(qdir) if "broken" in p)
    batch = {"bytes": [Path(broken).read_bytes(), b""], "name": ["evidence-17", "evidence-18"]}
    hashed = hash_batch(batch)
    assert hashed["error"][0].startswith("evidence-17: ") and hashed["error"][1].startswith("evidence-18: ")
    with BatchMatcher(store) as match:
        matched = match(batch)
    assert matched["error"][0].startswith("evidence-17: ") and "<bytes>" not in matched["error"][0]


def test_videos_in_a_batch_equal_match_many(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (it comes with photomatch[ray])")
    store, qdir = videos.make_video_scan(tmp_path)
    paths = _paths(Path(qdir))
    options = VideoOptions(fps=2)
    with Matcher(store, create=False) as m:
        expected = [r.to_json() for r in m.match_many(paths, workers=1, video_options=options)]
    by_name = {os.path.basename(x["query"]): x for x in expected}
    assert by_name["show.mp4"]["frames"] >= 19 and by_name["show.mp4"]["matches"][0]["time"]  # 2 a second over 9.5 s
    assert [x["algo"] for x in by_name["trimmed.mkv"]["matches"]] == ["vpdq"]
    assert by_name["corrupt.avi"]["skipped_frames"] == 1 and by_name["corrupt.avi"]["notes"]
    assert "frames" not in by_name["photo.png"]
    with BatchMatcher(store, video_options=options) as match:
        table = match({"path": paths})
        assert [dict((c, table[c][i]) for c in table if table[c][i] is not None) for i in range(len(paths))] == expected
        data = [Path(p).read_bytes() for p in paths]  # the engines' bytes column, named by path
        arrow = match(pa.table({"bytes": data, "path": paths}))
    assert [MatchResult.from_json(r).to_json() for r in arrow.to_pylist()] == expected
    with pytest.raises(TypeError, match="VideoOptions"):
        BatchMatcher(store, video_options={"fps": 2})
