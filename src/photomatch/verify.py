"""Geometric verification with local features: is the reported photo really inside the query?

A hash match (or a local-feature vote) is a hint; this module confirms it. ORB keypoints of the
query are matched to the reported image's stored keypoints (Hamming distance, Lowe's ratio
test), and a similarity transform (rotation, uniform scale, translation) is fitted with RANSAC.
Unrelated images give a handful of inliers scattered at random; a real copy gives tens that all
agree. The transform also says where the reported image sits in the query (``box_in_query``).

Privacy trade-off of stored features (opt-in)
----------------------------------------------
The store keeps only hashes by default. Verification needs something of the reported image on
the matching side, so ``Features`` (at most a few hundred ORB keypoints: positions, 32-byte
binary descriptors, and the image size; about 20 KB) can be stored when the operator opts in.
They are not the picture and cannot be viewed as one, but they are derived from its pixels,
they let anyone holding them recognise the picture, and published work (e.g. "Inverting Visual
Representations", Dosovitskiy & Brox 2016; "Revealing Scenes by Inverting Structure from Motion
Reconstructions", Pittaluga et al. 2019) reconstructs coarse, recognisable images from dense
local descriptors. Treat stored features as sensitive as the hashes, or more: owner-only files,
no logging, deleted with the item.

>>> import numpy as np, cv2
>>> rng = np.random.default_rng(0)
>>> img = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), (0, 0), 2)
>>> f = extract_features(img)
>>> Features.from_bytes(f.to_bytes()).size == f.size
True
>>> verify(img[50:250, 80:360], f).ok
True
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .errors import FeatureFormatError
from .regions import grey_scaled

__all__ = [
    "MIN_FEATURE_SIDE",
    "Features",
    "Verification",
    "FeatureFormatError",
    "extract_features",
    "feature_stage_skipped",
    "verify",
    "verify_region",
    "verify_view",
    "view_features",
]

FORMAT_VERSION = 1
DESCRIPTOR_BYTES = 32
_HEADER = struct.Struct("<BIII")  # version, width, height, keypoint count

# Feature extraction runs on a copy whose long side is at most this: ORB's scale pyramid covers the
# scale changes of screenshots and crops, and larger images only cost time.
WORK_SIDE = 512

#: Shortest side, in the working copy, on which local features are extracted. ORB's pyramid
#: cannot scale a 1-pixel side (OpenCV asserts) and a side under its 31-pixel patch holds no
#: keypoint anyway; an image this thin in the file gets no features (``feature_stage_skipped``
#: says why), and a long thin one keeps this side in the working copy instead of WORK_SIDE on
#: the long side.
MIN_FEATURE_SIDE = 32


def feature_stage_skipped(shape: tuple[int, ...]) -> str | None:
    """Why local features cannot be extracted from pixels of this shape, or None when they can.

    >>> feature_stage_skipped((1, 5000, 3))
    'local features skipped: the image is 5000x1 px, a side below 32 px'
    """
    h, w = shape[:2]
    if min(h, w) < MIN_FEATURE_SIDE:
        return f"local features skipped: the image is {w}x{h} px, a side below {MIN_FEATURE_SIDE} px"
    return None


@dataclass(frozen=True)
class Features:
    """Local features of one image: keypoint positions (in the image's pixels) and ORB descriptors.

    ``xy`` is float32 (n, 2), ``descriptors`` uint8 (n, 32), ``size`` is (width, height).
    """

    xy: np.ndarray
    descriptors: np.ndarray
    size: tuple[int, int]

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def to_bytes(self) -> bytes:
        """Serialise: a version byte, width, height, count, then xy float32 and descriptors (little-endian)."""
        n = len(self)
        return (
            _HEADER.pack(FORMAT_VERSION, self.size[0], self.size[1], n)
            + np.ascontiguousarray(self.xy, dtype="<f4").tobytes()
            + np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        """Inverse of ``to_bytes``; raises FeatureFormatError on malformed input."""
        if len(data) < _HEADER.size:
            msg = f"features: {len(data)} bytes is shorter than the {_HEADER.size}-byte header"
            raise FeatureFormatError(msg)
        version, width, height, n = _HEADER.unpack_from(data)
        if version != FORMAT_VERSION:
            msg = f"features: unsupported format version {version} (expected {FORMAT_VERSION})"
            raise FeatureFormatError(msg)
        expected = _HEADER.size + n * (8 + DESCRIPTOR_BYTES)
        if len(data) != expected:
            msg = f"features: {len(data)} bytes but the header announces {n} keypoints ({expected} bytes)"
            raise FeatureFormatError(msg)
        off = _HEADER.size
        xy = np.frombuffer(data, dtype="<f4", count=2 * n, offset=off).reshape(n, 2).astype(np.float32)
        desc = np.frombuffer(data, dtype=np.uint8, count=DESCRIPTOR_BYTES * n, offset=off + 8 * n)
        return cls(xy=xy, descriptors=desc.reshape(n, DESCRIPTOR_BYTES).copy(), size=(width, height))


@dataclass(frozen=True)
class Verification:
    """Outcome of ``verify``.

    ``ok``: the reported image is confirmed in the query. ``inliers``: matches consistent with
    the fitted transform. ``box_in_query``: bounding box (x, y, w, h) of the reported image's
    corners mapped into query pixels (None without a transform). ``score``: inliers discounted
    by the inlier ratio, comparable across pairs (0 when nothing fits). ``correspondences``:
    the RANSAC inliers as a float32 (k, 4) array of ``(reported x, y, query x, y)`` keypoint
    positions, in the reported image's and the query's pixels (None without a transform): what
    a reviewer is shown to see why a pair matched.
    """

    ok: bool
    inliers: int
    box_in_query: tuple[int, int, int, int] | None
    score: float
    matches: int = 0
    transform: np.ndarray | None = None
    correspondences: np.ndarray | None = None


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        what = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        msg = f"rgb: expected a uint8 array of shape (H, W, 3), got {what}"
        raise ValueError(msg)


def _grey(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    # Long side down to WORK_SIDE, but a thin image (a 40 x 14000 banner) keeps its short side
    # at MIN_FEATURE_SIDE: ORB's pyramid cannot shrink a side to nothing.
    scale = min(1.0, max(WORK_SIDE / max(h, w), MIN_FEATURE_SIDE / max(1, min(h, w))))
    return grey_scaled(rgb, scale), scale


def extract_features(rgb: np.ndarray, *, max_keypoints: int = 500) -> Features:
    """ORB keypoints of ``rgb`` spread over the image, at most ``max_keypoints``.

    Keypoints are detected generously and then kept by strength within a 4x4 grid of cells, so a
    crop of any part of the image still holds its share of them.

    >>> import numpy as np
    >>> len(extract_features(np.zeros((64, 64, 3), np.uint8)))
    0
    """
    if max_keypoints < 1:
        msg = f"max_keypoints must be >= 1, got {max_keypoints}"
        raise ValueError(msg)
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    if feature_stage_skipped(rgb.shape) is not None:  # no keypoint fits: none, rather than an OpenCV assertion
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8), (w, h))
    grey, scale = _grey(rgb)
    orb = cv2.ORB_create(nfeatures=2 * max_keypoints, fastThreshold=12, edgeThreshold=15, patchSize=31)
    if min(grey.shape) < 32:  # no 31-pixel ORB patch fits (and OpenCV's pyramid fails on 1-pixel sides)
        kps = []
    else:
        kps = orb.detect(grey, None)
    kps = _spread(kps, grey.shape, max_keypoints)
    kps, desc = orb.compute(grey, kps)
    if desc is None or not kps:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8), (w, h))
    xy = np.array([k.pt for k in kps], dtype=np.float32) / scale
    return Features(xy=xy, descriptors=np.ascontiguousarray(desc, dtype=np.uint8), size=(w, h))


def _spread(kps, shape, n: int, cells: int = 4):
    """Keep the ``n`` strongest keypoints, taken round-robin from a cells x cells grid."""
    if len(kps) <= n:
        return list(kps)
    h, w = shape
    pts = np.array([k.pt for k in kps], np.float32)
    resp = np.array([k.response for k in kps], np.float32)
    cell = np.minimum(cells - 1, (pts[:, 1] * cells / h).astype(np.int64)) * cells + np.minimum(
        cells - 1, (pts[:, 0] * cells / w).astype(np.int64)
    )
    # Rank of each keypoint within its cell by response; then take ranks 0, 1, 2, ... across cells.
    order = np.lexsort((-resp, cell))
    sorted_cell = cell[order]
    starts = np.searchsorted(sorted_cell, sorted_cell, side="left")
    rank = np.empty(len(kps), np.int64)
    rank[order] = np.arange(len(kps)) - starts
    keep = np.lexsort((-resp, rank))[:n]
    return [kps[i] for i in keep]


def _as_features(x: np.ndarray | Features, name: str) -> Features:
    if isinstance(x, Features):
        return x
    if isinstance(x, np.ndarray):
        return extract_features(x)
    msg = f"{name}: expected an RGB array or Features, got {type(x).__name__}"
    raise TypeError(msg)


def match_descriptors(query: Features, reported: Features, *, ratio: float = 0.8, max_distance: int = 80) -> np.ndarray:
    """Index pairs (q, r) of query keypoints whose nearest reported descriptor passes the ratio test."""
    if len(query) < 2 or len(reported) < 2:
        return np.zeros((0, 2), np.int64)
    bf = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = []
    for m in bf.knnMatch(query.descriptors, reported.descriptors, k=2):
        if len(m) == 2 and m[0].distance <= max_distance and m[0].distance < ratio * m[1].distance:
            pairs.append((m[0].queryIdx, m[0].trainIdx))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def verify(
    query: np.ndarray | Features,
    reported: Features,
    *,
    min_inliers: int = 12,
    min_inlier_ratio: float = 0.25,
    ratio: float = 0.8,
    reprojection: float = 0.012,
    min_spread: float = 0.06,
    max_rotation: float = 20.0,
) -> Verification:
    """Confirm that ``reported`` appears in ``query`` (an RGB array, or its Features).

    Fits a similarity (rotation, uniform scale, translation) from reported to query keypoints
    with RANSAC; ``reprojection`` is the inlier tolerance as a fraction of the query's long side.
    Accepts when at least ``min_inliers`` matches agree, they are at least ``min_inlier_ratio`` of
    the ratio-test matches, the scale is plausible, the rotation is at most ``max_rotation``
    degrees (90-degree turns and mirror images are PDQ's dihedral variants' job), and the inliers
    spread in their narrowest direction over at least ``min_spread`` of the matched box's
    shorter side (a standard deviation; uniform points over a box give about 0.29).

    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> a = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    >>> b = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    >>> verify(a, extract_features(b)).ok
    False
    """
    if not isinstance(reported, Features):
        msg = f"reported: expected Features, got {type(reported).__name__}"
        raise TypeError(msg)
    q = _as_features(query, "query")
    pairs = match_descriptors(q, reported, ratio=ratio)
    n = len(pairs)
    none = Verification(ok=False, inliers=0, box_in_query=None, score=0.0, matches=n)
    # Fewer ratio-test matches than required inliers can never pass: skip RANSAC, the costly part
    # for unrelated candidates (it runs all its iterations when nothing agrees).
    if n < max(4, min_inliers):
        return none
    src = reported.xy[pairs[:, 1]].reshape(-1, 1, 2)
    dst = q.xy[pairs[:, 0]].reshape(-1, 1, 2)
    thr = max(2.0, reprojection * max(q.size))
    m, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=thr, maxIters=2000, confidence=0.995)
    if m is None or mask is None:
        return none
    inlier = mask.ravel().astype(bool)
    # ORB finds the same corner at several pyramid levels; count inliers at distinct positions on
    # both sides, else one symmetric detail (measured: a logo matching its mirror image) counts 4x.
    cell = max(2.0, 0.005 * max(q.size))
    inl = min(
        len(np.unique(np.floor(q.xy[pairs[inlier, 0]] / cell), axis=0)),
        len(np.unique(np.floor(reported.xy[pairs[inlier, 1]] / (0.005 * max(reported.size) or 1.0)), axis=0)),
    )
    s = float(np.hypot(m[0, 0], m[1, 0]))
    rw, rh = reported.size
    corners = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float64)
    mapped = corners @ m[:, :2].T + m[:, 2]
    x0, y0 = mapped.min(axis=0)
    x1, y1 = mapped.max(axis=0)
    qw, qh = q.size
    bx0, by0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    bx1, by1 = min(qw, int(np.ceil(x1))), min(qh, int(np.ceil(y1)))
    box = (bx0, by0, bx1 - bx0, by1 - by0) if bx1 > bx0 and by1 > by0 else None
    # Inliers must spread in both directions over the matched area. Clumps (a repeated texture)
    # and thin lines are degenerate: any transform fits them (measured on photos-dev: images
    # "matched" their own mirror image through a line of symmetric details). 0.06 measured: 0.04
    # let 4 distractors in 2200 match mirror images in the store and gained no recall.
    pts = dst[inlier].reshape(-1, 2)
    spread = float(np.sqrt(max(0.0, np.linalg.eigvalsh(np.cov(pts.T))[0]))) if inl >= 3 else 0.0
    spread_ok = box is not None and spread >= min_spread * min(box[2], box[3])
    angle = float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))
    ratio_in = int(inlier.sum()) / n
    ok = (
        inl >= min_inliers
        and ratio_in >= min_inlier_ratio
        and 0.05 <= s <= 20.0
        and abs(angle) <= max_rotation
        and spread_ok
    )
    score = inl * min(1.0, ratio_in / 0.5)
    pairs_xy = np.hstack([src[inlier].reshape(-1, 2), dst[inlier].reshape(-1, 2)]).astype(np.float32)
    return Verification(ok=ok, inliers=inl, box_in_query=box, score=score, matches=n, transform=m,
                        correspondences=pairs_xy)


def verify_region(
    query: np.ndarray, box: tuple[int, int, int, int], reported: Features, **options: float
) -> Verification:
    """``verify`` on the region ``box`` of ``query`` (a candidate from ``query_regions``).

    A photo that fills a small part of a screenshot or collage gets few of the whole query's
    keypoints; extracting features from the region alone gives it its full share. The returned
    ``box_in_query`` and ``transform`` are in the whole query's pixels.

    >>> import numpy as np, cv2
    >>> rng = np.random.default_rng(0)
    >>> img = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), (0, 0), 2)
    >>> shot = np.full((900, 500, 3), 255, np.uint8)
    >>> shot[200:500, 50:450] = img
    >>> v = verify_region(shot, (50, 200, 400, 300), extract_features(img))
    >>> v.ok, v.box_in_query
    (True, (50, 200, 400, 300))
    """
    x, y, w, h = box
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > query.shape[1] or y + h > query.shape[0]:
        msg = f"box {box} is empty or outside the {query.shape[1]}x{query.shape[0]} query"
        raise ValueError(msg)
    return _moved(verify(query[y : y + h, x : x + w], reported, **options), x, y)  # type: ignore[arg-type]


def _moved(v: Verification, x: int, y: int) -> Verification:
    """A verification done on a part of the query whose corner is (x, y), in the whole query's pixels."""
    if v.transform is None:
        return v
    m = v.transform.copy()
    m[:, 2] += (x, y)
    b = None
    if v.box_in_query is not None:
        b = (v.box_in_query[0] + x, v.box_in_query[1] + y, v.box_in_query[2], v.box_in_query[3])
    return replace(v, box_in_query=b, transform=m, correspondences=shift_correspondences(v.correspondences, x, y))


