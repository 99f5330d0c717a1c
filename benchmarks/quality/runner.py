"""The benchmark run: split, altered copies (cached), hashing (parallel, cached), queries, metrics."""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import alterations as alt
from .systems import HashSystem, System, hash_all, make_system

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".gif"})
N_FILLERS = 3
_FILLER_KEY = "collage-fillers"
# Profile pages and photo grids draw their other photos from a separate seeded pool, so adding
# them left the collages' fillers (and their cached copies) as they were.
_SCREEN_FILLER_KEY = "screen-fillers"


@dataclass(frozen=True)
class Query:
    alteration: str
    photo_id: str
    reported: bool  # True: a copy of a reported photo (recall); False: a distractor copy (false matches)
    path: Path


@dataclass
class Config:
    images: Path
    out: Path
    reported: int = 150
    seed: int = 0
    systems: Sequence[str | System] = ()  # names, or System objects run in-process
    alterations: Sequence[str] = ()
    limit_reported: int | None = None
    limit_distractors: int | None = None
    workers: int = 2
    sample_slow: int = 20
    progress: bool = True
    command: str = ""


@dataclass
class Outcome:
    """What one system answered to every query it ran."""

    name: str
    available: bool = True
    reason: str = ""
    note: str = ""
    sampled: int | None = None
    build_seconds: float = 0.0
    answers: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (alteration, photo id) -> ids
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)


# --- photos and split -----------------------------------------------------------------------------


