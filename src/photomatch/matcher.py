"""Matcher: the store of reported images and the search for their copies.

It composes the other modules: ``loading`` reads images once, ``hashing`` computes PDQ/pHash
(PDQ with its 8 rotations/flips on the query side), ``store`` keeps items and hashes in SQLite
with an exact Hamming index beside it, ``regions`` finds where a reported photo may sit inside a
query (borders, screenshots, collages), and ``verify``/``features`` confirm candidates with local
features when the store keeps them (opt-in).

Two modes:

- ``"fast"``: whole-image hashes only (PDQ and its 8 rotations/flips, pHash). Finds resized,
  re-encoded, recoloured, rotated by 90 degrees and mirrored copies.
- ``"robust"`` (the default): also hashes candidate regions of the query (borders trimmed,
  photos inside screenshots and collages) against every stored region hash of the reported
  images (whole and border-trimmed) and, when the store keeps local features of reported images,
  retrieves candidates by feature votes and confirms them geometrically. Finds crops, borders,
  screenshots, collages and small rotations, and says where in the query the reported photo sits.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np
from PIL import Image

from . import hashing, loading, regions, repairs, video, videomatch
from .loading import ImageSource
from .regions import Box
from .algorithms import ALGORITHMS, PDQ, PHASH, Algorithm, select
from .algorithms import get as get_algorithm
from ._codes import hamming
from ._fileio import sha256_file
from .errors import HashFormatError, PhotomatchError, run_item
from ._parallel import ordered_map, resolve_workers
from .hashing import DIHEDRAL_NAMES, Hash, reported_hashes
from .store import Store
from .verify import (MIN_FEATURE_SIDE, Features, Verification, extract_features, feature_stage_skipped,
                     shift_correspondences, verify, verify_view, view_features)
from .videomatch import VideoOptions, VideoSummary
from .vpdq import VideoHash
from .vpdq import vpdq as vpdq_hash

MODES = ("robust", "fast")
"""``match``'s modes (and the CLI's ``--mode`` choices); the first is the default."""

CANDIDATE_THRESHOLD = 64
"""Looser PDQ distance up to which a region hash makes an item a candidate for geometric
verification (reported only if verification confirms it; needs stored features)."""

FEATURE_CANDIDATES = 4
"""Items with most local-feature votes that are verified per query."""

REPAIR_LOOSE = 44 / 31
"""In the repair stage, any view of the query may match at this many times the PDQ threshold (44 at
the default 31) when another family of views of the query (the whole image, its regions,
another repair) lands within ``REPAIR_AGREE`` times the threshold (64) of the same item, and
both hashes are of good quality. Set from ``benchmarks/hashonly_fmr.py``: against 1e5 unrelated
hashes, the measured tail extended log-linearly gives under 10 false matches per 1e6 queries
against a 1e6-entry list at 44 without counting the second family (benchmarks/README.md)."""

REPAIR_AGREE = 64 / 31

VIEW_CANDIDATES = 2
"""Items with most local-feature votes that are verified per small view (avatar, grid tile)."""

VIEW_MIN_VOTES = 4
"""Votes below which a small view's candidate is not verified: a view has 50-300 descriptors,
and an unrelated item collects a few votes by chance (verifying it costs ~1 ms for nothing)."""

CAPTION_MARGIN = 0.2
"""Fraction of the query's height left out at the top and at the bottom when nothing
matched and the query is verified again on its central band: meme captions there hold the
strongest corners and take most of the keypoint budget (figures in benchmarks/README.md)."""

#: The longest side the robust stages work at (the whole-image hashes always see every pixel). A
#: JPEG's draft decode is already smaller; this bounds a giant PNG or TIFF's cost (issue 9).
ROBUST_MAX_SIDE = 4096

FRAME_SKIPPED = "frame skipped: "
"""How a video's note about a frame the decoder skipped begins (the reason follows)."""


