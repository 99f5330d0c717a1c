"""vPDQ, Meta's video hash: PDQ of frames at a fixed period, its text formats and its match rule.

Computed as the reference (ThreatExchange ``vpdq/cpp``) computes it: every frame is decoded, the
frames numbered ``n`` in decoder output order with ``n % int(seconds_per_hash * fps) == 0`` are
converted to RGB24 at their coded size by swscale (area filter) and hashed with PDQ; the
timestamp is ``n / fps`` in single precision, ``fps`` the stream's average frame rate. The
reference hashes the stored pixels, so the display rotation is not applied unless asked.

Our PDQ kernel computes luma in double (as ``pdqhash`` does); the vPDQ reference in float.
``exact=True`` takes the reference's float luma (through the numpy twin, slower) and then gives
the reference's bits on the same pixels; the default may differ in rare bits (see the README).

Matching follows vPDQ's rule: frames of quality below 50 are dropped, duplicate frame hashes
counted once, two frames match at PDQ distance <= 31, and a pair of videos matches when the
share of the query's unique frames matched and the share of the compared video's unique frames
matched both reach their thresholds.
"""

from __future__ import annotations

import io
import json
import re
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _native_hash
from ._accel import kernels
from ._codes import hamming
from ._fileio import open_regular
from .errors import DecodeError, HashFormatError
from .hashing import Hash
from .video import DEFAULT_MAX_DURATION, DEFAULT_MAX_FRAME_PIXELS, VideoReader, VideoSource

QUALITY_THRESHOLD = 50
"""Frames with PDQ quality below this are left out of matching (the reference's default)."""

DISTANCE_THRESHOLD = 31
"""Two frames match at this PDQ distance or less (inclusive)."""

QUERY_MATCH_PERCENT = 80.0
"""Share (%) of the query's unique frames that must match: python-threatexchange's choice, so
that a trimmed or partial copy of a reported video (most of whose frames are in it) matches."""

COMPARED_MATCH_PERCENT = 0.0
"""Share (%) of the compared (reported) video's unique frames that must match. The vPDQ README's
example puts 80 % here instead, which misses copies trimmed to less than 80 % of the original."""

_F32 = np.float32
_LUMA_COEFFS = (_F32(0.299), _F32(0.587), _F32(0.114))


@dataclass(frozen=True)
class VpdqFeature:
    """One hashed frame: its number (decoder output order), PDQ hash, quality and time (s)."""

    frame: int
    hash: Hash
    timestamp: float

    @property
    def quality(self) -> int:
        return int(self.hash.quality or 0)


@dataclass(frozen=True)
class VideoHash:
    """A video's vPDQ hash: its hashed frames in order, and what decoding had to skip.

    >>> h = VideoHash.from_text("0,100," + "a" * 64 + ",0.000\\n")
    >>> h.features[0].quality, h.to_text() == "0,100," + "a" * 64 + ",0.000\\n"
    (100, True)
    """

    features: tuple[VpdqFeature, ...]
    skipped: int = 0
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self) -> Iterator[VpdqFeature]:
        return iter(self.features)

    def to_text(self) -> str:
        """The reference's format: ``frame_number,quality,pdq_hex,timestamp`` a line, 3 decimals."""
        return "".join(f"{f.frame},{f.quality},{f.hash.hex},{f.timestamp:.3f}\n" for f in self.features)

    @classmethod
    def from_text(cls, text: str, *, source: str = "<text>") -> VideoHash:
        """Parse the reference's text format strictly (blank lines allowed); errors name the line."""
        out = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parts = line.strip().split(",")
            if len(parts) != 4:
                raise HashFormatError("expected frame_number,quality,pdq_hex,timestamp", path=source, line=lineno)
            try:
                frame, quality, ts = int(parts[0]), int(parts[1]), float(parts[3])
            except ValueError:
                msg = "frame number and quality must be integers, the timestamp a number"
                raise HashFormatError(msg, path=source, line=lineno) from None
            out.append(_feature(frame, parts[2], quality, ts, source, lineno))
        return cls(tuple(out))

    def to_json(self) -> str:
        """python-threatexchange's form: a JSON list of ``"pdq_hex,quality,timestamp"`` strings."""
        return json.dumps([f"{f.hash.hex},{f.quality},{f.timestamp:.3f}" for f in self.features])

    @classmethod
    def from_json(cls, text: str, *, source: str = "<json>") -> VideoHash:
        """Read python-threatexchange's JSON list (frame numbers are not in it: counted from 0)."""
        try:
            items = json.loads(text or "[]")
        except json.JSONDecodeError as e:
            raise HashFormatError(f"not JSON ({e.msg})", path=source, line=e.lineno) from None
        if not isinstance(items, list):
            raise HashFormatError('expected a JSON list of "pdq_hex,quality,timestamp" strings', path=source)
        out = []
        for i, item in enumerate(items):
            where = f"{source}, item {i}"
            parts = item.split(",") if isinstance(item, str) else []
            if len(parts) != 3:
                raise HashFormatError('expected a "pdq_hex,quality,timestamp" string', path=where)
            try:
                quality, ts = int(parts[1]), float(parts[2])
            except ValueError:
                raise HashFormatError("quality must be an integer, the timestamp a number", path=where) from None
            out.append(_feature(i, parts[0], quality, ts, where, None))
        return cls(tuple(out))

    def usable(self, quality_threshold: int = QUALITY_THRESHOLD) -> list[bytes]:
        """The unique frame hashes of quality >= the threshold, in first-seen order (duplicates
        removed first, keeping the first frame of each hash, as python-threatexchange does)."""
        first: dict[bytes, int] = {}
        for f in self.features:
            first.setdefault(f.hash.bits, f.quality)
        return [bits for bits, q in first.items() if q >= quality_threshold]


