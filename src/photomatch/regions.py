"""Regions of an image worth hashing: borders trimmed, crops, photos inside screenshots and collages.

A whole-image hash survives only alterations that keep the frame; borders, screenshots and
collages need the query region that *is* the reported photo. ``query_regions`` proposes those
boxes (whole, border-trimmed, and candidate photo rectangles from a recursive XY-cut on
near-uniform rows/columns, full-span seams, rectangular contours and the 2x2 grid, each trimmed
again, near-duplicates dropped, largest first); ``reported_regions`` gives the reported image and
its border-trimmed box. Hashing a query region needs no picture of the reported image, so it also
serves imported hash lists. How the matcher combines these hashes with verification and feature
retrieval is in :mod:`photomatch.matcher`; what each stage recovers, and why reported-side crops
and windows are off by default, is measured by ``benchmarks/region_experiments.py`` (figures in
``benchmarks/README.md``).

Known limits: aspect stretch is not a similarity (whole-image PDQ catches plain stretches, a
stretched crop is missed); the verifier refuses large rotations (90-degree turns and mirrors are
the PDQ dihedral variants' job); a mirror-symmetric scene can verify against its own mirror image.

Boxes are ``(x, y, w, h)`` integer tuples in pixels of the image passed in.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

Box = tuple[int, int, int, int]
RegionKind = Literal["whole", "trim", "square", "crop", "window", "rect", "cell", "circle", "rounded", "tile"]

__all__ = ["Box", "crop", "trim_borders", "reported_regions", "query_regions", "screen_regions", "iou"]

# Below this many pixels on a side a region carries too little detail for PDQ to be reliable.
MIN_SIDE = 48


def _check_rgb(rgb: np.ndarray, name: str = "rgb") -> np.ndarray:
    if not isinstance(rgb, np.ndarray):
        msg = f"{name}: expected a numpy array, got {type(rgb).__name__}"
        raise TypeError(msg)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        msg = f"{name}: expected a uint8 array of shape (H, W, 3), got {rgb.dtype} {rgb.shape}"
        raise ValueError(msg)
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        msg = f"{name}: image is empty ({rgb.shape[1]}x{rgb.shape[0]})"
        raise ValueError(msg)
    return rgb


def crop(rgb: np.ndarray, box: Box) -> np.ndarray:
    """Return the pixels of ``box`` (a view, no copy).

    >>> import numpy as np
    >>> crop(np.zeros((10, 20, 3), np.uint8), (2, 3, 5, 4)).shape
    (4, 5, 3)
    """
    x, y, w, h = box
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > rgb.shape[1] or y + h > rgb.shape[0]:
        msg = f"box {box} is empty or outside the {rgb.shape[1]}x{rgb.shape[0]} image"
        raise ValueError(msg)
    return rgb[y : y + h, x : x + w]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes.

    >>> iou((0, 0, 10, 10), (5, 0, 10, 10))
    0.3333333333333333
    """
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _max_dev(lines: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Largest per-channel absolute deviation of ``lines`` (..., 3) from ``colour`` (..., 3)."""
    d = np.abs(lines.astype(np.int16) - colour)
    # np.maximum over the channel slices: a reduce over a last axis of 3 is several times slower.
    return np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2])


def _uniform_run(lines: np.ndarray, tolerance: int, min_fraction: float) -> int:
    """How many leading lines of ``lines`` (n, m, 3) are close to the colour of the first line.

    A line is "uniform" when at least ``min_fraction`` of its pixels are within ``tolerance``
    (max over channels) of the border colour, the median of the outermost line; the fraction
    rather than the max absorbs JPEG ringing and stray pixels. Lines are examined in growing
    chunks because most images have no border or a thin one.
    """
    colour = np.median(lines[0], axis=0).astype(np.int16)
    n = lines.shape[0]
    start, chunk = 0, 8
    while start < n:
        part = lines[start : start + chunk]
        ok = (_max_dev(part, colour) <= tolerance).mean(axis=1) >= min_fraction
        bad = np.flatnonzero(~ok)
        if bad.size:
            return start + int(bad[0])
        start += part.shape[0]
        chunk *= 2
    return n


def trim_borders(
    rgb: np.ndarray, *, tolerance: int = 24, min_fraction: float = 0.97, max_samples: int = 384
) -> Box:
    """The content box of ``rgb`` with near-constant borders removed on each side.

    Each side is trimmed independently (letterbox, pillarbox, frames of any colour); a side
    whose outermost line is not uniform is left alone. ``tolerance`` is the largest per-channel
    deviation from the border colour still counted as border (JPEG noise), ``min_fraction`` the
    share of a line's pixels that must be border. Lines are subsampled to ``max_samples`` pixels
    along their length for speed; positions across them stay exact. If everything is border, the
    whole box is returned.

    >>> import numpy as np
    >>> img = np.zeros((100, 120, 3), np.uint8)
    >>> img[10:90, 30:100] = np.random.default_rng(0).integers(0, 255, (80, 70, 3))
    >>> trim_borders(img)
    (30, 10, 70, 80)
    """
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    sx = max(1, w // max_samples)
    sy = max(1, h // max_samples)
    rows = rgb[:, ::sx]  # (h, w', 3): rows are lines for top/bottom
    cols = rgb[::sy, :].transpose(1, 0, 2)  # (w, h', 3): columns are lines for left/right
    top = _uniform_run(rows, tolerance, min_fraction)
    if top >= h:
        return (0, 0, w, h)
    bottom = _uniform_run(rows[::-1], tolerance, min_fraction)
    left = _uniform_run(cols, tolerance, min_fraction)
    right = _uniform_run(cols[::-1], tolerance, min_fraction)
    x0, x1 = left, w - right
    y0, y1 = top, h - bottom
    if x1 - x0 < 1 or y1 - y0 < 1:
        return (0, 0, w, h)
    return (x0, y0, x1 - x0, y1 - y0)


def reported_regions(
    rgb: np.ndarray, *, squares: bool = True, crops: tuple[float, ...] = (), windows: int = 0
) -> list[tuple[Box, str]]:
    """The regions of a reported image to hash and store, whole image first.

    By default: the whole image, when it has borders the trimmed image, and (``squares``) the
    centre square of each when it is not square already (kind ``"square"``): what apps show as a
    round avatar or a grid tile, so that such a view matches by hash alone. ``crops`` adds
    centre crops keeping those fractions of each side (of the trimmed image), ``windows`` adds
    an ``windows`` x ``windows`` grid of overlapping windows each covering 2/(windows+1) of each
    side. Measured on photos-dev, crops and windows add little recall for their cost (each is one
    more index entry and one more chance of a false match), so they are off by default.

    >>> import numpy as np
    >>> [k for _, k in reported_regions(np.zeros((64, 64, 3), np.uint8))]
    ['whole']
    >>> reported_regions(np.zeros((60, 100, 3), np.uint8))
    [((0, 0, 100, 60), 'whole'), ((20, 0, 60, 60), 'square')]
    """
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    out: list[tuple[Box, str]] = [((0, 0, w, h), "whole")]
    t = trim_borders(rgb)
    if t != (0, 0, w, h) and min(t[2], t[3]) >= MIN_SIDE and _differs(t, (0, 0, w, h)):
        out.append((t, "trim"))
    if squares:
        for box, _ in list(out):
            sq = centre_square(box)
            if min(sq[2], sq[3]) >= MIN_SIDE and all(_differs(sq, b, 0.05) for b, _ in out):
                out.append((sq, "square"))
    tx, ty, tw, th = t
    for f in crops:
        if not 0.0 < f < 1.0:
            msg = f"crops: each fraction must be in (0, 1), got {f}"
            raise ValueError(msg)
        cw, ch = round(tw * f), round(th * f)
        if min(cw, ch) >= MIN_SIDE:
            out.append(((tx + (tw - cw) // 2, ty + (th - ch) // 2, cw, ch), "crop"))
    if windows >= 2:
        frac = 2.0 / (windows + 1)
        cw, ch = round(tw * frac), round(th * frac)
        if min(cw, ch) >= MIN_SIDE:
            for j in range(windows):
                for i in range(windows):
                    x = tx + round(i * (tw - cw) / (windows - 1))
                    y = ty + round(j * (th - ch) / (windows - 1))
                    out.append(((x, y, cw, ch), "window"))
    return out


def centre_square(box: Box) -> Box:
    """The largest square centred in ``box``.

    >>> centre_square((10, 0, 100, 60))
    (30, 0, 60, 60)
    """
    x, y, w, h = box
    s = min(w, h)
    return (x + (w - s) // 2, y + (h - s) // 2, s, s)


def _differs(a: Box, b: Box, min_shift: float = 0.02) -> bool:
    """True when boxes differ by more than ``min_shift`` of the larger side on some edge."""
    tol = min_shift * max(a[2], a[3], b[2], b[3])
    ea = (a[0], a[1], a[0] + a[2], a[1] + a[3])
    eb = (b[0], b[1], b[0] + b[2], b[1] + b[3])
    return any(abs(p - q) > tol for p, q in zip(ea, eb))


# ---------------------------------------------------------------------------------------------
# Query side


def _line_is_uniform(a: np.ndarray, axis: int, tolerance: int, min_fraction: float) -> np.ndarray:
    """For each row (axis=1) or column (axis=0) of ``a`` (h, w, 3) int16: is it near one colour?"""
    # The mean stands in for the median (several times cheaper): on a line that is >= 97% one
    # colour the mean is within ~8 levels of that colour, well inside the tolerance.
    mean = a.mean(axis=axis, keepdims=True).astype(np.int16)
    return (_max_dev(a, mean) <= tolerance).mean(axis=axis) >= min_fraction


def _segments(uniform: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """Maximal runs of non-uniform lines, at least ``min_len`` long, as [start, end)."""
    out = []
    n = uniform.size
    i = 0
    while i < n:
        if uniform[i]:
            i += 1
            continue
        j = i
        while j < n and not uniform[j]:
            j += 1
        if j - i >= min_len:
            out.append((i, j))
        i = j
    return out


def _xy_cut(
    a: np.ndarray, box: Box, depth: int, min_side: int, tolerance: int, out: list[Box]
) -> None:
    """Recursive XY-cut: split ``box`` of ``a`` at runs of uniform rows/columns; collect blocks."""
    x, y, w, h = box
    sub = a[y : y + h, x : x + w]
    rows = _line_is_uniform(sub, 1, tolerance, 0.97)
    cols = _line_is_uniform(sub, 0, tolerance, 0.97)
    rseg = _segments(rows, min_side)
    cseg = _segments(cols, min_side)
    if not rseg or not cseg:
        return
    # Tighten to the non-uniform hull, then split along the axis with more than one segment.
    if len(rseg) == 1 and len(cseg) == 1:
        inner = (x + cseg[0][0], y + rseg[0][0], cseg[0][1] - cseg[0][0], rseg[0][1] - rseg[0][0])
        out.append(inner)
        if depth > 0 and inner != box:
            _xy_cut(a, inner, depth - 1, min_side, tolerance, out)
        return
    if depth <= 0:
        return
    if len(rseg) > 1:
        for r0, r1 in rseg:
            _xy_cut(a, (x, y + r0, w, r1 - r0), depth - 1, min_side, tolerance, out)
    if len(cseg) > 1:
        for c0, c1 in cseg:
            _xy_cut(a, (x + c0, y, c1 - c0, h), depth - 1, min_side, tolerance, out)


def _edge_cuts(grey: np.ndarray, axis: int, min_gap: int) -> list[int]:
    """Positions of straight edges spanning the image (collage seams without gutters).

    A seam between two photos is a row (column) where most pixels change sharply from the
    previous row; inside a photo such rows are rare. Returns positions sorted.
    """
    g = grey.astype(np.int16)
    if axis == 0:  # horizontal seams: differences between consecutive rows
        d = np.abs(np.diff(g, axis=0))
        frac = (d > 24).mean(axis=1)
    else:
        d = np.abs(np.diff(g, axis=1))
        frac = (d > 24).mean(axis=0)
    cand = np.flatnonzero(frac >= 0.6) + 1
    cuts: list[int] = []
    n = g.shape[axis]
    for c in cand:
        if c < min_gap or n - c < min_gap:
            continue
        if cuts and c - cuts[-1] < min_gap:
            continue
        cuts.append(int(c))
    return cuts


def _contour_rects(grey: np.ndarray, min_area: float) -> list[Box]:
    """Axis-aligned bounding boxes of large quadrilateral contours (photos on textured backgrounds)."""
    edges = cv2.Canny(grey, 60, 160)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    h, w = grey.shape
    out = []
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        if bw * bh < min_area or bw * bh > 0.97 * w * h:
            continue
        approx = cv2.approxPolyDP(c, 0.02 * cv2.arcLength(c, True), True)
        if len(approx) != 4 or not cv2.isContourConvex(approx):
            continue
        # Only near-rectangles: the quad fills most of its bounding box.
        if cv2.contourArea(approx) < 0.85 * bw * bh:
            continue
        out.append((x, y, bw, bh))
    return out


def query_regions(
    rgb: np.ndarray,
    *,
    max_regions: int = 12,
    work_side: int = 320,
    min_area: float = 0.04,
    grid: bool = True,
) -> list[tuple[Box, str]]:
    """Candidate photo regions of a query image, whole image first, at most ``max_regions``.

    Kinds: ``"whole"``, ``"trim"`` (borders removed), ``"rect"`` (a block separated by uniform
    rows/columns or a rectangular contour: a photo in a screenshot, a framed photo), ``"cell"``
    (a collage cell between straight seams, or of the 2x2 grid when ``grid``). Analysis runs on a
    copy downscaled to ``work_side`` pixels on the long side; boxes are mapped back to ``rgb``'s
    pixels and each is trimmed of its own borders at full resolution. Regions smaller than
    ``min_area`` of the image or ``MIN_SIDE`` pixels on a side are dropped, and near-duplicates
    (IoU > 0.9) are kept once.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> shot = np.full((400, 240, 3), 255, np.uint8)
    >>> shot[120:300, 20:220] = rng.integers(0, 255, (180, 200, 3))
    >>> (20, 120, 200, 180) in [b for b, k in query_regions(shot)]
    True
    """
    _check_rgb(rgb)
    if max_regions < 1:
        msg = f"max_regions must be >= 1, got {max_regions}"
        raise ValueError(msg)
    h, w = rgb.shape[:2]
    whole: Box = (0, 0, w, h)
    out: list[tuple[Box, str]] = [(whole, "whole")]

    def add(box: Box, kind: str) -> None:
        if min(box[2], box[3]) < MIN_SIDE or box[2] * box[3] < min_area * w * h:
            return
        if any(iou(box, b) > 0.9 for b, _ in out):
            return
        out.append((box, kind))

    t = trim_borders(rgb)
    add(t, "trim")
    if max_regions == 1:
        return out[:1]

    scale = min(1.0, work_side / max(h, w))
    small = rgb
    if scale < 1.0:
        small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR)
    sh, sw = small.shape[:2]
    a = small.astype(np.int16)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    min_side_small = max(8, int(MIN_SIDE * scale))

    cands: list[tuple[Box, str]] = []
    blocks: list[Box] = []
    _xy_cut(a, (0, 0, sw, sh), 3, min_side_small, 20, blocks)
    cands += [(b, "rect") for b in blocks]
    cands += [(b, "rect") for b in _contour_rects(grey, min_area * sw * sh)]
    ys = [0, *_edge_cuts(grey, 0, min_side_small), sh]
    xs = [0, *_edge_cuts(grey, 1, min_side_small), sw]
    if len(ys) > 2 or len(xs) > 2:
        for j in range(len(ys) - 1):
            for i in range(len(xs) - 1):
                cands.append(((xs[i], ys[j], xs[i + 1] - xs[i], ys[j + 1] - ys[j]), "cell"))

    # Largest first: big candidates are the likeliest photos and the cheapest to confirm.
    cands.sort(key=lambda bk: -bk[0][2] * bk[0][3])
    inv = 1.0 / scale
    for (bx, by, bw, bh), kind in cands:
        if len(out) >= max_regions:
            break
        x0 = max(0, int(np.floor(bx * inv)))
        y0 = max(0, int(np.floor(by * inv)))
        x1 = min(w, int(np.ceil((bx + bw) * inv)))
        y1 = min(h, int(np.ceil((by + bh) * inv)))
        if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
            continue
        tb = trim_borders(rgb[y0:y1, x0:x1])
        add((x0 + tb[0], y0 + tb[1], tb[2], tb[3]), kind)
    if grid and len(out) < max_regions:
        hw, hh = w // 2, h // 2
        for (gx, gy) in ((0, 0), (hw, 0), (0, hh), (hw, hh)):
            if len(out) >= max_regions:
                break
            add((gx, gy, hw if gx == 0 else w - hw, hh if gy == 0 else h - hh), "cell")
    return out[:max_regions]


# ---------------------------------------------------------------------------------------------
# Small views inside screens: round avatars, rounded pictures, tiles of a photo grid

SCREEN_SIDE = 720
"""Short side, in pixels, the screen analysis runs at: a grid gap of 1 px on a 1080-px-wide screen
still shows as an edge, and an avatar keeps a clean outline."""

MAX_TILES = 32
"""Most grid tiles kept per query: a phone screen of four-to-a-row square tiles holds about 28."""


def grey_scaled(rgb: np.ndarray, scale: float) -> np.ndarray:
    """Grey copy of ``rgb`` scaled by ``scale`` (area-averaged; unchanged when ``scale`` >= 1)."""
    h, w = rgb.shape[:2]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return grey


def _screen_grey(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Grey copy whose SHORT side is at most ``side`` px (screens are tall: their width matters)."""
    scale = min(1.0, side / min(rgb.shape[:2]))
    return grey_scaled(rgb, scale), scale


def _seams(g: np.ndarray, axis: int, min_fraction: float = 0.5, step: int = 3, *, peaks: bool = True) -> np.ndarray:
    """For each row (axis=0) or column (axis=1) of ``g``: does it separate two pictures?

    A separating line is near-uniform (a gap of any colour: >= 95% of its pixels within 12 levels
    of its mean), or crossed by a sharp change on ``min_fraction`` of its length, or where the
    mean change across lines peaks (three times its local median: two pictures meeting, or a
    gap blurred by downscaling, where colours near the seam are alike on part of its length).
    Changes are measured over two lines, so a seam spread over two pixels still counts. Lines
    are subsampled by ``step`` along their length; positions across them stay exact.
    """
    a = g[:, ::step] if axis == 0 else g[::step, :].T  # rows of `a` are the lines
    a = a.astype(np.int16)
    n = a.shape[0]
    # The mean stands in for the median, as in _line_is_uniform (several times cheaper).
    mean = a.mean(axis=1, keepdims=True).astype(np.int16)
    seam = (np.abs(a - mean) <= 12).mean(axis=1) >= 0.95
    if n >= 3:
        d = np.abs(a[2:] - a[:-2])
        strength = np.zeros(n, np.float32)
        strength[1:-1] = d.mean(axis=1)
        seam[1:-1] |= (d > 28).mean(axis=1) >= min_fraction
        if not peaks:
            return seam
        local = cv2.medianBlur(np.clip(strength, 0, 255).astype(np.uint8).reshape(-1, 1), 31).ravel()
        seam |= (strength >= 3.0 * np.maximum(local, 4)) & (strength >= 16)
    return seam


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """Maximal runs of False in ``mask`` at least ``min_len`` long, as [start, end)."""
    return _segments(mask, min_len)


def _equal_cells(seam: np.ndarray, min_cell: int, tolerance: float, max_cols: int = 6) -> list[tuple[int, int]]:
    """Split a band into 2..``max_cols`` equal cells at seams (``seam``: one flag per column).

    Seams inside pictures (a lamp post, a dark night sky, a striped facade) are common, so the
    cells are not the runs between any seams: the band (without its seam margins, then all of
    it: a picture's flat side can pass for a margin) is divided into n equal parts, most parts first, and accepted when a
    seam lies near every predicted boundary. From three parts on, one boundary may be missing
    (two dark pictures meeting on a dark gap leave no trace); it, and any cut much wider than the
    others (a seam run into a striped picture), is placed where the band predicts, as wide as the
    other cuts. Returns [] when no n fits.
    """
    flat = np.flatnonzero(~seam)
    if flat.size == 0:
        return []
    spans = [(int(flat[0]), int(flat[-1]) + 1)]
    if spans[0] != (0, seam.size):
        spans.append((0, seam.size))
    for lo, hi in spans:
        for n in range(max_cols, 1, -1):
            cells = _partition(seam, lo, hi, n, min_cell, tolerance, max_cols)
            if cells:
                return cells
    return []


def _partition(seam: np.ndarray, lo: int, hi: int, n: int, min_cell: int, tolerance: float,
               max_cols: int) -> list[tuple[int, int]]:
    """``_equal_cells`` for one span and one number of parts ([] when it does not fit)."""
    span = hi - lo
    if span / n < min_cell:
        return []
    near = max(3, int(tolerance * span / max_cols))
    predicted = [lo + round(k * span / n) for k in range(1, n)]
    cuts: list[tuple[int, int] | None] = []
    for b in predicted:
        a = max(lo, b - near)
        hits = np.flatnonzero(seam[a : b + near + 1])
        if hits.size == 0:
            cuts.append(None)
            if cuts.count(None) > (1 if n >= 3 else 0):
                return []
            continue
        # The seam run through the hit closest to the predicted boundary, kept near it.
        c = a + int(hits[np.argmin(np.abs(hits + a - b))])
        c0 = c
        while c0 > max(lo, b - near) and seam[c0 - 1]:
            c0 -= 1
        c1 = c
        while c1 + 1 < min(hi, b + near + 1) and seam[c1 + 1]:
            c1 += 1
        cuts.append((c0, c1 + 1))
    found = [c for c in cuts if c is not None]
    gap = round(float(np.median([c1 - c0 for c0, c1 in found])))
    for i, (cut, b) in enumerate(zip(cuts, predicted)):
        if cut is None or cut[1] - cut[0] > max(2 * gap, gap + 4):
            cuts[i] = (b - gap // 2, b - gap // 2 + gap)
    edges = [lo, *[v for cut in cuts if cut is not None for v in cut], hi]
    cells = [(edges[2 * i], edges[2 * i + 1]) for i in range(n)]
    widths = np.array([b - a for a, b in cells], float)
    if widths.min() >= min_cell and widths.max() <= (1 + 2 * tolerance) * widths.min():
        return cells
    return []


def grid_tiles(rgb: np.ndarray, *, side: int = 1080, min_fraction: float = 0.07,
               tolerance: float = 0.08) -> list[Box]:
    """Tiles of grids of equal pictures (a profile's photo grid, a gallery), in ``rgb``'s pixels.

    Bands are cut between separating rows (``_seams``: a gap of any colour, or a straight edge
    across the screen); a band that divides into 2-6 equal cells at its own separating columns
    (``_equal_cells``, within ``tolerance``), each at least ``min_fraction`` of the screen's short
    side and no more than 2:1, is a row of a grid, and those cells are its tiles. The analysis runs
    on a grey copy whose short side is at most ``side`` px (a phone screen at its own size). Tiles may touch the screen's edges (no gap needed there). Each tile is trimmed of
    its own borders at full resolution. At most ``MAX_TILES``, top to bottom.

    >>> import numpy as np
    >>> import cv2
    >>> rng = np.random.default_rng(0)
    >>> screen = np.full((900, 400, 3), 255, np.uint8)
    >>> for r in range(2):
    ...     for c in range(3):
    ...         coarse = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    ...         screen[200 + r * 134 : 332 + r * 134, c * 134 : c * 134 + 132] = cv2.resize(coarse, (132, 132))
    >>> grid_tiles(screen)[:4]
    [(0, 200, 132, 132), (134, 200, 132, 132), (268, 200, 132, 132), (0, 334, 132, 132)]
    """
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    grey, scale = _screen_grey(rgb, side)
    gh, gw = grey.shape
    min_cell = max(8, int(min_fraction * min(gw, gh)), int(MIN_SIDE * scale))
    out: list[Box] = []
    # Rows: only lines that are uniform or cut across most of the width (a peak of the mean change
    # can come from one tile's horizon); columns: every kind of seam, then an equal partition.
    bands = _runs(_seams(grey, 0, peaks=False), min_cell)
    for y0, y1 in bands:
        cells = _equal_cells(_seams(grey[y0:y1], 1), min_cell, tolerance)
        if not cells or not 0.8 <= (cells[0][1] - cells[0][0]) / (y1 - y0) <= 2.0:
            # No grid, or cells taller than wide: rows may have merged where a dark tile meets a
            # dark gap (or the header above). Cut this band at every kind of row seam and retry.
            sub = [(y0 + a, y0 + b) for a, b in _runs(_seams(grey[y0:y1], 0), min_cell)]
            if len(sub) > 1:
                bands.extend(sub)
                continue
        for x0, x1 in cells:
            if not 0.5 <= (x1 - x0) / (y1 - y0) <= 2.0:
                break
            # A seam is found from changes over two lines, so it also flags each picture's last
            # line: give that line back.
            bx0, by0 = max(0, int(np.floor((x0 - 1) / scale))), max(0, int(np.floor((y0 - 1) / scale)))
            bx1, by1 = min(w, int(np.ceil((x1 + 1) / scale))), min(h, int(np.ceil((y1 + 1) / scale)))
            # Not trimmed: the cell already stops at the gaps, and trimming would cut a tile's
            # own flat sky or wall off (its centre-square hash is of the untrimmed picture).
            if min(bx1 - bx0, by1 - by0) >= MIN_SIDE:
                out.append((bx0, by0, bx1 - bx0, by1 - by0))
            if len(out) >= MAX_TILES:
                return out
    return out
    return out


def round_views(rgb: np.ndarray, *, side: int = 360, min_radius: float = 0.06, max_radius: float = 0.45,
                max_views: int = 4) -> list[tuple[Box, str]]:
    """Round pictures (profile avatars) and rounded rectangles (avatars, chat pictures), in ``rgb``'s pixels.

    A screen's background is flat; pictures are not. The non-flat areas (5x5 neighbourhoods
    spanning more than 8 grey levels, on a copy whose short side is ``side`` px) are split into
    connected shapes, and a shape whose convex hull fills its bounding box like a disc (78.5%,
    within 5 points) and its enclosing circle (>= 90%) is kind ``"circle"``; one filling 82-97%
    of its box is a rounded rectangle, kind ``"rounded"`` (a sharp rectangle, 100%, is
    ``query_regions``' job). A shape must be mostly solid (its own area >= 85% of its hull:
    a sky touching the edge only bites a little) and its box ``min_radius`` to ``max_radius``
    of the short side across (as a radius) and at most 2:1. Of nested shapes (an avatar inside a
    story ring) the innermost is kept. Largest first, at most ``max_views``; cheap (a few ms on a
    phone screenshot) because it runs at low resolution with no Hough transform.

    >>> import numpy as np, cv2
    >>> rng = np.random.default_rng(0)
    >>> screen = np.full((800, 400, 3), 250, np.uint8)
    >>> disc = np.zeros((800, 400), np.uint8)
    >>> _ = cv2.circle(disc, (200, 250), 110, 255, -1)
    >>> screen[disc > 0] = cv2.GaussianBlur(rng.integers(0, 255, (800, 400, 3), dtype=np.uint8), (0, 0), 3)[disc > 0]
    >>> round_views(screen)
    [((90, 140, 222, 222), 'circle')]
    """
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    grey, scale = _screen_grey(rgb, side)
    short = min(grey.shape)
    kernel = np.ones((5, 5), np.uint8)
    busy = (cv2.dilate(grey, kernel) - cv2.erode(grey, kernel)) > 8
    busy = cv2.morphologyEx(busy.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    # Outer boundaries only: in RETR_CCOMP's two levels a shape inside another's hole (an avatar
    # inside its story ring) is still an outer boundary, and holes (a flat patch of sky) are not.
    contours, hierarchy = cv2.findContours(busy, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    contours = [c for c, hier in zip(contours, hierarchy[0] if hierarchy is not None else ()) if hier[3] < 0]
    lo, hi = max(6.0, min_radius * short), max_radius * short
    inv = 1.0 / scale
    found: list[tuple[Box, str]] = []
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        if min(bw, bh) < 2 * lo or max(bw, bh) > 2 * hi or max(bw, bh) > 2 * min(bw, bh):
            continue
        hull = cv2.convexHull(c)
        area = cv2.contourArea(hull)
        if cv2.contourArea(c) < 0.85 * area:
            continue
        fill = area / float(bw * bh)
        (_, _), r = cv2.minEnclosingCircle(hull)
        if abs(fill - np.pi / 4) <= 0.05 and area >= 0.9 * np.pi * r * r and abs(bw - bh) <= 0.08 * max(bw, bh):
            kind = "circle"
        elif 0.82 <= fill <= 0.97:
            kind = "rounded"
        else:
            continue
        # The 5x5 filter spreads a shape by 2 px on each side: take them back.
        x0, y0 = max(0, int(np.floor((x + 2) * inv))), max(0, int(np.floor((y + 2) * inv)))
        x1, y1 = min(w, int(np.ceil((x + bw - 2) * inv))), min(h, int(np.ceil((y + bh - 2) * inv)))
        if min(x1 - x0, y1 - y0) >= MIN_SIDE:
            found.append(((x0, y0, x1 - x0, y1 - y0), kind))
    # Innermost of nested shapes first (an avatar inside its ring), then the largest.
    found.sort(key=lambda bk: bk[0][2] * bk[0][3])
    out: list[tuple[Box, str]] = []
    for box, kind in found:
        if all(iou(box, b) <= 0.6 and not _inside(b, box) for b, _ in out):
            out.append((box, kind))
    out.sort(key=lambda bk: -bk[0][2] * bk[0][3])
    return out[:max_views]


def _inside(inner: Box, outer: Box) -> bool:
    """Is ``inner`` within ``outer`` (and at least half its width)?"""
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and inner[0] + inner[2] <= outer[0] + outer[2]
            and inner[1] + inner[3] <= outer[1] + outer[3] and inner[2] >= 0.5 * outer[2])


SCREEN_ROWS = 0.05
"""Share of near-uniform rows (at 320 px) from which a query is looked at as a screen: a phone
screenshot's status bar, header and page around the text give many, most photos none (measured
by ``benchmarks/small_views``; figures in ``benchmarks/README.md``)."""


def uniform_row_share(rgb: np.ndarray, *, work_side: int = 320) -> float:
    """Share of the rows of ``rgb`` (downscaled to ``work_side`` px) that are near one colour.

    >>> import numpy as np
    >>> uniform_row_share(np.full((400, 200, 3), 255, np.uint8))
    1.0
    """
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    small = rgb if scale >= 1.0 else cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                interpolation=cv2.INTER_NEAREST)
    return float(_line_is_uniform(small.astype(np.int16), 1, 20, 0.97).mean())


def looks_like_screen(rgb: np.ndarray) -> bool:
    """Cheap test (about 1 ms) deciding whether ``screen_regions`` is worth running: at least
    ``SCREEN_ROWS`` of the rows are near-uniform."""
    return uniform_row_share(rgb) >= SCREEN_ROWS


def screen_regions(rgb: np.ndarray, *, check: bool = True) -> list[tuple[Box, str]]:
    """Small views of a screen worth their own hash and local features: ``round_views`` (kinds
    ``"circle"``, ``"rounded"``) then ``grid_tiles`` (kind ``"tile"``). Empty for most photos:
    with ``check`` nothing is looked for unless ``looks_like_screen``.

    ``query_regions`` finds photos that fill a good part of the query; these are the ones it
    misses: pictures of 5-40% of a phone screen's width, drawn round or packed in a grid with
    thin gaps that vanish when the query is analysed at low resolution.
    """
    if check and not looks_like_screen(rgb):
        return []
    views = round_views(rgb)
    tiles = [(b, "tile") for b in grid_tiles(rgb) if all(iou(b, v) <= 0.7 for v, _ in views)]
    return views + tiles


def view_pixels(rgb: np.ndarray, box: Box, region_kind: str) -> np.ndarray:
    """The pixels of a view to hash: a ``"circle"``'s corners (the page around the avatar) are
    filled with the disc's mean colour, which disturbs a hash of the picture's centre square less
    than the page's white or black does.

    >>> import numpy as np
    >>> v = view_pixels(np.full((60, 60, 3), 200, np.uint8), (0, 0, 60, 60), "circle")
    >>> int(v[0, 0, 0]), int(v[30, 30, 0])
    (200, 200)
    """
    pixels = np.ascontiguousarray(crop(rgb, box))
    if region_kind != "circle":
        return pixels
    h, w = pixels.shape[:2]
    yy, xx = np.ogrid[:h, :w]
    outside = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2 > 1.0
    out = pixels.copy()
    out[outside] = pixels[~outside].mean(axis=0).astype(np.uint8)
    return out