@dataclass(frozen=True)
class Match:
    """One reported item found in a query.

    ``algorithm`` names the hash that matched (the JSON key is ``algo``, the documented output
    contract), ``distance`` is the Hamming distance of the best hash pair, ``region`` the box
    ``(x, y, w, h)`` in query pixels where the reported image sits (the whole query for
    whole-image matches), ``stage`` what matched (``"whole"``), ``transform`` the rotation/flip
    of the query that matched, ``score`` a value in [0, 1] that can be thresholded (1 = identical),
    and ``low_quality`` is set when either PDQ hash has quality below ``PDQ.quality_floor``: such
    matches are reported but should not be trusted without a look. ``correspondences``, for
    verified matches, holds the geometric fit's inliers as ``(reported x, y, query x, y)``
    keypoint pairs, in the reported image's and the query file's pixels (the evidence report
    draws them); ``to_json`` leaves them out unless asked.
    """

    id: int
    label: str | None
    source: str | None
    distance: int
    algorithm: str
    quality: int | None
    low_quality: bool
    region: Box | None
    stage: str
    transform: str
    verified: bool
    score: float
    correspondences: tuple[tuple[float, float, float, float], ...] = field(default=(), repr=False)
    time: tuple[tuple[float, float], ...] | None = None
    percent: tuple[float, float] | None = None

    def to_json(self, *, correspondences: bool = False) -> dict[str, Any]:
        """The ``match --json`` fields; ``correspondences=True`` adds them (verified matches).

        In a video query, ``time`` lists the ``[start_s, end_s]`` spans where the item is seen;
        a reported video matched by vPDQ's rule (``algo`` "vpdq") has ``query_match`` and
        ``compared_match``, the percentages of unique frames matched on each side."""
        d = {("algo" if k == "algorithm" else k): v for k, v in asdict(self).items()}
        d["region"] = list(self.region) if self.region is not None else None
        time, percent = d.pop("time"), d.pop("percent")
        if time is not None:
            d["time"] = [list(span) for span in time]
        if percent is not None:
            d["query_match"], d["compared_match"] = percent
        pairs = d.pop("correspondences")
        if correspondences:
            d["correspondences"] = [list(p) for p in pairs]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Match:
        """The match that ``to_json`` gave ``d`` (without correspondences)."""
        fields_ = {("algorithm" if k == "algo" else k): v for k, v in d.items()}
        region = fields_.get("region")
        fields_["region"] = None if region is None else tuple(region)
        # A table row has every field, null where the match has none (an image's time, a photo's percentages).
        time = fields_.get("time")
        fields_["time"] = None if time is None else tuple(tuple(span) for span in time)
        percent = fields_.pop("query_match", None), fields_.pop("compared_match", None)
        fields_["percent"] = None if percent == (None, None) else percent
        fields_["correspondences"] = tuple(tuple(p) for p in fields_.get("correspondences", ()))
        return cls(**fields_)


@dataclass(frozen=True)
class MatchResult:
    """One query of ``match_many``: its matches, or the error that stopped it.

    ``query_hash`` holds the query's own whole-image hashes by algorithm: PDQ always, pHash when
    the store holds pHashes (so it was computed); each equals what ``hash_image`` (and
    ``photomatch hash``) gives for the query with the same ``exact`` option. Empty when the query
    could not be read.
    """

    query: str
    matches: list[Match]
    error: Exception | None = None
    notes: tuple[str, ...] = ()  # stages that could not run on this query, and why
    video: VideoSummary | None = None  # for a video query: frames matched, skipped, and why
    query_hash: Mapping[str, Hash] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self, *, correspondences: bool = False) -> dict[str, Any]:
        """The ``match --json`` line: ``query``, ``query_hash`` (``{algorithm: {"hex", "quality"}}``),
        ``matches`` (with their correspondences if asked), for a query that failed ``error``, for
        a video ``frames`` and ``skipped_frames``, and ``notes`` when a stage could not run on
        the query (a frame skipped, the features of a 1-px-high banner)."""
        out: dict[str, Any] = {
            "query": self.query,
            "query_hash": {a: {"hex": h.hex, "quality": h.quality} for a, h in self.query_hash.items()},
            "matches": [m.to_json(correspondences=correspondences) for m in self.matches],
        }
        if self.error is not None:
            out["error"] = str(self.error)
        if self.video is not None:
            out["frames"], out["skipped_frames"] = self.video.frames, self.video.skipped
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MatchResult:
        """The result that ``to_json`` gave ``d`` (a field left null, as a table stores it, is absent)."""
        own = {a: Hash.from_hex(h["hex"], a, h["quality"]) for a, h in (d.get("query_hash") or {}).items() if h}
        error = d.get("error")
        notes = tuple(d.get("notes") or ())
        video = None
        if d.get("frames") is not None:
            reasons = tuple(n[len(FRAME_SKIPPED):] for n in notes if n.startswith(FRAME_SKIPPED))
            video = VideoSummary(d["frames"], d.get("skipped_frames") or 0, reasons)
        return cls(d["query"], [Match.from_json(m) for m in d["matches"]],
                   None if error is None else PhotomatchError(error), notes, video, query_hash=own)


@dataclass(frozen=True)
class AddResult:
    """One image of ``add_many``: the item id, or the error; ``existing`` when already stored;
    ``notes`` say what could not be kept for this image (e.g. local features of a 1-px-high banner)."""

    source: str
    id: int | None
    error: Exception | None = None
    existing: bool = False
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Prepared:
    """What adding one image needs, computed off the main thread."""

    source: str | None
    hashes: list[tuple[str, bytes, int | None, Box | None, str]]
    sha256: str | None
    size: int | None
    features: bytes | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Query:
    """A query image's hashes (and, in robust mode, regions and features), computed off the main thread."""

    name: str
    size: tuple[int, int] | None  # (width, height) in the file's pixels; None for a bare hash
    pdq: list[tuple[str, bytes]]  # (transform, bits) of the whole image
    pdq_quality: int
    phash: bytes | None
    regions: list[tuple[Box, bytes, int, int]]  # (box in the file's pixels, pdq bits, quality, view index or -1)
    features: Features | None
    scale: float  # file pixels per decoded pixel
    pixels: np.ndarray | None = None  # decoded RGB, kept in robust mode for the caption fallback
    notes: tuple[str, ...] = ()
    own: Mapping[str, Hash] = field(default_factory=dict)  # the whole image's hashes, as hash_image gives them
    # Small views of a screen (regions.screen_regions) with their own features: (box in decoded
    # pixels, region kind, features); empty for plain photos or without stored features.
    views: tuple[tuple[Box, str, Features], ...] = ()


