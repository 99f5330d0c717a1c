"""The ``photomatch`` command line.

Exit codes follow grep: 0 success (for ``match``: something matched), 1 nothing matched,
2 when any input failed (each bad input is reported on stderr by name; the rest still run).
Every option is checked before any work starts; a usage mistake or any other expected failure
is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, NoReturn

from PIL import Image
from tqdm import tqdm

from . import __version__
from ._accel import IMPLEMENTATION
from ._fileio import output_kind
from .algorithms import ALGORITHMS, CHOICES, IMAGE_NAMES, NAMES, PDQ, PHASH, VPDQ
from .algorithms import get as get_algorithm
from .dedup import find_groups
from .demo import run_demo
from ._text import csv_cell, escape, escaped
from .errors import OutputPathError, PhotomatchError, run_item
from .evidence import ReportWriter, check_report
from .files import iter_image_paths
from .hashing import HashResult, RegionHash, hash_files, region_hashes
from .hashlists import HashRecord, export_hash_list, import_hash_list, write_hash_list
from ._parallel import ordered_map, resolve_workers
from .matcher import MODES, MatchResult, Matcher
from .videomatch import VideoOptions
from .vpdq import COMPARED_MATCH_PERCENT, QUERY_MATCH_PERCENT, read_video_hash, vpdq
from .scan import FloodGuard, Scan, ignore_path

EXIT_OK, EXIT_NO_MATCH, EXIT_ERROR = 0, 1, 2


class _Errors:
    """Reports bad inputs on stderr by name and remembers that one happened."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, name: str, reason: str) -> None:
        self.count += 1
        # tqdm.write keeps the progress bar intact when one is shown
        tqdm.write(f"photomatch: {escape(name)}: {escape(reason)}", file=sys.stderr)

    def exception(self, e: BaseException) -> None:
        self.count += 1
        tqdm.write(f"photomatch: {escape(str(e))}", file=sys.stderr)

    def problem(self, p: Any) -> None:
        """A scan's input failure (photomatch.sources.Problem): where, then why."""
        self.count += 1
        tqdm.write(f"photomatch: {escape(str(p))}", file=sys.stderr)


class _StderrLog(logging.Handler):
    """The package's warnings (a damaged index cache rebuilt...) as lines like every other
    message: prefixed, escaped, past the progress bar; ``sys.stderr`` looked up at each line."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(f"photomatch: {escape(record.getMessage())}", file=sys.stderr)


def _log_to_stderr() -> None:
    logger = logging.getLogger("photomatch")
    if not any(isinstance(h, _StderrLog) for h in logger.handlers):
        logger.addHandler(_StderrLog(logging.WARNING))


def _notes(name: str, notes: Sequence[str]) -> None:
    """Stages skipped for one image (not an error: the image was handled without them)."""
    for note in notes:
        tqdm.write(f"photomatch: {escape(name)}: {escape(note)}", file=sys.stderr)


def progress(items: Iterator[Any], *, desc: str, unit: str = "img") -> Iterator[Any]:
    """A progress bar on stderr, only when stderr is a terminal."""
    return tqdm(items, desc=desc, unit=unit, disable=not sys.stderr.isatty(), file=sys.stderr, leave=False)


# --- hash ------------------------------------------------------------------------------------

HASH_FIELDS = ("path", "algo", "hex", "quality")


class HashWriter:
    """Writes ``photomatch hash`` lines in one of three formats, all readable as hash lists."""

    def __init__(self, out: IO[str], fmt: str) -> None:
        self.out, self.fmt = out, fmt
        if fmt == "csv":
            self._csv = csv.writer(out, lineterminator="\r\n")  # RFC 4180: a bare CR in a path gets quoted
            self._csv.writerow(HASH_FIELDS)
        elif fmt == "text":
            out.write("#" + "\t".join(HASH_FIELDS) + "\n")

    def write(self, r: HashResult) -> None:
        h = r.hash
        if h is None:
            return
        quality = "" if h.quality is None else h.quality
        if self.fmt == "jsonl":
            rec = {"path": escape(r.path), "algo": h.algorithm, "hex": h.hex, "quality": h.quality}
            self.out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            self._csv.writerow((csv_cell(escape(r.path)), h.algorithm, h.hex, quality))
        else:
            self.out.write(f"{escape(r.path)}\t{h.algorithm}\t{h.hex}\t{quality}\n")


def cmd_hash(args: argparse.Namespace) -> int:
    if args.algo == VPDQ.name:
        return _hash_videos(args)
    errors = _Errors()
    if args.regions:
        return _hash_regions(args, errors)
    writer = HashWriter(sys.stdout, args.format)
    paths = iter_image_paths(args.paths, on_error=errors)
    results = hash_files(paths, args.algo, workers=args.workers, exact=args.exact)
    for r in progress(results, desc="hashing"):
        if r.ok:
            writer.write(r)
        else:
            errors.exception(r.error)
    sys.stdout.flush()
    return EXIT_ERROR if errors.count else EXIT_OK


def _hash_videos(args: argparse.Namespace) -> int:
    """vPDQ of each video: the reference's text lines (a "# path" line before each video when
    there are several), JSON lines with python-threatexchange's frame strings, or CSV rows."""
    errors = _Errors()
    paths = list(iter_image_paths(args.paths, on_error=errors, videos=True))
    out = sys.stdout
    rows = csv.writer(out, lineterminator="\r\n") if args.format == "csv" else None
    if rows is not None:
        rows.writerow(("path", "frame", "quality", "hex", "timestamp"))

    def one(p: str) -> tuple[str, Any, Exception | None]:
        try:
            return p, vpdq(p, seconds_per_hash=1.0 / args.fps, exact=args.exact), None
        except PhotomatchError as e:
            return p, None, e

    for p, h, err in progress(ordered_map(one, paths, workers=resolve_workers(args.workers)), desc="hashing",
                              unit="video"):
        if err is not None:
            errors.exception(err)
            continue
        if h.skipped:
            print(f"photomatch: {p}: {h.skipped} frame(s) skipped ({h.notes[0]})", file=sys.stderr)
        if args.format == "jsonl":
            rec = {"path": p, "algo": VPDQ.name, "frames": json.loads(h.to_json())}
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        elif rows is not None:
            for f in h.features:
                rows.writerow((p, f.frame, f.quality, f.hash.hex, f"{f.timestamp:.3f}"))
        else:
            if len(paths) > 1:
                out.write(f"# {_one_line(p)}\n")
            out.write(h.to_text())
    out.flush()
    return EXIT_ERROR if errors.count else EXIT_OK