def list_photos(root: Path) -> list[tuple[str, Path]]:
    """Every image under ``root`` (recursive, by extension) as (id, path), id = relative POSIX path, sorted."""
    root = Path(root)
    if not root.is_dir():
        msg = f"--images {root}: not a folder"
        raise ValueError(msg)
    found = [(p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
    return sorted(found)


def split(photos: Sequence[tuple[str, Path]], n_reported: int, seed: int) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """Deterministic split: a seeded permutation of the sorted photos; the first ``n_reported`` are reported.

    >>> r, d = split([(str(i), None) for i in range(10)], 3, 0)
    >>> len(r), len(d), sorted(r + d) == sorted((str(i), None) for i in range(10))
    (3, 7, True)
    """
    photos = sorted(photos, key=lambda x: x[0])
    if n_reported < 1 or n_reported > len(photos) - N_FILLERS - 1:
        msg = f"--reported {n_reported}: need 1..{len(photos) - N_FILLERS - 1} with {len(photos)} photos (distractors must be at least {N_FILLERS + 1} for collages)"
        raise ValueError(msg)
    order = np.random.default_rng(seed).permutation(len(photos))
    chosen = set(order[:n_reported].tolist())
    reported = [p for i, p in enumerate(photos) if i in chosen]
    distractors = [p for i, p in enumerate(photos) if i not in chosen]
    return reported, distractors


def fillers_for(photo_id: str, distractor_ids: Sequence[str], seed: int, *, n: int = N_FILLERS,
                key: str = _FILLER_KEY) -> list[str]:
    """The ``n`` distractors that share a composition with ``photo_id`` (never itself, never a
    reported photo): 3 for a collage; screens (``key=_SCREEN_FILLER_KEY``) take up to as many
    as the pool holds."""
    pool = [d for d in sorted(distractor_ids) if d != photo_id]
    pick = alt.rng_for(photo_id, key, seed).choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[int(i)] for i in pick]


def _filler_paths(photo_id: str, names: Iterable[str], distractor_ids: Sequence[str], source: dict[str, Path],
                  seed: int) -> dict[str, list[Path]]:
    """For each composition among ``names``, the paths of its filler photos."""
    out: dict[str, list[Path]] = {}
    for name in names:
        if name not in alt.FILLERS:
            continue
        if name == "collage":
            ids = fillers_for(photo_id, distractor_ids, seed)
        else:
            ids = fillers_for(photo_id, distractor_ids, seed, n=max(alt.FILLERS.values()), key=_SCREEN_FILLER_KEY)
        out[name] = [source[f] for f in ids[: alt.FILLERS[name]]]
    return out


def _safe(photo_id: str) -> str:
    return photo_id.replace("/", "__")


def cache_root(cfg: Config) -> Path:
    # Keyed by the images folder, the alteration version and the seed, so a changed input never reuses stale copies.
    tag = hashlib.sha1(str(Path(cfg.images).resolve()).encode()).hexdigest()[:10]
    return Path(cfg.out) / "cache" / f"{tag}-v{alt.VERSION}-seed{cfg.seed}"


def copy_path(root: Path, alteration: str, photo_id: str, source: Path) -> Path:
    if alteration == "original":
        return source
    return root / "alterations" / alteration / (_safe(photo_id) + ".jpg")


# --- workers (module level so they pickle) --------------------------------------------------------


def _generate(task: tuple[str, Path, dict[str, Path], dict[str, list[Path]], int]) -> int:
    photo_id, source, targets, filler_paths, seed = task
    img = alt.load_rgb(source)
    loaded: dict[Path, Any] = {}
    written = 0
    for name, target in targets.items():
        fillers = [loaded[p] if p in loaded else loaded.setdefault(p, _load_small(p)) for p in filler_paths.get(name, ())]
        out = alt.apply(name, img, alt.rng_for(photo_id, alt.rng_name(name), seed), fillers)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(alt.encode(name, out))
        os.replace(tmp, target)  # atomic: an interrupted run never leaves a half-written copy in the cache
        written += 1
    return written


def _load_small(path: Path):
    from PIL import Image, ImageOps

    # Collage fillers end up in <= 640 px cells, screen tiles in <= 400 px: JPEG draft decoding keeps
    # this cheap for big photos.
    with Image.open(path) as im:
        im.draft("RGB", (1280, 1280))
        return ImageOps.exif_transpose(im).convert("RGB")


def _hash(task: tuple[str, Path, Sequence[tuple[str, bool]]]) -> tuple[str, dict[str, tuple[Any, float]]]:
    key, path, wanted = task
    return key, hash_all(alt.load_rgb(path), wanted)


def _query_one(s: System, alteration: str, photo_id: str, path: Path) -> tuple[tuple[str, str], list[str], float, str | None]:
    img = alt.load_rgb(path)
    t0 = time.perf_counter()
    try:
        ids, err = [str(i) for i in s.query(img)], None
    except Exception as exc:  # counted as "no match" and reported: the library under test may be unfinished
        ids, err = [], f"{type(exc).__name__}: {exc}"
    return (alteration, photo_id), ids, time.perf_counter() - t0, err


def _query_worker(task: tuple[Any, str, str, Path]) -> tuple[tuple[str, str], list[str], float, str | None]:
    from .systems import reopen

    spec, alteration, photo_id, path = task
    return _query_one(reopen(spec), alteration, photo_id, path)


def _pool_map(fn, tasks: list, workers: int, desc: str, progress: bool) -> Iterable:
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress or not tasks, file=sys.stderr, smoothing=0.05)
    try:
        if workers <= 1 or len(tasks) <= 1:
            for t in tasks:
                yield fn(t)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as ex:
                for r in ex.map(fn, tasks, chunksize=2):
                    yield r
                    bar.update()
    finally:
        bar.close()


# --- hash cache (owner-only: it holds hashes of reported photos) ----------------------------------