class Matcher:
    """Reported images (or their hashes) in one store file, and the search for their copies.

    >>> import os, tempfile
    >>> import numpy as np
    >>> y, x = np.mgrid[0:120, 0:160]
    >>> photo = np.stack([128 + 100 * np.sin(x / 9) * np.cos(y / 13), x * 1.5, 255 - 2 * y], axis=-1).astype(np.uint8)
    >>> with Matcher(os.path.join(tempfile.mkdtemp(), "reports.db")) as m:
    ...     [item] = m.add([photo], label="case 1")
    ...     [match] = m.match(photo[:, ::-1])          # a mirrored copy
    ...     match.label, match.distance <= 31, match.transform
    ('case 1', True, 'flipy')
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 10.0,
                 max_pixels: int = loading.DEFAULT_MAX_PIXELS, read_only: bool | str = False) -> None:
        self.path = os.fspath(path)
        self.max_pixels = max_pixels
        self.store = Store(self.path, create=create, timeout=timeout, read_only=read_only)
        self._features = StoreFeatures(self.store)

    # --- context ---------------------------------------------------------------------------

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- adding ----------------------------------------------------------------------------

    def add(self, images: Iterable[ImageSource], *, label: str | None = None, algorithm: str = "pdq",
            features: bool = False, workers: int | None = None) -> list[int]:
        """Add reported images; all or nothing: a bad image raises before anything is stored.

        ``algorithm`` is ``"pdq"``, ``"phash"`` or ``"both"`` (``photomatch.algorithms.CHOICES``). PDQ hashes are kept for the whole image
        and for it with uniform borders trimmed. ``features=True`` also keeps compact local
        features (ORB keypoints) for the robust mode's geometric verification: they make crops,
        small rotations and collages findable, but they are derived from the picture (see the
        privacy note in ``photomatch.verify``). Returns the new item ids in order.
        """
        algos, n = select(algorithm), resolve_workers(workers)
        prepared = list(ordered_map(lambda im: self._prepare(im, algos, features), list(images), workers=n))
        return self.store.add_items([self._item_spec(p, label) for p in prepared])

    def add_many(self, paths: Iterable[str | os.PathLike[str]], *, label: str | None = None, algorithm: str = "pdq",
                 features: bool = False, workers: int | None = None,
                 skip_existing: bool = True) -> Iterator[AddResult]:
        """Add image files one by one, streaming; a bad file is reported in its result and skipped.

        With ``skip_existing`` a file whose bytes (sha256) are already stored is not added again.
        Options are checked at the call, before any file is read.
        """
        algos, n = select(algorithm), resolve_workers(workers)

        def prepare(p: str) -> tuple[str, _Prepared | None, PhotomatchError | None]:
            return (p, *run_item(p, lambda: self._prepare(p, algos, features)))

        return self._add_prepared(ordered_map(prepare, (os.fspath(x) for x in paths), workers=n), label,
                                  skip_existing)

    def _add_prepared(self, prepared: Iterator[tuple[str, _Prepared | None, PhotomatchError | None]],
                      label: str | None, skip_existing: bool) -> Iterator[AddResult]:
        for p, prep, err in prepared:
            if prep is None:
                yield AddResult(p, None, err)
                continue
            if skip_existing and prep.sha256 is not None:
                existing = self.store.find_sha256(prep.sha256)
                if existing is not None:
                    yield AddResult(p, existing, None, existing=True)
                    continue
            [item] = self.store.add_items([self._item_spec(prep, label)])
            yield AddResult(p, item, notes=prep.notes)

    @staticmethod
    def _item_spec(p: _Prepared, label: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = dict(hashes=p.hashes, label=label, source=p.source, sha256=p.sha256, size=p.size)
        if p.features is not None:
            spec["keypoints"] = p.features
        return spec

    def add_hashes(self, hashes: Iterable[Hash | str], *, label: str | None = None,
                   source: str | None = None) -> list[int]:
        """Add hashes received without pictures (hex strings or ``Hash`` values), one item each."""
        items = []
        for given in hashes:
            h = _as_hash(given)
            items.append(dict(hashes=[(h.algorithm, h.bits, h.quality, None, "whole")], label=label, source=source))
        return self.store.add_items(items)

    def remove(self, ids: Iterable[int]) -> int:
        """Remove items (and all their hashes and features); returns how many existed."""
        return self.store.remove([int(i) for i in ids])

    def info(self) -> dict[str, Any]:
        return self.store.info()

    def __len__(self) -> int:
        return self.store.count()

    def add_video_hash(self, video_hash: VideoHash, *, label: str | None = None, source: str | None = None) -> int:
        """Add a reported video known by its vPDQ hash (``VideoHash.from_text``/``from_json``)."""
        return self.store.add_items([dict(hashes=_vpdq_rows(video_hash), label=label, source=source)])[0]

    def _prepare(self, image: ImageSource, algos: tuple[Algorithm, ...], features: bool) -> _Prepared:
        source, sha, size = _describe(image)
        if video.is_video(image):  # a reported video: its vPDQ frame hashes (algorithms are for images)
            return _Prepared(source, _vpdq_rows(vpdq_hash(image)), sha, size, None)
        # The reported side is decoded exactly: these hashes are kept and may be shared.
        rgb = loading.load_rgb(image, max_pixels=self.max_pixels)
        hashes = [(r.hash.algorithm, r.hash.bits, r.hash.quality, r.box, r.region_kind)
                  for algorithm in algos for r in reported_hashes(rgb, algorithm)]
        # A legal image too thin for local features keeps its hashes; the result says so.
        skipped = feature_stage_skipped(rgb.shape) if features else None
        blob = extract_features(rgb).to_bytes() if features and skipped is None else None
        return _Prepared(source, hashes, sha, size, blob, (skipped,) if skipped else ())

    # --- matching --------------------------------------------------------------------------

    def match(self, image: ImageSource, *, mode: str = "robust", threshold: int | None = None,
              phash_threshold: int | None = None, dihedral: bool = True, exact: bool = False,
              video_options: VideoOptions | None = None) -> list[Match]:
        """Reported items found in a query image, best first.

        PDQ matches within ``threshold`` (default 31) of the query or, with ``dihedral``, of any
        of its 8 rotations/flips; pHash items within ``phash_threshold`` (default 10). ``mode``
        ``"robust"`` (default) also looks for the reported photos inside the query (see the
        module docstring); ``"fast"`` compares whole images only.

        A video (a path or bytes) is matched frame by frame (``photomatch.videomatch``): each
        match then carries the ``time`` spans where the item is seen; reported videos match by
        vPDQ's rule. ``video_options`` sets the sampling and vPDQ's percentages.
        """
        thresholds = check_match_options(mode, threshold, phash_threshold)
        if video.is_video(image):
            return self._match_video(image, mode, *thresholds, dihedral, video_options)[0]
        algos = self._stored_algorithms(features=mode == "robust")
        q = self._hash_query(image, mode=mode, dihedral=dihedral, exact=exact, algos=algos)
        return self._search(q, *thresholds)

    def match_hash(self, query: Hash | str, *, threshold: int | None = None,
                   phash_threshold: int | None = None) -> list[Match]:
        """Reported items whose stored hashes are near a query hash (a ``Hash`` or hex digits).

        The whole-image search of ``match`` without the pixels: no rotations, regions or
        features; matches carry no region.

        >>> import os, tempfile
        >>> with Matcher(os.path.join(tempfile.mkdtemp(), "reports.db")) as m:
        ...     [item] = m.add_hashes(["f" * 64], label="case 1")
        ...     [(x.label, x.distance) for x in m.match_hash("f" * 63 + "0")]
        [('case 1', 4)]
        """
        h = _as_hash(query)
        quality = 100 if h.quality is None else h.quality  # unknown: don't flag the query side
        q = _Query("<hash>", None, [("original", h.bits)] if h.algorithm == "pdq" else [], quality,
                   h.bits if h.algorithm == "phash" else None, [], None, 1.0)
        return self._search(q, PDQ.check_threshold(threshold), PHASH.check_threshold(phash_threshold))

    def _match_video(self, source: Any, mode: str, threshold: int | None, phash_threshold: int | None,
                     dihedral: bool, options: VideoOptions | None,
                     workers: int | None = None) -> tuple[list[Match], VideoSummary]:
        return videomatch.match_video(self, source, mode=mode, threshold=threshold, phash_threshold=phash_threshold,
                                      dihedral=dihedral, options=options or VideoOptions(), workers=workers)

    def match_many(self, images: Iterable[ImageSource], *, mode: str = "robust", threshold: int | None = None,
                   phash_threshold: int | None = None, dihedral: bool = True, exact: bool = False,
                   workers: int | None = None, video_options: VideoOptions | None = None) -> Iterator[MatchResult]:
        """``match`` over many images: decoded and hashed on a thread pool, streamed in order.

        A query that can't be read, or whose search fails (the store stayed locked, say), gives a
        ``MatchResult`` with ``error`` set; the rest go on. Options are checked at the call, before
        any image is read or thread started.
        """
        thresholds = check_match_options(mode, threshold, phash_threshold)
        n = resolve_workers(workers)
        algos = self._stored_algorithms(features=mode == "robust")

        def run(im: ImageSource) -> MatchResult:
            name = loading.source_name(im)

            if video.is_video(im):
                found_video, video_error = run_item(name, lambda: self._match_video(
                    im, mode, *thresholds, dihedral, video_options, n))
                if found_video is None:
                    return MatchResult(name, [], video_error)
                summary = found_video[1]
                notes = tuple(f"{FRAME_SKIPPED}{reason}" for reason in summary.notes)
                return MatchResult(name, found_video[0], notes=notes, video=summary)

            q, error = run_item(name, lambda: self._hash_query(im, mode=mode, dihedral=dihedral, exact=exact,
                                                               algos=algos))
            if q is None:
                return MatchResult(name, [], error)
            # A search that fails (the store stayed locked) keeps the query's own hashes.
            matches, error = run_item(name, lambda: self._search(q, *thresholds))
            return MatchResult(name, matches or [], error, q.notes, query_hash=q.own)

        # Searching and verifying run on the pool too: the store is thread-safe, the feature
        # index is built above and only read, and OpenCV/FAISS release the GIL.
        return ordered_map(run, images, workers=n)

    def _stored_algorithms(self, *, features: bool) -> frozenset[str]:
        """What the store holds to search: "pdq", "phash" and, when asked, "features" (loaded)."""
        found = {a for a in ALGORITHMS if self.store.has_algorithm(a)}
        if features and self.store.has_features():
            found.add("features")
        return frozenset(found)

    def _hash_query(self, image: ImageSource, *, mode: str, dihedral: bool, exact: bool,
                    algos: frozenset[str]) -> _Query:
        name = loading.source_name(image)
        robust = mode == "robust"
        # The whole-image hashes come from the very decode ``hash_image`` (and so ``photomatch
        # hash``) makes: on the fast path a JPEG's luma plane. Regions and features need colour:
        # the RGB decode at the same scale, unless that decode already is RGB (not a JPEG, or exact).
        whole = hashing.decode(image, PDQ.name, exact=exact, max_pixels=self.max_pixels)
        pixels, scale = whole
        if robust and pixels.ndim == 2:
            draft = None if exact else PDQ.draft_min_side
            pixels, scale = loading.load_pixels(image, max_pixels=self.max_pixels, draft_min_side=draft)
        size = (round(pixels.shape[1] * scale), round(pixels.shape[0] * scale))
        if robust and max(pixels.shape[:2]) > ROBUST_MAX_SIDE and min(pixels.shape[:2]) > MIN_FEATURE_SIDE:
            # The robust stages (regions, views, features, repairs) work on one copy of bounded size,
            # as they do on a JPEG's draft decode, so a giant PNG or TIFF costs them no more than that.
            # A thin image keeps the short side local features need (verify.MIN_FEATURE_SIDE).
            f = min(1.0, max(ROBUST_MAX_SIDE / max(pixels.shape[:2]), MIN_FEATURE_SIDE / min(pixels.shape[:2])))
            pixels = cv2.resize(pixels, (max(1, round(pixels.shape[1] * f)), max(1, round(pixels.shape[0] * f))),
                                interpolation=cv2.INTER_AREA)
            scale /= f
        searched = "pdq" in algos or "features" in algos
        pdq: list[tuple[str, bytes]] = []
        found: list[tuple[Box, bytes, int, int]] = []
        views: list[tuple[Box, str, Features]] = []
        if searched and dihedral:
            own_pdq, variants = hashing.pdq_and_dihedral(whole.array)
            pdq = [(n, v.bits) for n, v in zip(DIHEDRAL_NAMES, variants)]
        else:  # without dihedral variants, or only for query_hash (a store of pHashes only)
            own_pdq = hashing.hash_pixels(whole.array, PDQ.name)
            pdq = [("original", own_pdq.bits)] if searched else []
        own = {PDQ.name: own_pdq}
        if searched and robust:
            for box, region_kind in regions.query_regions(pixels):
                if region_kind != "whole":
                    h = hashing.hash_pixels(regions.crop(pixels, box), PDQ.name)
                    found.append((_scale_box(box, scale), h.bits, int(h.quality or 0), -1))
        if "phash" in algos:
            # pHash's own draft scale; an RGB decode is the same at every scale (drafts are JPEG luma only).
            src = whole if whole.array.ndim == 3 else hashing.decode(image, PHASH.name, exact=exact,
                                                                    max_pixels=self.max_pixels)
            own[PHASH.name] = hashing.hash_pixels(src.array, PHASH.name)
        ph = own[PHASH.name].bits if PHASH.name in own else None
        # Verification adapts to the query: one too thin for local features is matched by its hashes.
        skipped = feature_stage_skipped(pixels.shape) if robust and "features" in algos else None
        if searched and robust:
            found_views, views = self._hash_views(pixels, scale, "features" in algos and skipped is None)
            found += found_views
        feats = extract_features(pixels) if robust and "features" in algos and skipped is None else None
        return _Query(name, size, pdq, int(own_pdq.quality or 0), ph, found, feats, scale,
                      pixels if robust else None, (skipped,) if skipped else (), own, tuple(views))

    @staticmethod
    def _hash_views(pixels: np.ndarray, scale: float, features: bool
                    ) -> tuple[list[tuple[Box, bytes, int, int]], list[tuple[Box, str, Features]]]:
        """Hashes (and, with ``features``, local features) of a screen's small views: round
        avatars, rounded pictures, grid tiles (``regions.screen_regions``; none for most photos).
        A view's hash carries its index, so a loose hash hit is verified on that view's features."""
        found: list[tuple[Box, bytes, int, int]] = []
        views: list[tuple[Box, str, Features]] = []
        for box, region_kind in regions.screen_regions(pixels):
            h = hashing.hash_pixels(regions.view_pixels(pixels, box, region_kind), PDQ.name)
            index = -1
            if features:
                index = len(views)
                views.append((box, region_kind, view_features(pixels, box, round_view=region_kind == "circle")))
            found.append((_scale_box(box, scale), h.bits, int(h.quality or 0), index))
        return found, views

    def _search(self, q: _Query, t_pdq: int, t_ph: int) -> list[Match]:
        floor = PDQ.quality_floor or 0
        best: dict[int, Match] = {}
        whole = None if q.size is None else (0, 0, q.size[0], q.size[1])
        candidates: dict[int, Box | None] = {}
        view_candidates: dict[int, set[int]] = {}  # view index -> items whose hash came loosely close
        if q.pdq:
            codes = np.frombuffer(b"".join(b for _, b in q.pdq), dtype=np.uint8).reshape(len(q.pdq), PDQ.nbytes)
            for (transform, _), hits in zip(q.pdq, self.store.range_search("pdq", codes, t_pdq)):
                for hit in hits:
                    low = q.pdq_quality < floor or (hit.quality is not None and hit.quality < floor)
                    self._keep(best, hit.item_id, "pdq", hit.distance, hit.quality, low, whole, "whole", transform)
        if q.regions:
            codes = np.frombuffer(b"".join(b for _, b, _, _ in q.regions), dtype=np.uint8).reshape(len(q.regions), PDQ.nbytes)
            loose = max(t_pdq, CANDIDATE_THRESHOLD) if q.features is not None else t_pdq
            for (box, _, quality, view), hits in zip(q.regions, self.store.range_search("pdq", codes, loose)):
                for hit in hits:
                    if hit.distance <= t_pdq:
                        low = quality < floor or (hit.quality is not None and hit.quality < floor)
                        self._keep(best, hit.item_id, "pdq", hit.distance, hit.quality, low, box, "region", "original")
                    elif view >= 0:
                        view_candidates.setdefault(view, set()).add(hit.item_id)
                    else:
                        candidates.setdefault(hit.item_id, box)
        if q.phash is not None:
            codes = np.frombuffer(q.phash, dtype=np.uint8).reshape(1, PHASH.nbytes)
            for hit in self.store.range_search("phash", codes, t_ph)[0]:
                self._keep(best, hit.item_id, "phash", hit.distance, None, False, whole, "whole", "original")
        if q.features is not None:
            self._verify(q, best, candidates, view_candidates)
        if not best and q.pixels is not None and q.pdq:
            self._repair(q, best, t_pdq)
        return sorted(best.values(), key=lambda m: (-m.score, m.id))

    def _repair(self, q: _Query, best: dict[int, Match], threshold: int) -> None:
        """Nothing found: search the query's repaired views (straightened, uncropped;
        ``photomatch.repairs``), and the uncropped views of its main region, against every PDQ hash.

        A repaired view within ``threshold`` matches. Any view (the whole image and its
        rotations, a region, a repair) within ``REPAIR_LOOSE`` x threshold matches only when
        another family of views agrees within ``REPAIR_AGREE`` x threshold (``accept_repair``).
        """
        agree = round(threshold * REPAIR_AGREE)
        floor = PDQ.quality_floor or 0
        whole = None if q.size is None else (0, 0, q.size[0], q.size[1])
        # (family, transform, box in file pixels, bits, quality) of every view; the plain ones are already hashed.
        views = [("whole", transform, whole, bits, q.pdq_quality) for transform, bits in q.pdq]
        views += [("region", "original", box, bits, quality) for box, bits, quality, _ in q.regions]
        repaired = [(family, whole, view) for family, view in repairs.repair_views(q.pixels)]
        if q.regions:  # the main region (a meme's photo between its caption bands) may be a crop too
            box = q.regions[0][0]
            inner = regions.crop(q.pixels, tuple(round(v / q.scale) for v in box))
            repaired += [("uncropped", box, view) for view in repairs.uncrop_views(inner)]
        for family, box, view in repaired:
            h = hashing.hash_pixels(view, PDQ.name)
            views.append((family, family, box, h.bits, int(h.quality or 0)))
        codes = _as_array([bits for _, _, _, bits, _ in views])
        per_item: dict[int, dict[str, tuple[int, Box | None, str, int, int | None]]] = {}
        for (family, transform, box, _, quality), hits in zip(views, self.store.range_search("pdq", codes, agree)):
            for hit in hits:
                fams = per_item.setdefault(hit.item_id, {})
                if family not in fams or hit.distance < fams[family][0]:
                    fams[family] = (hit.distance, box, transform, quality, hit.quality)
        for item_id, fams in per_item.items():
            distance, box, transform, quality, stored_quality = min(fams.values(), key=lambda v: v[0])
            good = quality >= floor and (stored_quality is None or stored_quality >= floor)
            if accept_repair(distance, len(fams), good, threshold):
                self._keep(best, item_id, "pdq", distance, stored_quality, not good, box, "repaired", transform)

    def _verify(self, q: _Query, best: dict[int, Match], candidates: dict[int, Box | None],
                view_candidates: dict[int, set[int]]) -> None:
        """Confirm hash matches and loose candidates, and find more by local-feature votes."""
        if q.features is None:
            return
        for item, _votes in self._features.search(q.features, top=FEATURE_CANDIDATES):
            candidates.setdefault(item, None)
        for item in list(best) + [c for c in candidates if c not in best]:
            try:
                reported = self._features.features_of(item)
            except KeyError:
                continue  # an item stored without features: its hash match stands as it is
            v = verify(q.features, reported)
            if v.ok:
                self._confirm(best, item, v, q)
        # Small views after the whole query: a copy confirmed whole keeps the box of the whole.
        if q.views:
            self._verify_views(q, best, view_candidates)
        # Only queries that matched nothing pay for a second extraction (copies of reported photos
        # that matched, confirmed or not, keep their speed).
        if q.pixels is not None and not best:
            self._verify_band(q, best)

    def _verify_views(self, q: _Query, best: dict[int, Match], view_candidates: dict[int, set[int]]) -> None:
        """Vote and verify per small view (avatar, grid tile): each view's own keypoints, in one
        index search, its own most-voted items and loose hash hits, the small-view rule."""
        votes = self._features.search_many([f for _, _, f in q.views], top=VIEW_CANDIDATES)
        for i, ((x, y, _, _), _kind, f) in enumerate(q.views):
            items = [item for item, n in votes[i] if n >= VIEW_MIN_VOTES]
            items += [item for item in sorted(view_candidates.get(i, ())) if item not in items]
            for item in items:
                old = best.get(item)
                if old is not None and old.verified:
                    continue
                try:
                    reported = self._features.features_of(item)
                except KeyError:
                    continue  # stored without features
                v = verify_view(f, reported, (x, y))
                if v.ok:
                    self._confirm(best, item, v, q)

    def _verify_band(self, q: _Query, best: dict[int, Match]) -> None:
        """Nothing found: vote and verify again on the query's central band (captions left out)."""
        if q.pixels is None or q.pixels.ndim != 3:
            return
        h, w = q.pixels.shape[:2]
        margin = int(h * CAPTION_MARGIN)
        if h - 2 * margin < 32:
            return
        # Verified in the band's own pixels, as verify_region does: the inliers must spread over
        # the visible part of the photo, not over the captions that hide the rest.
        band = extract_features(np.ascontiguousarray(q.pixels[margin : h - margin]))
        for item, _votes in self._features.search(band, top=FEATURE_CANDIDATES):
            try:
                reported = self._features.features_of(item)
            except KeyError:
                continue  # removed by another process since the search
            v = verify(band, reported)
            if not v.ok or v.transform is None:
                continue
            # Report where the whole photo sits under the captions: its corners mapped into the query.
            rw, rh = reported.size
            corners = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float64) @ v.transform[:, :2].T
            corners += v.transform[:, 2] + (0, margin)
            x0, y0 = np.maximum(0, np.floor(corners.min(axis=0))).astype(int)
            x1, y1 = np.minimum((w, h), np.ceil(corners.max(axis=0))).astype(int)
            box = (int(x0), int(y0), int(x1 - x0), int(y1 - y0)) if x1 > x0 and y1 > y0 else None
            pairs = shift_correspondences(v.correspondences, 0, margin)
            self._confirm(best, item, replace(v, box_in_query=box, correspondences=pairs), q)

    def _confirm(self, best: dict[int, Match], item: int, v: Verification, q: _Query) -> None:
        old = best.get(item)
        box = _scale_box(v.box_in_query, q.scale) if v.box_in_query is not None else None
        score = round(max(old.score if old else 0.0, min(1.0, 0.5 + v.inliers / 200)), 4)
        pairs = _file_pixels(v.correspondences, q.scale)
        if old is not None:
            best[item] = replace(old, verified=True, score=score, region=box or old.region,
                                 stage="verified" if old.stage == "region" else old.stage, correspondences=pairs)
            return
        rec = self.store.get_item(item)
        if rec is None:
            return
        # Found by local features: report the closest of its PDQ hashes to any of the query's.
        query_codes = [b for _, b in q.pdq] + [b for _, b, _, _ in q.regions]
        stored = [h for h in rec.hashes if h.algorithm == "pdq"]
        closest = (hamming(_as_array(query_codes)[:, None, :], _as_array([h.bits for h in stored])[None, :, :])
                   .min(axis=0).tolist() if query_codes and stored else [])
        distance, quality = min(zip(closest, (h.quality for h in stored)), default=(PDQ.bits, None))
        best[item] = Match(id=item, label=rec.label, source=rec.source, distance=distance, algorithm=PDQ.name,
                           quality=quality, low_quality=False, region=box, stage="verified", transform="original",
                           verified=True, score=score, correspondences=pairs)

    def _keep(self, best: dict[int, Match], item_id: int, algorithm: str, distance: int, quality: int | None,
              low: bool, region: Box | None, stage: str, transform: str) -> None:
        score = max(0.0, 1.0 - distance / (get_algorithm(algorithm).bits / 2))
        old = best.get(item_id)
        if old is not None and old.score >= score:
            return
        item = self.store.get_item(item_id)
        if item is None:  # removed by another process since the search
            return
        best[item_id] = Match(
            id=item_id, label=item.label, source=item.source, distance=int(distance), algorithm=algorithm,
            quality=quality, low_quality=low, region=region, stage=stage, transform=transform,
            verified=False, score=round(score, 4),
        )


