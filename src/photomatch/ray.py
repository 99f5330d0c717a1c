"""Ray Data adapter (``pip install 'photomatch[ray]'``): hash and match datasets of images on a cluster.

The work is :mod:`photomatch.batch`'s; this module only maps it over a Ray Dataset:

- :func:`hash_dataset` maps :func:`~photomatch.batch.hash_batch` over stateless tasks;
- :func:`match_dataset` maps :class:`~photomatch.batch.BatchMatcher` over an actor pool: each
  actor opens the store once, read-only (it never writes the store or its index caches), and
  keeps its index in memory for every batch it is given.

Input rows hold a ``path`` (a file every worker can read), or ``bytes`` (``ray.data.
read_binary_files(..., include_paths=True)`` gives both), or for matching a ``hash`` (hex). A
row's file may be a video: it is matched whole by one actor (``video_options``), and its row
has ``frames`` and each match its ``time`` spans, as ``photomatch match --json`` prints them.
Results are Ray Datasets with the columns of :mod:`photomatch.batch`, writable with
``write_parquet`` or ``write_json`` (JSON lines).

The store file must be readable at the same path on every node, as the query paths are: a
copy on each node's local disk (SQLite's write-ahead log does not work over a network file
system); :func:`match_dataset` checks it opens, and saves its index cache, before
any actor starts, so the actors load the cache instead of each rebuilding the index.
"""

from __future__ import annotations

import os
from typing import Any

try:
    import ray
    import ray.data
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    msg = "photomatch.ray needs Ray Data: pip install 'photomatch[ray]'"
    raise ImportError(msg) from exc

from . import algorithms
from .batch import BatchMatcher, hash_batch
from .matcher import check_match_options
from .store import Store
from .videomatch import VideoOptions, check_video_options

__all__ = ["hash_dataset", "match_dataset", "prepare_store", "read_images"]


def read_images(paths: list[str]) -> ray.data.Dataset:
    """A dataset of one ``path`` row per image file (read by the workers, not by the driver)."""
    return ray.data.from_items([{"path": os.fspath(p)} for p in paths])


def hash_dataset(ds: ray.data.Dataset, *, algorithm: str = "pdq", exact: bool = False,
                 batch_size: int = 64) -> ray.data.Dataset:
    """The hash of every image of ``ds`` (columns ``path, algo, hex, quality, error``)."""
    hash_batch([], algorithm=algorithm)  # checks the options here, before any task starts
    return ds.map_batches(hash_batch, fn_kwargs=dict(algorithm=algorithm, exact=exact),
                          batch_format="pyarrow", batch_size=batch_size, num_cpus=1)


def match_dataset(ds: ray.data.Dataset, store: str | os.PathLike[str], *, mode: str = "robust",
                  threshold: int | None = None, phash_threshold: int | None = None, dihedral: bool = True,
                  exact: bool = False, workers: int | None = None, threads: int = 1,
                  batch_size: int = 16, video_options: VideoOptions | None = None) -> ray.data.Dataset:
    """The matches of every image of ``ds`` against ``store`` (columns ``query, matches, error``).

    ``workers`` actors (default: the cluster's CPUs / ``threads``) each open the store once and
    match on ``threads`` threads (taking as many CPUs). With a large store, use one actor per
    node and a thread per core: the threads of an actor share its indexes in memory.
    """
    check_match_options(mode, threshold, phash_threshold)
    check_video_options(video_options)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        msg = f"threads must be a positive int, got {threads!r}"
        raise ValueError(msg)
    path = os.path.abspath(os.fspath(store))
    prepare_store(path)
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    options = dict(mode=mode, threshold=threshold, phash_threshold=phash_threshold, dihedral=dihedral,
                   exact=exact, workers=threads, video_options=video_options)
    return ds.map_batches(_Actor, fn_constructor_kwargs=dict(store=path, options=options),
                          compute=ray.data.ActorPoolStrategy(size=int(workers)),
                          batch_format="pyarrow", batch_size=batch_size * threads, num_cpus=threads)


def prepare_store(path: str | os.PathLike[str]) -> None:
    """Open the store once on the driver: a missing store fails here, and the index caches are
    brought up to date and saved, so that no actor rebuilds them (or writes the store)."""
    with Store(path, create=False) as s:
        for algorithm in algorithms.NAMES:  # reported videos' frame hashes (vpdq) have their index too
            if s.has_algorithm(algorithm):
                s.range_search(algorithm, [], 0)  # loads (or rebuilds) the cache; close() saves it


class _Actor(BatchMatcher):
    """A BatchMatcher built from picklable arguments, as Ray's actor pool constructs it."""

    def __init__(self, store: str, options: dict[str, Any]) -> None:
        super().__init__(store, **options)
