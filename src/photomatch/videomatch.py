"""Videos as queries: reported photos found in their frames, reported videos by vPDQ's rule.

One decoding pass serves both. Frames are sampled (``fps`` per second plus scene changes, see
``video.VideoReader.sample``), scaled by the decoder to at most ``MAX_SIDE`` pixels, and each goes
through the matcher's image search (whole, regions, verification) on a thread pool; a frame
nearly identical to the previous sample reuses its answer. A reported photo's matches are
merged into time spans over consecutive samples. When the store holds reported videos, the
frames vPDQ's reference would hash are hashed at full size from the same pass and matched
with the exact index.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from . import loading, vpdq
from .algorithms import VPDQ
from ._parallel import ordered_map, resolve_workers
from .video import DEFAULT_MAX_DURATION, DEFAULT_MAX_FRAME_PIXELS, NEAR_IDENTICAL, VideoReader, VideoSource, changed_share

if TYPE_CHECKING:
    from .matcher import Match, Matcher

MAX_SIDE = 1280
"""Longest side of a sampled frame as matched (the decoder scales it): 720p keeps photos shown
small in a 1080p or 4K frame findable at a fraction of the cost; regions are reported in the
video's own pixels."""


@dataclass(frozen=True)
class VideoOptions:
    """How a query video is read and matched with vPDQ's rule (checked before any work)."""

    fps: float = 1.0
    scene_changes: bool = True
    keyframes: bool = False  # also the encoder's keyframes (measured against scene_changes: see benchmarks)
    max_duration: float | None = DEFAULT_MAX_DURATION
    max_pixels: int | None = DEFAULT_MAX_FRAME_PIXELS
    query_percent: float = vpdq.QUERY_MATCH_PERCENT
    compared_percent: float = vpdq.COMPARED_MATCH_PERCENT

    def __post_init__(self) -> None:
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not 0 < self.fps <= 60:
            raise ValueError(f"fps must be a number above 0 and at most 60, got {self.fps!r}")
        for name in ("scene_changes", "keyframes"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        vpdq.check_match_options(VPDQ.default_threshold, VPDQ.quality_floor or 0, self.query_percent,
                                 self.compared_percent)


def check_video_options(options: object) -> None:
    """Raise TypeError unless ``options`` is None (the defaults) or a ``VideoOptions``."""
    if options is not None and not isinstance(options, VideoOptions):
        msg = f"video_options must be a photomatch.videomatch.VideoOptions, got {type(options).__name__}"
        raise TypeError(msg)


@dataclass(frozen=True)
class VideoSummary:
    """What was read of a query video: samples matched, frames skipped, and why; ``searched`` is
    how many samples went through the image search (the others were nearly identical to the
    sample before and took its answer; None when not known, as from a JSON line)."""

    frames: int
    skipped: int
    notes: tuple[str, ...]
    searched: int | None = None


def match_video(matcher: Matcher, source: VideoSource, *, mode: str, threshold: int | None,
                phash_threshold: int | None, dihedral: bool, options: VideoOptions,
                workers: int | None = None) -> tuple[list[Match], VideoSummary]:
    """Reported photos and videos found in a query video, best first, and what was read."""
    algos = matcher._stored_algorithms(features=mode == "robust")
    want_video = "vpdq" in algos
    name = loading.source_name(source)
    # The time each sample covers ends where the next sample starts; spans are built from them.
    per_item: dict[int, list[tuple[float, Match]]] = {}
    times: list[float] = []
    frame_hashes: list[vpdq.VpdqFeature] = []
    with VideoReader(source, max_duration=options.max_duration, max_pixels=options.max_pixels) as video:
        period = max(1, int(video.info.fps)) if video.info.fps > 0 else 1  # vPDQ's 1 s at the video's rate
        fps32 = np.float32(video.info.fps or 1.0)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photomatch-vpdq") if want_video else None

        def tap(n: int, frame: Any) -> None:
            if pool is not None and n % period == 0:
                pending.append(pool.submit(_frame_hash, video, n, frame, fps32))

        pending: deque[Future[vpdq.VpdqFeature]] = deque()

        def samples() -> Iterator[tuple[float, Any]]:
            last_luma = None
            for f in video.sample(fps=options.fps, scene_changes=options.scene_changes,
                                  keyframes=options.keyframes, max_side=MAX_SIDE, tap=tap):
                while len(pending) > 4:
                    frame_hashes.append(pending.popleft().result())
                same = last_luma is not None and f.luma.shape == last_luma.shape and \
                    changed_share(f.luma, last_luma) < NEAR_IDENTICAL
                last_luma = f.luma
                yield f.time, None if same else f

        def run(item: tuple[float, Any]) -> tuple[float, list[Match] | None]:
            t, f = item
            if f is None:
                return t, None
            img = Image.fromarray(f.pixels)
            img.info[loading.DECODE_SCALE] = f.scale
            q = matcher._hash_query(img, mode=mode, dihedral=dihedral, exact=False, algos=algos)
            return t, matcher._search(q, threshold, phash_threshold)

        previous: list[Match] = []
        searched = 0
        try:
            for t, found in ordered_map(run, samples(), workers=resolve_workers(workers)):
                searched += found is not None
                found = previous if found is None else found
                previous = found
                times.append(t)
                for m in found:
                    per_item.setdefault(m.id, []).append((t, m))
            frame_hashes.extend(p.result() for p in pending)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        summary = VideoSummary(len(times), video.skipped, tuple(video.skip_reasons), searched)
        duration = video.info.duration
    end = duration if duration is not None and times and duration > times[-1] else (times[-1] if times else 0.0)
    matches = [_with_spans(hits, times, end) for hits in per_item.values()]
    if want_video:
        matches += _video_matches(matcher, vpdq.VideoHash(tuple(frame_hashes)), options, name)
    seen: dict[tuple[int, str], Match] = {}
    for m in matches:  # a reported video may match by frames and by vPDQ: keep both kinds apart
        seen.setdefault((m.id, m.algorithm), m)
    return sorted(seen.values(), key=lambda m: (-m.score, m.id)), summary


def _frame_hash(video: VideoReader, n: int, frame: Any, fps32: np.float32) -> vpdq.VpdqFeature:
    from .hashing import Hash

    rgb, _ = video.rgb(frame, rotate=False)
    bits, quality = VPDQ.hash_pixels(rgb)
    return vpdq.VpdqFeature(n, Hash("pdq", bits, quality), float(np.float32(n) / fps32))


def _with_spans(hits: list[tuple[float, Match]], times: list[float], end: float) -> Match:
    """The item's best frame match, with the time spans of consecutive samples where it was seen."""
    index = {t: i for i, t in enumerate(times)}
    spans: list[list[float]] = []
    last = -2
    for t, _ in hits:
        i = index[t]
        stop = times[i + 1] if i + 1 < len(times) else end
        if i == last + 1 and spans:
            spans[-1][1] = stop
        else:
            spans.append([t, stop])
        last = i
    best = max((m for _, m in hits), key=lambda m: (m.score, -m.distance))
    return replace(best, time=tuple((round(a, 3), round(b, 3)) for a, b in spans))


def _video_matches(matcher: Matcher, query: vpdq.VideoHash, options: VideoOptions, name: str) -> list[Match]:
    """Reported videos that match the query's vPDQ frames by vPDQ's rule, through the exact index."""
    from .matcher import Match

    floor = VPDQ.quality_floor or 0
    usable = query.usable(floor)
    if not usable:
        return []
    times = {}
    for f in query.features:
        times.setdefault(f.hash.bits, f.timestamp)
    codes = np.frombuffer(b"".join(usable), np.uint8).reshape(-1, VPDQ.nbytes)
    hits = matcher.store.range_search("vpdq", codes, VPDQ.default_threshold)
    matched_query: dict[int, set[int]] = {}
    matched_hashes: dict[int, set[int]] = {}
    best: dict[int, int] = {}
    for qi, row in enumerate(hits):
        for hit in row:
            if hit.quality is not None and hit.quality < floor:
                continue
            matched_query.setdefault(hit.item_id, set()).add(qi)
            matched_hashes.setdefault(hit.item_id, set()).add(hit.hash_id)
            best[hit.item_id] = min(best.get(hit.item_id, 256), hit.distance)
    out = []
    for item_id, qset in matched_query.items():
        item = matcher.store.get_item(item_id)
        if item is None:
            continue
        frames = [h for h in item.hashes if h.algorithm == "vpdq"]
        first: dict[bytes, int] = {}
        for h in frames:
            first.setdefault(h.bits, h.hash_id if (h.quality or 0) >= floor else -1)
        unique = {hid for hid in first.values() if hid >= 0}
        by_bits = {h.hash_id: h.bits for h in frames}
        matched_bits = {by_bits[h] for h in matched_hashes[item_id]}
        c_pct = 100.0 * len({first[b] for b in matched_bits} & unique) / max(1, len(unique))
        q_pct = 100.0 * len(qset) / len(usable)
        if not vpdq.passes(q_pct, c_pct, options.query_percent, options.compared_percent):
            continue
        spans = _spans_of(sorted(times[usable[i]] for i in qset))
        out.append(Match(id=item_id, label=item.label, source=item.source, distance=best[item_id],
                         algorithm="vpdq", quality=None, low_quality=False, region=None, stage="video",
                         transform="original", verified=False, score=round(min(q_pct, 100.0) / 100, 4),
                         time=spans, percent=(round(q_pct, 2), round(c_pct, 2))))
    return out


def _spans_of(stamps: list[float], gap: float = 1.5) -> tuple[tuple[float, float], ...]:
    """Timestamps merged into spans where consecutive ones are at most ``gap`` seconds apart."""
    spans: list[list[float]] = []
    for t in stamps:
        if spans and t - spans[-1][1] <= gap:
            spans[-1][1] = t
        else:
            spans.append([t, t])
    return tuple((round(a, 3), round(b, 3)) for a, b in spans)