class StoreFeatures:
    """The reported side of local-feature matching, as the matcher uses it: ``search`` (which
    items a query's features vote for: the store's persistent feature index) and ``features_of``
    (an item's own features for verification, read from the store when needed; the last
    ``cached`` stay in memory, as a query verifies the same few candidates several times)."""

    def __init__(self, store: Store, *, cached: int = 256) -> None:
        self._store = store
        self._cached = cached
        self._recent: OrderedDict[int, Features] = OrderedDict()
        self._lock = threading.Lock()

    def search(self, query: Features, *, top: int) -> list[tuple[int, int]]:
        return self._store.feature_votes(query, top=top)

    def search_many(self, queries: list[Features], *, top: int) -> list[list[tuple[int, int]]]:
        return self._store.feature_votes_many(queries, top=top)

    def features_of(self, item_id: int) -> Features:
        """The stored features of ``item_id`` (KeyError if it keeps none)."""
        with self._lock:
            if item_id in self._recent:
                self._recent.move_to_end(item_id)
                return self._recent[item_id]
        blob = self._store.get_keypoints(item_id)
        if blob is None:
            raise KeyError(item_id)
        features = Features.from_bytes(blob)
        with self._lock:
            self._recent[item_id] = features
            while len(self._recent) > self._cached:
                self._recent.popitem(last=False)
        return features