def shift_correspondences(pairs: np.ndarray | None, dx: float, dy: float) -> np.ndarray | None:
    """Correspondences found in a part of the query, moved into the whole query's pixels."""
    if pairs is None:
        return None
    return (pairs + np.array([0, 0, dx, dy], np.float32)).astype(np.float32)


# --- small views: a round avatar, a grid tile -------------------------------------------------------

VIEW_SIDE = 320
"""Side a small view is resized to before its keypoints are detected: a 140-px avatar gives ORB
(patches of 31 px, a few pyramid levels) almost nothing at its own size, and the reported
photo's keypoints were taken at 512 px on its long side, so its centre square is ~384 px there."""

VIEW_KEYPOINTS = 300

VIEW_MIN_INLIERS = 10
"""Distinct-position inliers a small view needs (``verify_view``), set from the inliers of
unrelated (view, candidate) pairs on the quality benchmark's profile and grid screenshots:
``python -m benchmarks.small_views``, figures in ``benchmarks/README.md``."""


def view_features(rgb: np.ndarray, box: tuple[int, int, int, int], *, round_view: bool = False,
                  side: int = VIEW_SIDE, max_keypoints: int = VIEW_KEYPOINTS) -> Features:
    """Local features of the view ``box`` of ``rgb`` alone, in the view's own pixels.

    The view is resized to ``side`` px on its long side first (up or down), so small views get
    keypoints at the scale the reported photos' were taken at. With ``round_view`` keypoints
    whose patch reaches outside the inscribed circle (the page around an avatar) are dropped.

    >>> import numpy as np, cv2
    >>> rng = np.random.default_rng(0)
    >>> img = cv2.GaussianBlur(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8), (0, 0), 2)
    >>> f = view_features(img, (50, 50, 150, 150), round_view=True)
    >>> f.size, bool(len(f) > 50), bool((np.hypot(*(f.xy - 75).T) <= 75).all())
    ((150, 150), True, True)
    """
    x, y, w, h = box
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > rgb.shape[1] or y + h > rgb.shape[0]:
        msg = f"box {box} is empty or outside the {rgb.shape[1]}x{rgb.shape[0]} image"
        raise ValueError(msg)
    k = side / max(w, h)
    view = np.ascontiguousarray(rgb[y : y + h, x : x + w])
    if abs(k - 1.0) > 0.05:
        size = (max(1, round(w * k)), max(1, round(h * k)))
        view = cv2.resize(view, size, interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)
    else:
        k = 1.0
    f = extract_features(view, max_keypoints=max_keypoints)
    xy, desc = f.xy / k, f.descriptors
    if round_view and len(f):
        # ORB's patch is 31 px at the detection scale: keep keypoints whose patch stays inside.
        r = min(w, h) / 2
        keep = np.hypot(xy[:, 0] - w / 2, xy[:, 1] - h / 2) <= r - 12 / k
        xy, desc = xy[keep], desc[keep]
    return Features(xy=np.ascontiguousarray(xy, dtype=np.float32), descriptors=np.ascontiguousarray(desc), size=(w, h))


def verify_view(view: Features, reported: Features, origin: tuple[int, int] = (0, 0), *,
                min_inliers: int = VIEW_MIN_INLIERS) -> Verification:
    """``verify`` for a small view (``view_features``): its own inlier threshold, and the result's
    ``box_in_query`` and ``transform`` moved by ``origin`` (the view's corner in the query)."""
    return _moved(verify(view, reported, min_inliers=min_inliers), *origin)
