"""The report's pictures: thumbnails, the matched region drawn on the query, and the inlier
correspondences drawn between the query and the reported picture.

Every picture is decoded by the package's loader (same EXIF orientation and size limits as
matching), so the coordinates of a match (in the query file's pixels) land where they should.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .. import loading
from ..video import VideoReader

PANEL_HEIGHT = 300
"""Height of each picture in a card, in image pixels (a card is readable on a laptop and fits a
third of an A4 page)."""
PANEL_MAX_WIDTH = 440
GAP = 28
MAX_LINES = 40
"""At most this many correspondences are drawn (evenly chosen): more only hide each other."""
JPEG_QUALITY = 85

REGION = (228, 0, 102)
LINES = ((0, 114, 178), (230, 159, 0), (0, 158, 115), (213, 94, 0), (86, 180, 233), (204, 121, 167),
         (240, 228, 66), (0, 0, 0))  # Okabe-Ito: told apart by colour-blind readers too


@dataclass(frozen=True)
class Picture:
    """A decoded picture, shrunk to panel size, with its size in the file's pixels."""

    thumb: Image.Image
    file_size: tuple[int, int]


def read(path: str, *, max_pixels: int | None = loading.DEFAULT_MAX_PIXELS) -> tuple[bytes, str]:
    """A file's bytes and their sha256 (read once: the picture shown is the one hashed)."""
    with open(path, "rb") as f:
        data = f.read()
    return data, hashlib.sha256(data).hexdigest()


def decode(data: bytes, name: str, *, max_pixels: int | None = loading.DEFAULT_MAX_PIXELS) -> Picture:
    """``data`` decoded (JPEGs at a reduced scale: only a panel is needed) and shrunk to panel size
    in one resize (the most costly step of writing a report)."""
    with io.BytesIO(data) as buf:
        buf.name = name  # the loader names the file in its errors
        img = loading.open_image(buf, max_pixels=max_pixels, draft_min_side=PANEL_HEIGHT)
    scale = float(img.info.get(loading.DECODE_SCALE, 1.0))
    w, h = round(img.size[0] * scale), round(img.size[1] * scale)
    f = min(PANEL_HEIGHT / h, PANEL_MAX_WIDTH / w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return Picture(img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0), (w, h))


def video_frame(path: str, at: float) -> Picture | None:
    """The first frame of the video at ``path`` from ``at`` seconds on (a match's time span),
    shrunk to panel size; None when the video has no frame there."""
    with VideoReader(path) as reader:
        for frame in reader.sample(fps=1.0, scene_changes=False, max_side=2 * PANEL_HEIGHT):
            if frame.time + 1e-6 >= at:
                h, w = frame.pixels.shape[:2]
                size = (round(w * frame.scale), round(h * frame.scale))
                f = min(PANEL_HEIGHT / size[1], PANEL_MAX_WIDTH / size[0])
                panel = Image.fromarray(frame.pixels).resize(
                    (max(1, round(size[0] * f)), max(1, round(size[1] * f))), Image.Resampling.LANCZOS)
                return Picture(panel, size)
    return None


def _panel(pic: Picture) -> tuple[Image.Image, float]:
    """The picture at panel size, and the factor from file pixels to panel pixels."""
    return pic.thumb, pic.thumb.width / pic.file_size[0]


def _box(draw: ImageDraw.ImageDraw, region: Sequence[float], f: float, offset: tuple[int, int],
         limit: tuple[int, int]) -> None:
    x, y, w, h = (v * f for v in region)
    x0, y0 = offset[0] + x, offset[1] + y
    x1 = min(offset[0] + x + w, offset[0] + limit[0]) - 1
    y1 = min(offset[1] + y + h, offset[1] + limit[1]) - 1
    draw.rectangle((x0, y0, x1, y1), outline=(255, 255, 255), width=5)  # a halo: visible on dark and light
    draw.rectangle((x0 + 1, y0 + 1, x1 - 1, y1 - 1), outline=REGION, width=3)


def card_picture(query: Picture, region: Sequence[float] | None, reported: Picture | None,
                 correspondences: Sequence[Sequence[float]] | None) -> Image.Image:
    """The query (left) with the matched region outlined and, when known, the reported picture
    (right) with up to ``MAX_LINES`` inlier correspondences drawn between them."""
    q, fq = _panel(query)
    panels = [q]
    if reported is not None:
        r, fr = _panel(reported)
        panels.append(r)
    width = sum(p.width for p in panels) + GAP * (len(panels) - 1)
    height = max(p.height for p in panels)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    qy = (height - q.height) // 2
    canvas.paste(q, (0, qy))
    draw = ImageDraw.Draw(canvas)
    if reported is not None:
        rx, ry = q.width + GAP, (height - panels[1].height) // 2
        canvas.paste(panels[1], (rx, ry))
        if correspondences:
            pairs = np.asarray(correspondences, np.float64).reshape(-1, 4)
            pick = np.unique(np.linspace(0, len(pairs) - 1, min(MAX_LINES, len(pairs))).round().astype(int))
            for k, (sx, sy, qx, qy_) in enumerate(pairs[pick]):
                a = (qx * fq, qy + qy_ * fq)
                b = (rx + sx * fr, ry + sy * fr)
                colour = LINES[k % len(LINES)]
                draw.line((a, b), fill=colour, width=2)
                for x, y in (a, b):
                    draw.ellipse((x - 3, y - 3, x + 3, y + 3), outline=(255, 255, 255), fill=colour)
        draw.rectangle((rx - 1, ry - 1, rx + panels[1].width, ry + panels[1].height), outline=(160, 160, 160))
    if region is not None:
        _box(draw, region, fq, (0, qy), q.size)
    return canvas


def item_picture(reported: Picture) -> Image.Image:
    """The reported picture alone, for the head of its group."""
    return _panel(reported)[0]


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    # no EXIF, no ICC, no timestamps: the same picture gives the same bytes
    img.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def source_state(source: str | None, sha256: str | None) -> tuple[str, bytes | None]:
    """Whether a reported item's recorded source can be shown: ("ok", bytes) when the file is
    there with the recorded sha256; else ("hash-only" | "missing" | "changed" | "unreadable", None)."""
    if not source or not sha256:
        return "hash-only", None
    if not os.path.isfile(source):
        return "missing", None
    try:
        data, digest = read(source)
    except OSError:
        return "unreadable", None
    if digest != sha256:
        return "changed", None
    return "ok", data