def accept_repair(distance: int, families: int, good_quality: bool, threshold: int) -> bool:
    """The repair stage's rule for one reported item: the query's closest view is ``distance``
    away, and ``families`` families of the query's views (whole, regions, each repair) come within
    ``REPAIR_AGREE`` x ``threshold`` of it. Within ``threshold``: a match. Within
    ``REPAIR_LOOSE`` x ``threshold``: a match only with two families or more and good quality.

    >>> accept_repair(30, 1, False, 31), accept_repair(40, 2, True, 31), accept_repair(40, 1, True, 31)
    (True, True, False)
    """
    if distance <= threshold:
        return True
    return distance <= round(threshold * REPAIR_LOOSE) and families >= 2 and good_quality


def _as_hash(h: Hash | str) -> Hash:
    if isinstance(h, str):
        return Hash.from_hex(h)
    if not isinstance(h, Hash):
        msg = f"expected a Hash or a hex string, got {type(h).__name__}"
        raise HashFormatError(msg)
    return h


def _vpdq_rows(video_hash: VideoHash) -> list[tuple[str, bytes, int | None, Box | None, str]]:
    return [("vpdq", f.hash.bits, f.quality, None, "frame") for f in video_hash.features]


def check_match_options(mode: str, threshold: int | None, phash_threshold: int | None) -> tuple[int, int]:
    """The (pdq, phash) thresholds, after checking the options of ``match``: the door every
    matching entry point (``Matcher``, ``photomatch.batch``, ``photomatch.ray``) goes through."""
    if mode not in MODES:
        msg = f"unknown mode {mode!r}; expected one of {', '.join(MODES)}"
        raise ValueError(msg)
    return PDQ.check_threshold(threshold), PHASH.check_threshold(phash_threshold)