def _hash_regions(args: argparse.Namespace, errors: _Errors) -> int:
    """``hash --regions``: a hash list with every region hash ``add`` would store, one item id
    (the file's number in this run) on each row, as ``import`` reads it back."""
    paths = iter_image_paths(args.paths, on_error=errors)

    def one(p: str) -> tuple[str, list[RegionHash] | None, Exception | None]:
        found, error = run_item(p, lambda: region_hashes(p, args.algo))
        return p, found, error

    def records() -> Iterator[HashRecord]:
        results = ordered_map(one, paths, workers=resolve_workers(args.workers))
        for n, (p, found, error) in enumerate(progress(results, desc="hashing"), start=1):
            if error is not None:
                errors.exception(error)
                continue
            for r in found or ():
                yield HashRecord(r.hash.algorithm, r.hash.hex, r.hash.quality, str(n), None, p, r.region_kind, r.box)

    write_hash_list(records(), sys.stdout, format=args.format)
    sys.stdout.flush()
    return EXIT_ERROR if errors.count else EXIT_OK


# --- store commands --------------------------------------------------------------------------


def _open_matcher(path: str, *, create: bool, reading: bool = False) -> Any:
    """A command that only reads (match, info, export) still works on a store it cannot write
    (read-only media): the store then opens read-only (and saves no index cache)."""
    return Matcher(path, create=create, read_only="auto" if reading else False)