def read_video_hash(path: str) -> VideoHash | None:
    """A vPDQ hash file (the reference's text lines, or python-threatexchange's JSON list), or
    None when the file's first line is neither (it is then some other hash list)."""
    # Only the first non-blank line is read to decide: a hash list of millions of lines that is
    # not a vPDQ file is then streamed by the hash-list reader, never held here whole.
    try:
        with open_regular(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as f:
            first = next((s for s in (line.strip() for line in f) if s), "")
            if not (first.startswith("[") or _TEXT_LINE.match(first)):
                return None
            f.seek(0)
            text = f.read()
    except OSError as exc:  # missing, a folder, a FIFO (refused, never waited on)
        raise HashFormatError(f"cannot read the hash list: {exc.strerror}", path=path) from exc
    if first.startswith("["):
        return VideoHash.from_json(text, source=path)
    return VideoHash.from_text(text, source=path)


_TEXT_LINE = re.compile(r"\d+,\d+,[0-9a-fA-F]{64},[0-9.eE+-]+\Z")


def _feature(frame: int, hex_text: str, quality: int, ts: float, path: str, line: int | None) -> VpdqFeature:
    if len(hex_text.strip()) != 64:
        raise HashFormatError(f"a PDQ frame hash has 64 hex digits, got {len(hex_text.strip())}", path=path, line=line)
    try:
        h = Hash.from_hex(hex_text, "pdq", quality)
    except HashFormatError as e:
        raise HashFormatError(e.reason, path=path, line=line) from None
    if frame < 0 or not (ts >= 0) or ts == float("inf"):
        raise HashFormatError("frame number and timestamp must be non-negative", path=path, line=line)
    return VpdqFeature(frame, h, ts)


def vpdq(source: VideoSource, *, seconds_per_hash: float = 1.0, exact: bool = False, rotate: bool = False,
         max_duration: float | None = DEFAULT_MAX_DURATION, max_pixels: int | None = DEFAULT_MAX_FRAME_PIXELS,
         threads: int | None = None) -> VideoHash:
    """vPDQ hash of a video (a path, bytes or a binary file object).

    ``seconds_per_hash`` is the reference's sampling period (0 hashes every frame); ``exact``
    uses the reference's single-precision luma; ``rotate`` applies the display rotation (the
    reference doesn't). Frames the decoder rejects are skipped and counted in ``skipped``.

    >>> import io, numpy as np, av
    >>> buf = io.BytesIO()
    >>> with av.open(buf, "w", format="mp4") as c:
    ...     s = c.add_stream("libx264", rate=4)
    ...     s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    ...     for i in range(8):
    ...         c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")))
    ...     c.mux(s.encode())
    >>> [(f.frame, f.timestamp) for f in vpdq(buf.getvalue())]
    [(0, 0.0), (4, 1.0)]
    """
    if isinstance(seconds_per_hash, bool) or not isinstance(seconds_per_hash, (int, float)) or not seconds_per_hash >= 0:
        msg = f"seconds_per_hash must be a non-negative number, got {seconds_per_hash!r}"
        raise ValueError(msg)
    with VideoReader(source, max_duration=max_duration, max_pixels=max_pixels, threads=threads) as video:
        fps = video.info.fps
        if not fps > 0:
            raise DecodeError(video.name, "the video declares no frame rate; vPDQ timestamps need one")
        period = max(1, int(seconds_per_hash * fps))
        fps32 = _F32(fps)

        def hash_frame(n: int, frame: Any) -> VpdqFeature:
            rgb, _ = video.rgb(frame, rotate=rotate)
            bits, quality = _pdq_reference_luma(rgb) if exact else kernels.pdq_hash(rgb)
            return VpdqFeature(n, Hash("pdq", bytes(bits), int(quality)), float(_F32(n) / fps32))

        # Conversion and hashing run beside the decoder (both release the GIL); a short window
        # of frames in flight keeps memory bounded.
        features: list[VpdqFeature] = []
        window: deque[Future[VpdqFeature]] = deque()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="photomatch-vpdq") as pool:
            for n, frame in video.decoded():
                if n % period:
                    continue
                window.append(pool.submit(hash_frame, n, frame))
                if len(window) >= 4:
                    features.append(window.popleft().result())
            features.extend(f.result() for f in window)
        return VideoHash(tuple(features), video.skipped, tuple(video.skip_reasons))