def _as_array(codes: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(codes), np.uint8).reshape(len(codes), -1)


def _file_pixels(pairs: np.ndarray | None, scale: float) -> tuple[tuple[float, float, float, float], ...]:
    """Inlier pairs with the query side in the file's pixels (decoding may have been scaled), to 0.1 px."""
    if pairs is None:
        return ()
    p = np.asarray(pairs, np.float64) * np.array([1, 1, scale, scale])
    return tuple((rx, ry, qx, qy) for rx, ry, qx, qy in np.round(p, 1).tolist())


def _scale_box(box: Box, scale: float) -> Box:
    x, y, w, h = box
    return (round(x * scale), round(y * scale), round(w * scale), round(h * scale))


def _describe(image: ImageSource) -> tuple[str | None, str | None, int | None]:
    """(source, sha256, size) of an input: files and bytes are fingerprinted, pixels are not."""
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        try:
            # Regular files only, checked on the descriptor: a FIFO would block here and
            # /dev/zero never end, before the loader had a chance to refuse them.
            digest, size = sha256_file(path, max_bytes=loading.MAX_FILE_BYTES)
        except OSError:
            return path, None, None  # the loader reports the problem with its own words
        return os.path.abspath(path), digest, size
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        return None, hashlib.sha256(data).hexdigest(), len(data)
    if isinstance(image, io.IOBase) and hasattr(image, "name"):
        return str(image.name), None, None
    if isinstance(image, Image.Image) and image.filename:
        return str(image.filename), None, None
    return None, None, None
