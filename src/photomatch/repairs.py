"""Query-side repairs: views of a damaged copy that bring it back within PDQ distance of the original.

A store of plain PDQ hashes (a partner's list, StopNCII-style) holds nothing but one hash per
reported picture, so everything that finds a damaged copy has to happen on the query side. Each
function here returns views of the query that undo one kind of damage, to be hashed and searched
like the whole image, at the same threshold:

- :func:`straighten`: a copy rotated by a few degrees on a canvas expanded to hold it (the
  corners filled with one colour): the angle from the content's minimum-area rectangle, the
  photo's size from the canvas and the angle, rotated back.
- :func:`remove_overlays`: captions drawn over the photo (light glyphs with a dark outline, or
  dark with a light one) and flat opaque stickers (round, one colour) found by morphology and
  connected components, and filled by OpenCV's inpainting.
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
    if angle > 45:
        angle -= 90
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


def _disc(n: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (n, n))


def caption_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels of outlined text drawn over the picture (uint8 0/1, the image's shape).

    Meme captions are light glyphs with a dark outline (or dark with a light one): pixels that are
    very light next to very dark ones. Such pixels that line up in wide, low runs (a line of
    text) are kept; the rest of a photo rarely forms such runs.
    """
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    k = max(3, round(min(h, w) / 120) | 1)
    near = _disc(k)
    light = (grey > 200).astype(np.uint8)
    dark = (grey < 60).astype(np.uint8)
    edge = (light & cv2.dilate(dark, near)) | (dark & cv2.dilate(light, near))
    lines = cv2.morphologyEx(edge, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (3 * k, k)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    keep = np.zeros(n, bool)
    bw, bh, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    keep[1:] = (bh < 0.15 * h) & (bw > 2 * bh) & (area > 20)
    return cv2.dilate(keep[labels].astype(np.uint8), near, iterations=2)


def sticker_mask(rgb: np.ndarray, *, min_area: float = 0.005, max_area: float = 0.2,
                 min_circularity: float = 0.8) -> np.ndarray:
    """Flat, round, opaque shapes stuck on the picture (emoji stickers), holes filled (uint8 0/1).

    A sticker is one flat colour (no texture, unlike the photo under it) in a round outline:
    connected regions of near-constant colour whose filled outline is a disc
    (4 pi area / perimeter^2 >= ``min_circularity``) of ``min_area`` to ``max_area`` of the picture.
    """
    h, w = rgb.shape[:2]
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    mean = cv2.blur(lab, (5, 5))
    var = cv2.blur(lab * lab, (5, 5)) - mean * mean
    flat = var.sum(axis=2) < 12.0
    # Cut flat pixels where the colour changes, so that a flat sticker on a flat background parts from it.
    quant = (mean[..., 0] // 24).astype(np.int32) * 4096 + (mean[..., 1] // 12).astype(np.int32) * 64 \
        + (mean[..., 2] // 12).astype(np.int32)
    square = np.ones((3, 3), np.uint8)
    same = cv2.dilate(quant.astype(np.float32), square) == cv2.erode(quant.astype(np.float32), square)
    out = np.zeros((h, w), np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats((flat & same).astype(np.uint8), connectivity=4)
    total = float(h * w)
    for i in range(1, n):
        if not min_area * total <= stats[i, cv2.CC_STAT_AREA] <= max_area * total:
            continue
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        # The sticker's drawing (eyes, mouth) splits its flat colour: take every pixel of that
        # colour around the piece, bridge the drawing with a closing, and judge the outline.
        x0, y0 = max(0, x - bw // 2), max(0, y - bh // 2)
        x1, y1 = min(w, x + bw + bw // 2), min(h, y + bh + bh // 2)
        colour = np.median(mean[labels == i], axis=0)
        near = (np.abs(mean[y0:y1, x0:x1] - colour).max(axis=2) < 10).astype(np.uint8)
        near = cv2.morphologyEx(near, cv2.MORPH_CLOSE, _disc(max(3, min(bw, bh) // 4 | 1)))
        contours, _ = cv2.findContours(near, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE, offset=(x0, y0))
        cx, cy = x + bw // 2, y + bh // 2
        inside = [c for c in contours if cv2.pointPolygonTest(c, (float(cx), float(cy)), False) >= 0]
        if not inside:
            continue
        c = max(inside, key=cv2.contourArea)
        area, perimeter = cv2.contourArea(c), cv2.arcLength(c, True)
        if perimeter == 0 or not min_area * total <= area <= max_area * total:
            continue
        if 4 * np.pi * area / perimeter**2 >= min_circularity:
            # Filled, and widened past the blur's shrinking and the sticker's own outline.
            pad = 3 + 0.08 * np.sqrt(area / np.pi)
            cv2.drawContours(out, [c], -1, 1, thickness=-1)
            cv2.drawContours(out, [c], -1, 1, thickness=2 * round(pad))
    return out


def remove_overlays(rgb: np.ndarray, *, min_fraction: float = 0.005) -> np.ndarray | None:
    """``rgb`` with captions and stickers inpainted; None when fewer than ``min_fraction`` of its pixels are overlay."""
    mask = caption_mask(rgb) | sticker_mask(rgb)
    if mask.mean() < min_fraction:
        return None
    return cv2.inpaint(np.ascontiguousarray(rgb), mask * 255, 3, cv2.INPAINT_TELEA)


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


def repair_views(rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Every repair that applies to ``rgb``, as ``(name, view)``: ``straightened``,
    ``overlays-removed`` and the ``uncropped`` views (names are reported as the match's transform)."""
    small = work_copy(rgb)
    views: list[tuple[str, np.ndarray]] = []
    upright = straighten(small)
    if upright is not None:
        views.append(("straightened", upright))
    clean = remove_overlays(small)
    if clean is not None:
        views.append(("overlays-removed", clean))
    views += [("uncropped", v) for v in uncrop(work_copy(small, 256))]
    return views