def _pdq_reference_luma(rgb: np.ndarray) -> tuple[bytes, int]:
    """PDQ with the vPDQ reference's luma: float coefficients, float products and sums."""
    if rgb.shape[0] < 5 or rgb.shape[1] < 5:
        return bytes(32), 0
    r, g, b = (rgb[..., c].astype(_F32) for c in range(3))
    luma = _LUMA_COEFFS[0] * r + _LUMA_COEFFS[1] * g + _LUMA_COEFFS[2] * b
    return _native_hash.pdq_of_luma(np.ascontiguousarray(luma, dtype=_F32))


@dataclass(frozen=True)
class VideoMatch:
    """vPDQ's verdict on a pair: percentages of unique usable frames matched on each side."""

    query_percent: float
    compared_percent: float
    matched: bool


def match_percentages(query: Sequence[bytes], compared: Sequence[bytes], *,
                      distance: int = DISTANCE_THRESHOLD) -> tuple[float, float]:
    """(query %, compared %) for two lists of unique usable frame hashes (32 bytes each): the
    share of each side's frames within ``distance`` of some frame of the other side."""
    if not query or not compared:
        return 0.0, 0.0
    a = np.frombuffer(b"".join(query), np.uint8).reshape(-1, 32)
    b = np.frombuffer(b"".join(compared), np.uint8).reshape(-1, 32)
    close = np.zeros((len(a), len(b)), bool)
    for i in range(0, len(a), 256):  # blocks keep the (n, m, 32) xor small
        close[i : i + 256] = hamming(a[i : i + 256, None, :], b[None, :, :]) <= distance
    return 100.0 * float(close.any(axis=1).mean()), 100.0 * float(close.any(axis=0).mean())


def match(query: VideoHash, compared: VideoHash, *, distance: int = DISTANCE_THRESHOLD,
          quality: int = QUALITY_THRESHOLD, query_percent: float = QUERY_MATCH_PERCENT,
          compared_percent: float = COMPARED_MATCH_PERCENT) -> VideoMatch:
    """Compare two vPDQ hashes with vPDQ's rule (brute force; the store uses the index).

    >>> h = VideoHash.from_text("0,100," + "a" * 64 + ",0.000\\n1,100," + "5" * 64 + ",1.000\\n")
    >>> match(h, h)
    VideoMatch(query_percent=100.0, compared_percent=100.0, matched=True)
    """
    check_match_options(distance, quality, query_percent, compared_percent)
    q, c = match_percentages(query.usable(quality), compared.usable(quality), distance=distance)
    return VideoMatch(q, c, passes(q, c, query_percent, compared_percent, bool(query.usable(quality))))


def passes(q: float, c: float, query_percent: float, compared_percent: float, any_frames: bool = True) -> bool:
    return bool(any_frames and q >= query_percent and c >= compared_percent and (q > 0 or c > 0))


def check_match_options(distance: int, quality: int, query_percent: float, compared_percent: float) -> None:
    """Raise ValueError for options outside their ranges (checked before any work starts)."""
    if isinstance(distance, bool) or not isinstance(distance, int) or not 0 <= distance <= 256:
        raise ValueError(f"distance must be an integer from 0 to 256, got {distance!r}")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 0 to 100, got {quality!r}")
    for name, v in (("query_percent", query_percent), ("compared_percent", compared_percent)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
            raise ValueError(f"{name} must be a number from 0 to 100, got {v!r}")