def _load_cache(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # our own file, written by _save_cache below
    except Exception:  # a truncated cache is rebuilt, not fatal
        return {}


def _save_cache(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


# --- the run --------------------------------------------------------------------------------------


def run(cfg: Config) -> dict[str, Any]:
    """Run the whole benchmark and return the results (see report.py for the files)."""
    from .systems import SYSTEM_NAMES

    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    names = list(cfg.alterations) or list(alt.ALTERATIONS)
    bad = [n for n in names if n not in alt.ALTERATIONS]
    if bad:
        msg = f"--alterations: unknown {', '.join(bad)}; expected some of {', '.join(alt.ALTERATIONS)}"
        raise ValueError(msg)
    photos = list_photos(cfg.images)
    reported_all, distractors_all = split(photos, cfg.reported, cfg.seed)
    reported = reported_all[: cfg.limit_reported] if cfg.limit_reported is not None else reported_all
    distractors = distractors_all[: cfg.limit_distractors] if cfg.limit_distractors is not None else distractors_all
    source = dict(photos)
    distractor_ids = [d for d, _ in distractors_all]
    root = cache_root(cfg)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)

    # 1. altered copies, cached as files.
    tasks = []
    for pid, path in reported + distractors:
        targets = {n: copy_path(root, n, pid, path) for n in names if n != "original"}
        targets = {n: t for n, t in targets.items() if not t.is_file()}
        if targets:
            tasks.append((pid, path, targets, _filler_paths(pid, targets, distractor_ids, source, cfg.seed), cfg.seed))
    t0 = time.perf_counter()
    n_written = sum(_pool_map(_generate, tasks, cfg.workers, "altered copies", cfg.progress))
    gen_seconds = time.perf_counter() - t0

    queries = [Query(n, pid, is_rep, copy_path(root, n, pid, path)) for n in names for is_rep, group in ((True, reported), (False, distractors)) for pid, path in group]

    # 2. systems.
    system_names = list(cfg.systems) or list(SYSTEM_NAMES)
    outcomes: list[Outcome] = []
    systems: list[System] = []
    for sn in system_names:
        s = sn if isinstance(sn, System) else make_system(sn, root / "stores")
        ok, reason = s.available()
        outcomes.append(Outcome(s.name, ok, reason, s.note))
        systems.append(s)
    hash_systems = [(s, o) for s, o in zip(systems, outcomes) if o.available and isinstance(s, HashSystem)]
    for s, o in zip(systems, outcomes):
        if o.available and s.slow and cfg.sample_slow == 0:
            o.available, o.reason = False, "skipped: --sample-slow 0"

    def sample_for(s: System) -> list[Query]:
        if not s.slow or cfg.sample_slow < 0:
            return queries
        # The same N reported and N distractor photos for every alteration, drawn by a seeded hash of
        # their ids (sorted ids would favour whichever source sorts first).
        chosen = set()
        for group in (reported, distractors):
            ranked = sorted(group, key=lambda p: hashlib.sha256(f"{cfg.seed}\0sample\0{p[0]}".encode()).digest())
            chosen.update(pid for pid, _ in ranked[: cfg.sample_slow])
        return [q for q in queries if q.photo_id in chosen]

    # 3. peers: hash every needed file once per system (parallel, cached), then look up in-process.
    caches = {s.name: _load_cache(root / "hashes" / f"{s.name}.pkl") for s, o in hash_systems if o.available}
    wanted: dict[str, tuple[Path, list[tuple[str, bool]]]] = {}
    for s, o in hash_systems:
        if not o.available:
            continue
        for pid, path in reported:
            key = f"reported/{pid}"
            if key not in caches[s.name]:
                wanted.setdefault(key, (path, []))[1].append((s.name, True))
        for q in sample_for(s):
            key = f"{q.alteration}/{q.photo_id}"
            if key not in caches[s.name]:
                wanted.setdefault(key, (q.path, []))[1].append((s.name, False))
    hash_tasks = [(k, p, w) for k, (p, w) in wanted.items()]
    dirty = 0
    for key, result in _pool_map(_hash, hash_tasks, cfg.workers, "peer hashes", cfg.progress):
        for sname, value in result.items():
            caches[sname][key] = value
        dirty += 1
        if dirty % 500 == 0:  # an interrupted run keeps most of its work
            for sname, data in caches.items():
                _save_cache(root / "hashes" / f"{sname}.pkl", data)
    if dirty:
        for sname, data in caches.items():
            _save_cache(root / "hashes" / f"{sname}.pkl", data)

    for s, o in hash_systems:
        if not o.available:
            continue
        cache = caches[s.name]
        t0 = time.perf_counter()
        s.index([(pid, cache[f"reported/{pid}"][0]) for pid, _ in reported])
        o.build_seconds = sum(cache[f"reported/{pid}"][1] for pid, _ in reported) + time.perf_counter() - t0
        sample = sample_for(s)
        o.sampled = cfg.sample_slow if s.slow and cfg.sample_slow >= 0 else None
        for q in sample:
            h, secs = cache[f"{q.alteration}/{q.photo_id}"]
            t1 = time.perf_counter()
            ids = s.lookup(h)
            o.answers[(q.alteration, q.photo_id)] = ids
            o.seconds[(q.alteration, q.photo_id)] = secs + time.perf_counter() - t1

    # 4. other systems (photomatch): build and query in this process, guarded.
    for s, o in zip(systems, outcomes):
        if not o.available or isinstance(s, HashSystem):
            continue
        try:
            t0 = time.perf_counter()
            s.build(reported)
            o.build_seconds = time.perf_counter() - t0
        except Exception as exc:  # the library under test may be unfinished: report, run the rest
            o.available, o.reason = False, f"build failed: {type(exc).__name__}: {exc}"
            s.close()
            continue
        sample = sample_for(s)
        o.sampled = cfg.sample_slow if s.slow and cfg.sample_slow >= 0 else None
        spec = s.reopen_spec()
        if spec is not None and cfg.workers > 1:
            # Each worker reopens the built store once; every query is timed where it runs.
            tasks = [(spec, q.alteration, q.photo_id, q.path) for q in sample]
            results = _pool_map(_query_worker, tasks, cfg.workers, s.name, cfg.progress)
        else:
            results = (_query_one(s, q.alteration, q.photo_id, q.path) for q in tqdm(sample, desc=s.name, disable=not cfg.progress, file=sys.stderr, smoothing=0.05))
        for key, ids, secs, err in results:
            o.answers[key], o.seconds[key] = ids, secs
            if err is not None:
                o.errors += 1
                if len(o.error_examples) < 5:
                    o.error_examples.append(f"{key[0]}/{key[1]}: {err}")
            if o.errors >= 20 and o.errors == len(o.answers):  # broken, not unlucky: report it as such
                o.available, o.reason = False, f"every query raised, e.g. {o.error_examples[0]}"
                break
        s.close()

    return {
        "config": {
            "images": str(cfg.images),
            "command": cfg.command,
            "n_photos": len(photos),
            "reported": len(reported),
            "distractors": len(distractors),
            "reported_in_split": len(reported_all),
            "distractors_in_split": len(distractors_all),
            "seed": cfg.seed,
            "alterations": names,
            "alterations_version": alt.VERSION,
            "workers": cfg.workers,
            "sample_slow": cfg.sample_slow,
            "copies_generated": n_written,
            "load_average": round(load_start, 2),
            "generation_seconds": round(gen_seconds, 2),
        },
        "queries": queries,
        "outcomes": outcomes,
        "elapsed_seconds": time.perf_counter() - t_start,
    }


def metrics(queries: Sequence[Query], outcome: Outcome, names: Sequence[str]) -> dict[str, Any]:
    """Recall and false-match rate per alteration and overall for one system.

    recall = reported copies whose answer contains the right reported id / reported copies queried;
    fmr = distractor copies whose answer is not empty / distractor copies queried.
    """
    per: dict[str, dict[str, Any]] = {}
    for n in names:
        per[n] = {"n_reported": 0, "hits": 0, "wrong": 0, "n_distractor": 0, "false_matches": 0}
    total_seconds, n_queries = 0.0, 0
    for q in queries:
        key = (q.alteration, q.photo_id)
        if key not in outcome.answers:
            continue
        ids = outcome.answers[key]
        total_seconds += outcome.seconds.get(key, 0.0)
        n_queries += 1
        row = per[q.alteration]
        if q.reported:
            row["n_reported"] += 1
            row["hits"] += q.photo_id in ids
            row["wrong"] += any(i != q.photo_id for i in ids)  # another reported photo named too
        else:
            row["n_distractor"] += 1
            row["false_matches"] += bool(ids)
    for row in per.values():
        row["recall"] = row["hits"] / row["n_reported"] if row["n_reported"] else None
        row["fmr"] = row["false_matches"] / row["n_distractor"] if row["n_distractor"] else None
    nd = sum(r["n_distractor"] for r in per.values())
    fm = sum(r["false_matches"] for r in per.values())
    recalls = [r["recall"] for n, r in per.items() if r["recall"] is not None and n != "original"]
    return {
        "per_alteration": per,
        "overall": {
            "n_distractor": nd,
            "false_matches": fm,
            "fmr": fm / nd if nd else None,
            "mean_recall_altered": float(np.mean(recalls)) if recalls else None,
            "queries": n_queries,
            "query_seconds": total_seconds,
            "queries_per_second": n_queries / total_seconds if total_seconds > 0 else None,
        },
    }