def cmd_add(args: argparse.Namespace) -> int:
    errors = _Errors()
    added = existing = 0
    with _open_matcher(args.store, create=True) as m:
        paths = iter_image_paths(args.paths, on_error=errors, videos=True)
        results = m.add_many(paths, label=args.label, algorithm=args.algo, features=args.features, workers=args.workers)
        for r in progress(results, desc="adding"):
            _notes(r.source, r.notes)
            if not r.ok:
                errors.exception(r.error)
            elif r.existing:
                existing += 1
            else:
                added += 1
        total = len(m)
    note = f", {existing} already there" if existing else ""
    print(f"added {added} image(s){note}; {total} item(s) in {args.store}", file=sys.stderr)
    return EXIT_ERROR if errors.count else EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    if args.address is not None and not args.ray:
        print("photomatch: --address needs --ray", file=sys.stderr)
        return EXIT_ERROR
    errors = _Errors()
    with _open_matcher(args.store, create=False, reading=True) as m, _open_ignore_list(args.store) as ignore:
        report = _open_report(args, m.store) if args.report is not None else None  # before any work
        video_options = VideoOptions(fps=args.fps, query_percent=args.video_query_percent,
                                     compared_percent=args.video_compared_percent)
        # On Ray the paths are gathered first (a dataset is built from the list); results come back in order.
        match_many = (lambda paths: _match_on_ray(args, list(paths), video_options)) if args.ray else None
        scan = Scan(m, ignore=ignore, flood=FloodGuard(args.flood_share, args.flood_min), on_problem=errors.problem,
                    on_error=errors.exception, progress=lambda it: progress(it, desc="matching"),
                    match_many=match_many, correspondences=report is not None, mode=args.mode,
                    threshold=args.threshold, phash_threshold=args.phash_threshold, workers=args.workers,
                    exact=args.exact, dihedral=not args.no_dihedral, video_options=video_options)
        records = scan.run(args.paths)
        try:
            for rec in records:
                _notes(rec["query"], rec.get("notes", ()))
                if report is not None:
                    report.add(rec)  # with the verified matches' correspondences, which stdout leaves out
                    rec = _without_correspondences(rec)
                if args.json:
                    print(json.dumps(escaped(rec), ensure_ascii=False), flush=False)
                else:
                    _print_match_table(escaped(rec))
        finally:
            records.close()
        sys.stdout.flush()
        summary = scan.summary
        for line in summary.lines():
            print(f"photomatch: {escape(line)}", file=sys.stderr)
        if report is not None:
            page = report.finish(summary=summary.to_json())
            print(f"photomatch: report: {page}\nphotomatch: manifest sha256: {report.manifest_sha256} (note it down "
                  "apart from the folder: it vouches for the manifest)", file=sys.stderr)
    if errors.count:
        return EXIT_ERROR
    return EXIT_OK if summary.matched else EXIT_NO_MATCH


def _without_correspondences(rec: dict[str, Any]) -> dict[str, Any]:
    """A record as ``match --json`` documents it (the report's copy has the correspondences)."""
    out = dict(rec)
    for key in ("matches", "ignored"):
        if key in rec:
            out[key] = [{k: v for k, v in m.items() if k != "correspondences"} for m in rec[key]]
    return out


def _open_report(args: argparse.Namespace, store: Any) -> ReportWriter:
    parameters = {
        "store": args.store, "inputs": list(args.paths), "mode": args.mode,
        "threshold": PDQ.default_threshold if args.threshold is None else args.threshold,
        "phash_threshold": PHASH.default_threshold if args.phash_threshold is None else args.phash_threshold,
        "exact": args.exact, "dihedral": not args.no_dihedral, "workers": args.workers, "ray": args.ray,
        "flood_share": args.flood_share, "flood_min": args.flood_min,
        "ignore_list": os.path.exists(ignore_path(args.store)),
    }
    return ReportWriter(args.report, store=store, parameters=parameters, inputs=args.paths, workers=args.workers)


def cmd_verify_report(args: argparse.Namespace) -> int:
    differences = check_report(args.folder)
    for d in differences:
        print(d)
    if differences:
        print(f"photomatch: {args.folder}: {len(differences)} file(s) differ from the manifest", file=sys.stderr)
        return EXIT_NO_MATCH
    print(f"{args.folder}: every file matches the manifest", file=sys.stderr)
    return EXIT_OK


