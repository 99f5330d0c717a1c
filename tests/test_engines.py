"""The README's examples for other engines (Dask's map_partitions, Spark's mapInPandas) run as
written and give the single-process matches; each is skipped, saying why, where its engine is
not installed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from photomatch import Matcher
from photomatch.matcher import Match
from scanset import make_scan

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example(engine: str) -> str:
    """The first Python block after the README paragraph that starts with **engine**."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"^\*\*{engine}\*\*.*?```python\n(.*?)```", text, re.S | re.M)
    assert found, f"no {engine} example in the README"
    return found.group(1)


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    store, qdir = make_scan(tmp_path_factory.mktemp("engines"), reported=6, queries=20)
    paths = sorted(str(p) for p in qdir.iterdir())
    with Matcher(store, create=False) as m:
        expected = {r.query: ([x.to_json() for x in r.matches], None if r.ok else str(r.error))
                    for r in m.match_many(paths, workers=1)}
    assert any(m for m, _ in expected.values())
    return store, paths, expected


def test_dask_example(scan):
    pytest.importorskip("dask.dataframe", reason="Dask is not installed (pip install 'dask[dataframe]')")
    store, paths, expected = scan
    namespace = {"store": str(store), "paths": paths}
    exec(readme_example("Dask"), namespace)  # noqa: S102 - the README's own code
    frame = namespace["matches"]
    got = {q: ([dict(x) for x in m], e if isinstance(e, str) else None)
           for q, m, e in zip(frame["query"], frame["matches"], frame["error"])}
    assert got == expected


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*")  # its own note on pandas 3
def test_spark_example(scan, tmp_path, monkeypatch):
    pytest.importorskip("pyspark", reason="Spark is not installed (pip install pyspark)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime, and none is installed")
    from pyspark.sql import SparkSession

    store, paths, expected = scan
    code = readme_example("Spark")
    # The README's shared paths, pointed at this test's store and images.
    code = code.replace("/shared/reports.db", str(store)).replace("/shared/incoming/*.jpg", str(Path(paths[0]).parent))
    code = code.replace("/shared/matches/", str(tmp_path / "matches"))
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # a local session: loopback only
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .getOrCreate())
    try:
        exec(code, {"spark": spark})  # noqa: S102 - the README's own code
        rows = spark.read.parquet(str(tmp_path / "matches")).collect()
    finally:
        spark.stop()
    # A Spark row has every field of the schema (null where a match has none: an image's "time").
    got = {r["query"].removeprefix("file:"): ([Match.from_json(x.asDict(recursive=True)).to_json() for x in r["matches"]],
                                              r["error"]) for r in rows}
    assert {q: m for q, (m, _) in got.items()} == {q: m for q, (m, _) in expected.items()}
