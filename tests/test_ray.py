"""Ray Data adapter: a distributed scan on a local 2-CPU cluster gives exactly the single-process matches.

Needs ``photomatch[ray]``; skipped with the reason where Ray is not installed (CI installs it
and runs this file on its own).
"""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'photomatch[ray]' to run the engine tests")
pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'photomatch[ray]'")

from photomatch import hash_files  # noqa: E402
from photomatch.cli import main  # noqa: E402
from photomatch.ray import hash_dataset, match_dataset, read_images  # noqa: E402
from scanset import make_scan  # noqa: E402
from videos import make_video_scan  # noqa: E402

# Ray warns about its own deprecated settings when its DataContext is first built.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    return make_scan(tmp_path_factory.mktemp("rayscan"), reported=40, queries=300)


def _lines(out):
    return [json.loads(line) for line in out.splitlines()]


def test_distributed_scan_equals_single_process(cluster, scan, capsys):
    store, qdir = scan
    code, out = main(["match", str(store), str(qdir), "--json"]), capsys.readouterr().out
    expected = _lines(out)
    assert len(expected) == 301 and code == 2  # the broken file is an error, reported and skipped
    assert sum(bool(r["matches"]) for r in expected) >= 200  # copies found; unrelated ones not
    assert any(m["stage"] == "verified" for r in expected for m in r["matches"])

    ray_code, ray_out = main(["match", str(store), str(qdir), "--json", "--ray", "--workers", "2"]), \
        capsys.readouterr().out
    assert ray_code == code
    assert _lines(ray_out) == expected  # same queries, same order, same matches, same errors


def test_match_dataset_writes_parquet_and_json_lines(cluster, scan, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    store, qdir = scan
    paths = sorted(str(p) for p in qdir.iterdir())[:40]
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    ds = match_dataset(read_images(paths), store, workers=2).materialize()  # run once, write twice
    ds.write_parquet(str(tmp_path / "parquet"))
    ds.write_json(str(tmp_path / "jsonl"))
    rows = pq.read_table(str(tmp_path / "parquet")).to_pylist()
    by_query = {r["query"]: r for r in rows}
    assert sorted(by_query) == paths
    json_rows = [json.loads(line) for f in sorted((tmp_path / "jsonl").iterdir()) for line in f.read_text().splitlines()]
    assert {r["query"]: r["matches"] for r in json_rows} == {q: r["matches"] for q, r in by_query.items()}
    assert any(r["matches"] for r in rows)


def test_hash_dataset_equals_hash_files(cluster, scan):
    _, qdir = scan
    paths = sorted(str(p) for p in qdir.iterdir())[:60]
    rows = {r["path"]: r for r in hash_dataset(read_images(paths)).take_all()}
    for r in hash_files(paths, "pdq", workers=1):
        assert rows[r.path]["hex"] == (r.hash.hex if r.ok else None)
        assert (rows[r.path]["error"] is None) == r.ok


def test_threads_per_actor_give_the_same_matches(cluster, scan):
    store, qdir = scan
    paths = sorted(str(p) for p in qdir.iterdir())[:24]
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    one = [(r["query"], r["matches"]) for r in match_dataset(read_images(paths), store, workers=2).iter_rows()]
    two = [(r["query"], r["matches"]) for r in
           match_dataset(read_images(paths), store, workers=1, threads=2).iter_rows()]
    assert two == one and any(m for _, m in one)
    with pytest.raises(ValueError, match="threads"):
        match_dataset(read_images(paths), store, threads=0)


def test_videos_on_ray_equal_single_process(cluster, tmp_path, capsys):
    store, qdir = make_video_scan(tmp_path)
    args = ["match", store, qdir, "--json", "--fps", "2"]
    code, out = main(args), capsys.readouterr().out
    expected = _lines(out)
    by_name = {x["query"].rsplit("/", 1)[-1]: x for x in expected}
    assert code == 0 and sorted(by_name) == ["corrupt.avi", "photo.png", "show.mp4", "trimmed.mkv"]
    assert by_name["show.mp4"]["matches"][0]["time"] and by_name["show.mp4"]["frames"] >= 19
    assert by_name["trimmed.mkv"]["matches"][0]["algo"] == "vpdq"
    assert by_name["corrupt.avi"]["skipped_frames"] == 1
    ray_code, ray_out = main([*args, "--ray", "--workers", "2"]), capsys.readouterr().out
    assert ray_code == code
    assert _lines(ray_out) == expected  # videos read on the actors: same frames, spans, vPDQ matches, notes