def _match_on_ray(args: argparse.Namespace, paths: list[str], video_options: VideoOptions) -> Iterator[Any]:
    """``match`` on a Ray cluster (at ``--address``, else a local one): the same results, in order."""
    try:
        import ray

        from . import ray as on_ray
    except ImportError:
        raise PhotomatchError("--ray needs Ray Data: pip install 'photomatch[ray]'") from None
    on_ray.prepare_store(args.store)  # a missing store fails before a cluster starts
    # Ray's own progress bars and start-up lines would mix with ours on stderr.
    logging.getLogger("ray").setLevel(logging.ERROR)
    started = not ray.is_initialized()  # a program that called ray.init itself keeps its cluster
    if started:
        ray.init(address=args.address, num_cpus=args.workers if args.address is None else None,
                 include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        ds = on_ray.match_dataset(on_ray.read_images(paths), args.store, mode=args.mode, threshold=args.threshold,
                                  phash_threshold=args.phash_threshold, exact=args.exact,
                                  dihedral=not args.no_dihedral, workers=args.workers,
                                  video_options=video_options)
        for row in ds.iter_rows():
            yield MatchResult.from_json(row)
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def _open_ignore_list(store: str) -> Iterator[Any]:
    path = ignore_path(store)
    if not os.path.exists(path):
        yield None
        return
    with _open_matcher(path, create=False, reading=True) as m:
        yield m


def _print_match_table(rec: dict[str, Any]) -> None:
    query = rec["query"]
    where = ""
    if "message" in rec:
        msg = rec["message"]
        where = f"\tchat={msg['chat']}\tmessage={msg['id']}\tdate={msg['date']}"
    if "error" in rec:
        print(f"{query}\terror{where}")
    elif not rec["matches"] and not rec.get("ignored"):
        print(f"{query}\tno match{where}")
    for x in rec["matches"]:
        flag = ("  LOW QUALITY" if x["low_quality"] else "") + ("  FLOOD" if x["flood"] else "")
        label = x["label"] if x["label"] is not None else "-"
        source = x["source"] if x["source"] is not None else "-"
        box = "" if x["region"] is None else "\tregion=" + ",".join(map(str, x["region"]))
        stage = x["stage"] + (" verified" if x["verified"] and x["stage"] != "verified" else "")
        if "time" in x:
            box += "\ttime=" + ",".join(f"{a:g}-{b:g}s" for a, b in x["time"])
        print(f"{query}\tid={x['id']}\tdistance={x['distance']}\t{x['algo']}\t{stage}"
              f"\tlabel={label}\tsource={source}{box}{where}{flag}")
    for x in rec.get("ignored", ()):
        print(f"{query}\tid={x['id']}\tignored: {x['ignored_by']['reason'] or 'on the ignore list'}{where}")


def cmd_ignore(args: argparse.Namespace) -> int:
    """Known-benign images go to the store's ignore list: a store of their own beside it, so
    that they are never exported, counted or matched as reported items."""
    if not os.path.exists(args.store):
        msg = f"{args.store}: no such store"
        raise PhotomatchError(msg)
    errors = _Errors()
    added = 0
    with _open_matcher(ignore_path(args.store), create=True) as m:
        paths = iter_image_paths(args.paths, on_error=errors)
        for r in m.add_many(paths, label=args.reason, features=True, workers=args.workers):
            if not r.ok:
                errors.exception(r.error)
            elif not r.existing:
                added += 1
        total = len(m)
    print(f"ignored {added} image(s); {total} on the ignore list of {args.store}", file=sys.stderr)
    return EXIT_ERROR if errors.count else EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    with _open_matcher(args.store, create=False) as m:
        n = m.remove(args.ids)
    print(f"removed {n} of {len(args.ids)} item(s)", file=sys.stderr)
    return EXIT_OK if n == len(args.ids) else EXIT_NO_MATCH


def cmd_info(args: argparse.Namespace) -> int:
    with _open_matcher(args.store, create=False, reading=True) as m:
        info = m.info()
    if args.json:
        print(json.dumps(info, default=str))
    else:
        for k, v in info.items():
            print(f"{k}: {v}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    video_hash = read_video_hash(args.file)  # None unless the file is a vPDQ hash
    if video_hash is not None:
        with _open_matcher(args.store, create=True) as m:
            m.add_video_hash(video_hash, label=args.label, source=os.path.abspath(args.file))
        print(f"imported a video of {len(video_hash)} vPDQ frame hash(es) from {args.file}", file=sys.stderr)
        return EXIT_OK
    new_store = not os.path.lexists(args.store)
    try:
        with _open_matcher(args.store, create=True) as m:
            n, skipped = import_hash_list(m.store, args.file, skip_invalid=args.skip_invalid, label=args.label)
    except PhotomatchError:
        if new_store:  # a failed import must not leave an empty store behind
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(args.store + suffix)
        raise
    for s in skipped:
        print(f"photomatch: skipped {escape(str(s))}", file=sys.stderr)
    note = f"; skipped {len(skipped)} bad line(s)" if skipped else ""
    print(f"imported {n} hash(es) from {args.file}{note}", file=sys.stderr)
    # Like every batch with bad items: the good ones are in, and the exit status says some were not.
    return EXIT_ERROR if skipped else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    with _open_matcher(args.store, create=False, reading=True) as m:
        try:  # -, a FIFO, a device, a file: _fileio.open_output decides how
            export_hash_list(m.store, args.output, format=args.format)
        except OSError as e:  # e.g. a full disk: the old file, if any, is left as it was
            raise PhotomatchError(f"{escape(args.output)}: cannot write: {e.strerror}") from e
    return EXIT_OK


def cmd_dedup(args: argparse.Namespace) -> int:
    errors = _Errors()
    paths = iter_image_paths(args.paths, on_error=errors)
    results = progress(hash_files(paths, args.algo, workers=args.workers), desc="hashing")

    def good() -> Iterator[Any]:
        for r in results:
            if r.ok:
                yield r
            else:
                errors.exception(r.error)

    groups = find_groups(good(), threshold=args.threshold)
    for g in groups:
        if args.json:
            print(json.dumps({"group": [{"path": escape(p), "distance": d} for p, d in g]}, ensure_ascii=False))
        else:
            print("\n".join(f"{escape(p)}\t{d}" for p, d in g) + "\n")
    if errors.count:
        return EXIT_ERROR
    return EXIT_OK if groups else EXIT_NO_MATCH


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(out=args.out, images=args.images)


# --- parser ----------------------------------------------------------------------------------


class _UsageError(Exception):
    """An option that argparse cannot check alone (it depends on another one)."""


def _usage_line(prog: str, message: str) -> str:
    return f"{prog}: error: {message} (see {prog} --help)\n"


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported on one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, _usage_line(self.prog, message))


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (inclusive; None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < low or (high is not None and v > high):
            bound = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {v}")
        return v

    return parse


_positive_int = _whole_number(1)
_MAX_BITS = max(a.bits for a in ALGORITHMS.values())


def _check_dedup(args: argparse.Namespace) -> None:
    if args.threshold is not None:
        try:
            get_algorithm(args.algo).check_threshold(args.threshold)
        except ValueError as e:
            raise _UsageError(f"argument --threshold: {e}") from None


def _check_output(args: argparse.Namespace) -> None:
    try:
        output_kind(args.output)
    except OutputPathError as e:
        raise _UsageError(f"argument -o/--output: {e}") from None


def _check_demo(args: argparse.Namespace) -> None:
    if os.path.lexists(args.out) and not os.path.isdir(args.out):  # a file, a FIFO, /dev/null
        raise _UsageError(f"argument --out: {args.out}: exists and is not a folder")


def _share(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 1, got {text}")
    return v


def _frame_rate(text: str) -> float:
    return _bounded_number(text, 0, 60, "more than 0 and at most 60", strict=True)


def _percent(text: str) -> float:
    return _bounded_number(text, 0, 100, "from 0 to 100", strict=False)


def _bounded_number(text: str, low: float, high: float, what: str, *, strict: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (low < v <= high if strict else low <= v <= high):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="photomatch",
        description="Find altered copies of reported photos (PDQ and pHash, exact Hamming search).",
    )
    parser.add_argument("--version", action="version", version=f"photomatch {__version__} ({IMPLEMENTATION} core)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("hash", help="print the hash of each image (folders are walked recursively)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--algo", choices=NAMES, default=PDQ.name)
    p.add_argument("--format", choices=("text", "jsonl", "csv"), default="text")
    p.add_argument("--workers", type=_positive_int, default=None, help="threads (default: CPUs)")
    p.add_argument("--exact", action="store_true",
                   help="decode JPEGs fully (bit-exact with the references; slower); "
                        "vpdq: the reference's single-precision luma")
    p.add_argument("--fps", type=_frame_rate, default=1.0,
                   help="vpdq: frames hashed per second of video (default 1, the reference's)")
    p.add_argument("--regions", action="store_true",
                   help="a hash list of every region hash 'add' would store (whole, borders trimmed, "
                        "centre square...), one item id per file on each row; decoded exactly")
    p.set_defaults(func=cmd_hash)

    p = sub.add_parser("add", help="add reported images to a store (created if absent)")
    p.add_argument("store", metavar="STORE")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--label", default=None, help="a label kept with each item (e.g. a case number)")
    p.add_argument("--algo", choices=CHOICES, default=PDQ.name)
    p.add_argument("--features", action=argparse.BooleanOptionalAction, default=True,
                   help="keep local features (ORB keypoints) for geometric verification (default): finds crops, "
                        "collages and small rotations; they are derived from the picture (see README's privacy "
                        "section); --no-features keeps hashes only")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("match", help="find reported images in query images; exit 0 matched, 1 none, 2 errors")
    p.add_argument("store", metavar="STORE")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--threshold", type=_whole_number(0, PDQ.bits), default=None,
                   help=f"PDQ Hamming threshold, 0-{PDQ.bits} (default {PDQ.default_threshold})")
    p.add_argument("--phash-threshold", type=_whole_number(0, PHASH.bits), default=None,
                   help=f"pHash Hamming threshold, 0-{PHASH.bits} (default {PHASH.default_threshold})")
    p.add_argument("--json", action="store_true", help="one JSON object per query on its own line")
    p.add_argument("--mode", choices=MODES, default=MODES[0],
                   help="robust (default): also look inside the query (borders, screenshots, collages); "
                        "fast: whole-image hashes only")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.add_argument("--exact", action="store_true", help="decode JPEGs fully (slower)")
    p.add_argument("--no-dihedral", action="store_true", help="don't try the query's rotations and flips")
    p.add_argument("--fps", type=_frame_rate, default=1.0,
                   help="video frames sampled per second, plus scene changes (default 1)")
    p.add_argument("--video-query-percent", type=_percent, default=QUERY_MATCH_PERCENT, metavar="P",
                   help="vPDQ: share of the query video's frames that must match (default %(default)s)")
    p.add_argument("--video-compared-percent", type=_percent, default=COMPARED_MATCH_PERCENT, metavar="P",
                   help="vPDQ: share of the reported video's frames that must match (default %(default)s)")
    p.add_argument("--ray", action="store_true",
                   help="run on a Ray cluster (needs photomatch[ray]); --workers actors, each opening the store once")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --ray: the cluster to use (default: start a local one)")
    p.add_argument("--flood-share", type=_share, default=0.05, metavar="FRACTION",
                   help="flag a reported item matching more than this share of the images read (default 0.05)")
    p.add_argument("--flood-min", type=_positive_int, default=100, metavar="N",
                   help="... once at least N images were read (default 100)")
    p.add_argument("--report", metavar="DIR", default=None,
                   help="also write an evidence report in DIR (a new or empty folder, made owner-only): "
                        "report.html, matches.jsonl, matches.csv, the pictures and manifest.json")
    p.set_defaults(func=cmd_match)

    p = sub.add_parser("verify-report", help="check a report folder against its manifest; exit 0 unchanged, "
                                             "1 naming each changed, missing or added file")
    p.add_argument("folder", metavar="DIR")
    p.set_defaults(func=cmd_verify_report)

    p = sub.add_parser("ignore", help="add known-benign images to a store's ignore list (false alarms, logos)")
    p.add_argument("store", metavar="STORE")
    p.add_argument("paths", nargs="+", metavar="IMAGE")
    p.add_argument("--reason", default=None, help="why they are benign (shown with each ignored match)")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.set_defaults(func=cmd_ignore)

    p = sub.add_parser("remove", help="remove items by id")
    p.add_argument("store", metavar="STORE")
    p.add_argument("ids", nargs="+", type=int, metavar="ID")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("info", help="what a store holds")
    p.add_argument("store", metavar="STORE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("import", help="import a hash list (CSV, TSV or JSON lines) into a store")
    p.add_argument("store", metavar="STORE")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--label", default=None)
    p.add_argument("--skip-invalid", action="store_true", help="skip malformed lines (each is reported)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write a store's hashes as a hash list")
    p.add_argument("store", metavar="STORE")
    p.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    p.add_argument("--format", choices=("csv", "tsv", "jsonl"), default="csv")
    p.set_defaults(func=cmd_export, check=_check_output)

    p = sub.add_parser("dedup", help="groups of near-duplicate images within folders")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--algo", choices=IMAGE_NAMES, default=PDQ.name)
    p.add_argument("--threshold", type=_whole_number(0, _MAX_BITS), default=None,
                   help="default: " + ", ".join(f"{a.default_threshold} for {a.name}" for a in ALGORITHMS.values()))
    p.add_argument("--json", action="store_true")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.set_defaults(func=cmd_dedup, check=_check_dedup)

    p = sub.add_parser("demo", help="end-to-end demo: a store of sample photos, altered copies, the matches")
    p.add_argument("--images", default=None, help="a folder of your own photos (default: scikit-image samples)")
    p.add_argument("--out", default="photomatch-demo", help="folder for the store and the altered copies")
    p.set_defaults(func=cmd_demo, check=_check_demo)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The loader refuses oversized images itself, naming the file; Pillow's own warning about
    # them would only be noise on stderr.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    _log_to_stderr()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "check", None) is not None:
            args.check(args)
    except _UsageError as e:
        print(_usage_line(f"{parser.prog} {args.command}", escape(str(e))), end="", file=sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except PhotomatchError as e:
        print(f"photomatch: {escape(str(e))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("photomatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
