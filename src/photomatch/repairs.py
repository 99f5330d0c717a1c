"""Query-side repairs: views of a damaged copy that bring it back within PDQ distance of the original.

A store of plain PDQ hashes (a partner's list, StopNCII-style) holds nothing but one hash per
reported picture, so everything that finds a damaged copy has to happen on the query side. Each
function here returns views of the query that undo one kind of damage, to be hashed and searched
like the whole image, at the same threshold:

- :func:`straighten`: a copy rotated by a few degrees on a canvas expanded to hold it (the
  corners filled with one colour): the angle from the content's minimum-area rectangle, the
  photo's size from the canvas and the angle, rotated back.
- :func:`uncrop`: a copy cropped from the original: the query placed at a grid of offsets inside a
  frame 1/0.95 its size, the margin filled from its edges, so that its low frequencies line up
  with the original's again (PDQ keeps only the lowest 16x16 DCT frequencies).

Which repairs are kept, what each one recovers and what it costs is measured by
``python benchmarks/hashonly_experiments.py`` (figures in benchmarks/README.md); the Matcher
runs them only for queries that nothing else matched.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 512
"""Long side, in pixels, of the copy the repairs work on: PDQ reduces every image to 64x64
luma before its DCT, so a larger copy changes the hash by a few bits at most and costs more."""

UNCROP_SIDE = 256
"""Long side of the copy the uncropped views are made from (measured: 80 % of 90 %-area crops
within distance 31 at 256 px, 87 % at full size, at a tenth of the cost)."""

UNCROP_SCALE = 0.95
"""The query's side as a share of the frame it is placed in: crops that keep about 90 % of the
area (95 % of each side) come back within PDQ distance; the offsets cover where the crop was."""

UNCROP_OFFSETS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Offsets of the query inside the frame, as shares of the margin, on each axis (5 x 5 views)."""

MAX_ANGLE = 20.0
"""Largest rotation undone, in degrees: larger turns are the dihedral variants' or features' job."""


def work_copy(rgb: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """``rgb`` shrunk (area interpolation) so that its long side is at most ``side``."""
    h, w = rgb.shape[:2]
    k = side / max(h, w)
    if k >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)


def _uniform_corners(rgb: np.ndarray, tolerance: int) -> np.ndarray | None:
    """The fill colour when the four corner pixels (3x3 means) share one colour, else None."""
    patches = [rgb[:3, :3], rgb[:3, -3:], rgb[-3:, :3], rgb[-3:, -3:]]
    corners = np.array([p.reshape(-1, 3).mean(axis=0) for p in patches])
    fill = np.median(corners, axis=0)
    if np.abs(corners - fill).max() > tolerance:
        return None
    return fill


def straighten(rgb: np.ndarray, *, tolerance: int = 40) -> np.ndarray | None:
    """The photo inside a rotated copy, turned back upright; None when ``rgb`` does not look rotated.

    Expects the canvas a rotation with ``expand`` leaves: the photo's four corners touching the
    canvas's four sides and the corner triangles of one colour (black, white, transparent made
    white). Small rotations (0.5 to ``MAX_ANGLE`` degrees) are undone; the returned image has the
    photo's own size, solved from the canvas size and the angle.
    """
    h2, w2 = rgb.shape[:2]
    if min(h2, w2) < 16:
        return None
    fill = _uniform_corners(rgb, tolerance)
    if fill is None:
        return None
    small = work_copy(rgb, 256)  # the angle from a small copy: minAreaRect cost grows with pixels
    diff = np.abs(small.astype(np.int16) - fill.astype(np.int16)).max(axis=2)
    points = cv2.findNonZero((diff > tolerance).astype(np.uint8))
    if points is None:
        return None
    _, _, angle = cv2.minAreaRect(points)
    angle = (angle + 45) % 90 - 45  # OpenCV's range has changed between versions; the rectangle's tilt is in [-45, 45)
    if not 0.5 <= abs(angle) <= MAX_ANGLE:
        return None
    t = np.deg2rad(abs(angle))
    c, s = np.cos(t), np.sin(t)
    # An expanded rotation of a w x h photo is (w c + h s) x (w s + h c): solve for w and h.
    det = c * c - s * s
    w = (w2 * c - h2 * s) / det
    h = (h2 * c - w2 * s) / det
    if w < 16 or h < 16:
        return None
    m = cv2.getRotationMatrix2D((w2 / 2, h2 / 2), angle, 1.0)
    m[:, 2] += (w / 2 - w2 / 2, h / 2 - h2 / 2)
    return cv2.warpAffine(rgb, m, (round(w), round(h)), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def uncrop(rgb: np.ndarray, *, scale: float = UNCROP_SCALE, offsets: tuple[float, ...] = UNCROP_OFFSETS) -> list[np.ndarray]:
    """``rgb`` placed at each offset inside a frame ``1/scale`` its size, the margin replicated from its edges."""
    h, w = rgb.shape[:2]
    fw, fh = round(w / scale), round(h / scale)
    mx, my = fw - w, fh - h
    views = []
    for fy in offsets:
        for fx in offsets:
            left, top = round(fx * mx), round(fy * my)
            views.append(cv2.copyMakeBorder(rgb, top, my - top, left, mx - left, cv2.BORDER_REPLICATE))
    return views


def uncrop_views(rgb: np.ndarray) -> list[np.ndarray]:
    """:func:`uncrop` of a 256-pixel copy of ``rgb`` (25 PDQ hashes must stay cheap)."""
    return uncrop(work_copy(rgb, UNCROP_SIDE))


def repair_views(rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Every repair that applies to ``rgb``, as ``(name, view)``: ``straightened`` and the
    ``uncropped`` views (names are reported as the match's transform)."""
    small = work_copy(rgb)
    views: list[tuple[str, np.ndarray]] = []
    upright = straighten(small)
    if upright is not None:
        views.append(("straightened", upright))
    views += [("uncropped", v) for v in uncrop_views(small)]
    return views
