"""Deterministic alterations of photos: the copies a matcher has to find (or must not confuse).

Every alteration is a function ``(image, rng, fillers) -> image`` where ``image`` is an RGB
``PIL.Image``, ``rng`` a ``numpy.random.Generator`` seeded from (photo id, alteration, seed) by
:func:`rng_for`, and ``fillers`` the other photos a collage needs (empty for the rest). The same
inputs always give the same pixels. See the package docstring for what each alteration does.

Look at them::

    python -m benchmarks.quality.alterations --show ../shared/data/photos-dev/kodak_0001.jpg --out /tmp/sheet

>>> import numpy as np
>>> from PIL import Image
>>> img = Image.fromarray(np.full((60, 90, 3), 128, np.uint8))
>>> apply("crop_50", img, rng_for("x", "crop_50", 0)).size
(64, 42)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

# Bump when any alteration changes: the cache folder of altered copies is keyed by it.
VERSION = 1  # new alterations add files without changing the existing ones

Alteration = Callable[[Image.Image, np.random.Generator, Sequence[Image.Image]], Image.Image]

_WORDS = (
    "when you finally see it the best day ever look at this my new friend nobody told me about "
    "weekend mood can't stop laughing guess who is back home again so proud of us summer vibes "
    "throwback to the good times coffee first love this place tag someone who needs this"
).split()

_APP_COLOURS = ((24, 119, 242), (131, 58, 180), (0, 150, 136), (29, 161, 242), (225, 48, 108), (37, 211, 102))


def rng_for(photo_id: str, alteration: str, seed: int) -> np.random.Generator:
    """A generator that depends only on (photo id, alteration name, seed): reruns give the same copies.

    >>> int(rng_for("a.jpg", "crop_70", 0).integers(1000)) == int(rng_for("a.jpg", "crop_70", 0).integers(1000))
    True
    """
    digest = hashlib.sha256(f"{seed}\0{alteration}\0{photo_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def load_rgb(path: str | Path) -> Image.Image:
    """Decode a photo as a viewer shows it: EXIF orientation applied, converted to RGB."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return im.convert("RGB")


def _font(size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, int(round(size))))


def _words(rng: np.random.Generator, n: int) -> str:
    return " ".join(str(w) for w in rng.choice(_WORDS, size=n))


# --- simple geometric and photometric edits -------------------------------------------------------


def _resize(factor: float) -> Alteration:
    def f(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
        w, h = img.size
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        return img.resize(size, Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.BICUBIC)

    return f


def _identity(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    # The JPEG alterations are this plus the save quality in SAVE_QUALITY.
    return img


def _crop(area: float) -> Alteration:
    def f(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
        w, h = img.size
        side = math.sqrt(area)  # same factor on both sides keeps the aspect ratio
        cw, ch = max(1, round(w * side)), max(1, round(h * side))
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        return img.crop((x0, y0, x0 + cw, y0 + ch))

    return f


def _stretch(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    w, h = img.size
    return img.resize((round(w * 1.3), h), Image.Resampling.BICUBIC)


def _rotate5(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    # Canvas expanded so no photo pixel is lost; the four corner triangles are black.
    return img.rotate(5, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0))


def _rotate90(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    return img.transpose(Image.Transpose.ROTATE_90)


def _flip(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def _grey(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    return img.convert("L")


def _blur(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(radius=2))


def _bright_contrast(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    return ImageEnhance.Contrast(ImageEnhance.Brightness(img).enhance(1.2)).enhance(1.2)


# --- overlays and compositions --------------------------------------------------------------------


def _fit_text(draw: ImageDraw.ImageDraw, text: str, max_width: float, size: float):
    """The default font at ``size``, shrunk until ``text`` fits in ``max_width``."""
    font = _font(size)
    while size > 8 and draw.textlength(text, font=font) > max_width:
        size *= 0.9
        font = _font(size)
    return font


def _text(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    # Meme captions: white capitals with a black outline over the top and bottom of the photo.
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    size = max(w, h) / 11
    for where in ("top", "bottom"):
        text = _words(rng, int(rng.integers(3, 6))).upper()
        font = _fit_text(draw, text, 0.92 * w, size)
        stroke = max(1, round(font.size / 14)) if hasattr(font, "size") else 1
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
        x = (w - (right - left)) / 2 - left
        y = 0.03 * h - top if where == "top" else 0.97 * h - bottom
        draw.text((x, y), text, font=font, fill="white", stroke_width=stroke, stroke_fill="black")
    return out


def _border(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    # Letterbox: the photo centred on a plain canvas of another aspect ratio, padding >= 20% of one side.
    w, h = img.size
    kind = int(rng.integers(3))
    colour = [(0, 0, 0), (255, 255, 255), tuple(int(c) for c in rng.integers(0, 256, 3))][kind]
    if w >= h:  # landscape -> square, 4:5 or 9:16 portrait canvas (bars top and bottom)
        aspect = float(rng.choice([1.0, 0.8, 9 / 16]))
        cw, ch = w, max(round(w / aspect), round(h * 1.2))
    else:  # portrait -> square, 4:3 or 16:9 landscape canvas (bars left and right)
        aspect = float(rng.choice([1.0, 4 / 3, 16 / 9]))
        cw, ch = max(round(h * aspect), round(w * 1.2)), h
    canvas = Image.new("RGB", (cw, ch), colour)
    canvas.paste(img, ((cw - w) // 2, (ch - h) // 2))
    return canvas


def _screenshot(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    """The photo inside a phone screenshot of a social-media post, drawn with Pillow."""
    scale = float(rng.uniform(0.45, 0.75))
    cw, ch = round(1080 * scale), round(2340 * scale)
    dark = bool(rng.integers(2))
    bg, fg, muted = ((18, 18, 18), (235, 235, 235), (150, 150, 150)) if dark else ((255, 255, 255), (20, 20, 20), (120, 120, 120))
    accent = _APP_COLOURS[int(rng.integers(len(_APP_COLOURS)))]
    canvas = Image.new("RGB", (cw, ch), bg)
    d = ImageDraw.Draw(canvas)
    # Status bar (clock, battery), app header bar (title), bottom navigation bar with icons.
    sb = round(0.03 * ch)
    d.rectangle((0, 0, cw, sb), fill=(0, 0, 0) if dark else (235, 235, 235))
    d.text((0.04 * cw, 0.15 * sb), f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}", font=_font(0.6 * sb), fill=fg)
    d.rectangle((0.86 * cw, 0.3 * sb, 0.94 * cw, 0.7 * sb), outline=fg, width=max(1, sb // 12))
    hb = round(0.055 * ch)
    d.rectangle((0, sb, cw, sb + hb), fill=accent)
    d.text((0.05 * cw, sb + 0.22 * hb), _words(rng, 1).capitalize() + "gram", font=_font(0.55 * hb), fill="white")
    nav = round(0.06 * ch)
    d.rectangle((0, ch - nav, cw, ch), fill=(30, 30, 30) if dark else (245, 245, 245))
    for i in range(5):
        cx, r = (i + 0.5) * cw / 5, 0.25 * nav
        d.ellipse((cx - r, ch - nav / 2 - r, cx + r, ch - nav / 2 + r), outline=muted, width=max(1, round(r / 6)))
    # Profile row: avatar circle, user name, handle.
    y = sb + hb + 0.015 * ch
    av = 0.11 * cw
    d.ellipse((0.04 * cw, y, 0.04 * cw + av, y + av), fill=tuple(int(c) for c in rng.integers(40, 220, 3)))
    name = " ".join(w.capitalize() for w in _words(rng, 2).split())
    d.text((0.08 * cw + av, y + 0.05 * av), name, font=_font(0.045 * cw), fill=fg)
    d.text((0.08 * cw + av, y + 0.55 * av), "@" + name.lower().replace(" ", "_"), font=_font(0.035 * cw), fill=muted)
    y += av + 0.015 * ch
    line_h = 0.05 * cw
    body = _font(0.036 * cw)
    for _ in range(int(rng.integers(1, 4))):  # caption above the photo
        d.text((0.04 * cw, y), _words(rng, int(rng.integers(3, 7))), font=body, fill=fg)
        y += line_h
    # The photo: random width (55-100% of the screen), aspect kept, at a random height below the caption.
    w, h = img.size
    actions = 0.06 * ch
    room = ch - nav - actions - y - 0.01 * ch
    pw = float(rng.uniform(0.55, 1.0)) * cw
    ph = pw * h / w
    if ph > min(room, 0.6 * ch):
        ph = min(room, 0.6 * ch)
        pw = ph * w / h
    pw, ph = max(1, round(pw)), max(1, round(ph))
    x = 0 if pw >= 0.95 * cw else int(rng.integers(round(0.03 * cw), max(round(0.03 * cw) + 1, cw - pw - round(0.03 * cw))))
    y = round(y + rng.uniform(0, max(0.0, room - ph)))
    canvas.paste(img.resize((pw, ph), Image.Resampling.LANCZOS), (x, y))
    # Like/comment/share icons under the photo, then comment lines down to the navigation bar.
    ya = y + ph + 0.015 * ch
    for i in range(3):
        cx, r = 0.07 * cw + i * 0.1 * cw, 0.02 * cw
        d.ellipse((cx - r, ya, cx + r, ya + 2 * r), outline=fg, width=max(1, round(r / 5)))
    yl = ya + 0.06 * cw
    while yl + line_h < ch - nav:
        d.text((0.04 * cw, yl), _words(rng, int(rng.integers(3, 8))), font=body, fill=muted)
        yl += line_h
    return canvas


def _collage(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    """2x2 grid: the photo whole (fit to its cell) in a random cell, three fillers cropped to fill the others."""
    if len(fillers) < 3:
        msg = f"collage needs 3 filler photos, got {len(fillers)}"
        raise ValueError(msg)
    w, h = img.size
    k = min(1.0, 640 / max(w, h))  # cells of at most 640 px, the size collage apps export
    cw, ch = max(1, round(w * k)), max(1, round(h * k))
    gutter = max(2, round(0.015 * max(cw, ch)))
    canvas = Image.new("RGB", (2 * cw + 3 * gutter, 2 * ch + 3 * gutter), (255, 255, 255))
    slot = int(rng.integers(4))
    others = iter(fillers)
    for i in range(4):
        x, y = gutter + (i % 2) * (cw + gutter), gutter + (i // 2) * (ch + gutter)
        tile = img.resize((cw, ch), Image.Resampling.LANCZOS) if i == slot else ImageOps.fit(next(others).convert("RGB"), (cw, ch))
        canvas.paste(tile, (x, y))
    return canvas


def _sticker(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    """Emoji-like stickers: 1-3 opaque discs (flat fill, dark eyes and mouth) over ~10 % of the picture."""
    out = img.copy()
    d = ImageDraw.Draw(out)
    w, h = out.size
    n = int(rng.integers(1, 4))
    area = float(rng.uniform(0.08, 0.12)) * w * h / n
    r = math.sqrt(area / math.pi)
    for _ in range(n):
        cx = float(rng.uniform(r, max(r + 1, w - r)))
        cy = float(rng.uniform(r, max(r + 1, h - r)))
        fill = [(255, 204, 51), (255, 221, 0), (250, 180, 60), (240, 90, 120)][int(rng.integers(4))]
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=(120, 80, 0), width=max(1, round(r / 25)))
        e = 0.13 * r  # eyes and a smile
        for sx in (-0.35, 0.35):
            d.ellipse((cx + sx * r - e, cy - 0.3 * r - 1.4 * e, cx + sx * r + e, cy - 0.3 * r + 1.4 * e), fill=(60, 40, 20))
        d.arc((cx - 0.5 * r, cy - 0.3 * r, cx + 0.5 * r, cy + 0.55 * r), 20, 160, fill=(60, 40, 20), width=max(1, round(r / 10)))
    return out


def _meme(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    """The meme layout: the photo cropped (90 % of its area, random window), with white caption bands
    above and below it holding black text (each band 12-20 % of the photo's height)."""
    photo = _crop(0.9)(img, rng, fillers)
    w, h = photo.size
    top, bottom = (round(h * float(rng.uniform(0.12, 0.2))) for _ in range(2))
    canvas = Image.new("RGB", (w, h + top + bottom), (255, 255, 255))
    canvas.paste(photo, (0, top))
    d = ImageDraw.Draw(canvas)
    for y0, band in ((0, top), (h + top, bottom)):
        text = _words(rng, int(rng.integers(3, 7)))
        font = _fit_text(d, text, 0.92 * w, 0.5 * band)
        left, t, right, b = d.textbbox((0, 0), text, font=font)
        d.text(((w - (right - left)) / 2 - left, y0 + (band - (b - t)) / 2 - t), text, font=font, fill=(0, 0, 0))
    return canvas


# --- profile pages and photo grids: the photo as a small part of a busy screenshot ----------------


def _centre_square(img: Image.Image, side: int) -> Image.Image:
    """The centre square of ``img`` scaled to ``side`` px: what apps show as an avatar or a grid tile."""
    return ImageOps.fit(img.convert("RGB"), (side, side), Image.Resampling.LANCZOS)


def _phone(rng: np.random.Generator) -> tuple[Image.Image, ImageDraw.ImageDraw, tuple, tuple, tuple, int, int]:
    """A 1080x2340 phone screen (light or dark) with a status bar and an app header; returns the
    canvas, its drawer, the colours (background, text, muted), the header's bottom and the
    navigation bar's top (the bar is drawn)."""
    cw, ch = 1080, 2340
    dark = bool(rng.integers(2))
    bg, fg, muted = ((0, 0, 0), (240, 240, 240), (160, 160, 160)) if dark else ((255, 255, 255), (15, 15, 15), (115, 115, 115))
    canvas = Image.new("RGB", (cw, ch), bg)
    d = ImageDraw.Draw(canvas)
    sb = 70
    d.text((40, 14), f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}", font=_font(40), fill=fg)
    d.rectangle((930, 22, 1020, 50), outline=fg, width=4)
    hb = 130
    d.text((40, sb + 35), _words(rng, 1) + "_" + _words(rng, 1) + str(int(rng.integers(10, 99))), font=_font(56), fill=fg)
    for i in range(2):  # header icons
        cx = 900 + 100 * i
        d.rounded_rectangle((cx - 28, sb + 37, cx + 28, sb + 93), radius=12, outline=fg, width=5)
    nav = ch - 150
    d.rectangle((0, nav, cw, ch), fill=bg)
    d.line((0, nav, cw, nav), fill=muted, width=2)
    for i in range(5):
        cx = (i + 0.5) * cw / 5
        d.rounded_rectangle((cx - 32, nav + 43, cx + 32, nav + 107), radius=14, outline=fg, width=5)
    return canvas, d, bg, fg, muted, sb + hb, nav


def _tile_grid(canvas: Image.Image, fillers: Sequence[Image.Image], top: int, bottom: int, cols: int, gap: int,
               gap_colour: tuple, photo: Image.Image | None, rng: np.random.Generator) -> tuple[int, int, int] | None:
    """Square tiles, ``cols`` to a row, touching the screen's sides, ``gap`` px apart, from ``top``
    down to ``bottom`` (the last row cut there). Fillers' centre squares fill the tiles (cycled if
    too few); ``photo`` goes into a random fully visible tile, whose (x, y, side) is returned."""
    cw = canvas.width
    side = (cw - (cols - 1) * gap) // cols
    extra = cw - (cols * side + (cols - 1) * gap)  # the last column absorbs the rounding
    ImageDraw.Draw(canvas).rectangle((0, top, cw, bottom), fill=gap_colour)
    rows = max(1, -(-(bottom - top) // (side + gap)))
    full = [(r, c) for r in range(rows) for c in range(cols) if top + r * (side + gap) + side <= bottom]
    slot = full[int(rng.integers(len(full)))] if photo is not None and full else None
    placed = None
    k = 0
    for r in range(rows):
        for c in range(cols):
            x, y = c * (side + gap), top + r * (side + gap)
            s = side + (extra if c == cols - 1 else 0)
            if (r, c) == slot:
                tile = _centre_square(photo, s)
                placed = (x, y, s)
            else:
                tile = _centre_square(fillers[k % len(fillers)], s) if fillers else Image.new("RGB", (s, s), (128, 128, 128))
                k += 1
            visible = min(s, bottom - y)
            if visible > 0:
                canvas.paste(tile.crop((0, 0, s, visible)), (x, y))
    return placed


def _profile(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    """A social-media profile page on a 1080x2340 screen: the photo's centre square as the round
    avatar (250-400 px across, sometimes inside a coloured story ring), name, counts, bio,
    buttons, then a grid of other photos (three to a row) down to the navigation bar."""
    canvas, d, bg, fg, muted, y, nav = _phone(rng)
    dia = int(rng.integers(250, 401))
    centred = bool(rng.integers(2))
    ax = (1080 - dia) // 2 if centred else int(rng.integers(30, 70))
    ay = y + int(rng.integers(20, 60))
    if rng.integers(2):  # story ring: a coloured circle around the avatar, a background-coloured gap
        accent = _APP_COLOURS[int(rng.integers(len(_APP_COLOURS)))]
        d.ellipse((ax - 16, ay - 16, ax + dia + 16, ay + dia + 16), fill=accent)
        d.ellipse((ax - 8, ay - 8, ax + dia + 8, ay + dia + 8), fill=bg)
    mask = Image.new("L", (4 * dia, 4 * dia), 0)  # drawn 4x larger then reduced: an antialiased edge
    ImageDraw.Draw(mask).ellipse((0, 0, 4 * dia - 1, 4 * dia - 1), fill=255)
    canvas.paste(_centre_square(img, dia), (ax, ay), mask.resize((dia, dia), Image.Resampling.LANCZOS))
    big, small = _font(46), _font(36)
    if centred:
        ty = ay + dia + 40
        name = " ".join(w.capitalize() for w in _words(rng, 2).split())
        d.text((540 - d.textlength(name, font=big) / 2, ty), name, font=big, fill=fg)
        ty += 70
        for i, what in enumerate(("posts", "followers", "following")):
            n = str(int(rng.integers(3, 5000)))
            cx = 180 + 360 * i
            d.text((cx - d.textlength(n, font=big) / 2, ty), n, font=big, fill=fg)
            d.text((cx - d.textlength(what, font=small) / 2, ty + 55), what, font=small, fill=muted)
        ty += 120
    else:
        for i, what in enumerate(("posts", "followers", "following")):
            n = str(int(rng.integers(3, 5000)))
            cx = ax + dia + 40 + (1040 - ax - dia - 40) * (i + 0.5) / 3
            d.text((cx - d.textlength(n, font=big) / 2, ay + dia / 2 - 60), n, font=big, fill=fg)
            d.text((cx - d.textlength(what, font=small) / 2, ay + dia / 2), what, font=small, fill=muted)
        ty = ay + dia + 30
        d.text((40, ty), " ".join(w.capitalize() for w in _words(rng, 2).split()), font=big, fill=fg)
        ty += 65
    for _ in range(int(rng.integers(1, 4))):  # bio lines
        d.text((40, ty), _words(rng, int(rng.integers(3, 7))), font=small, fill=fg)
        ty += 50
    ty += 20
    button = (239, 239, 239) if fg[0] < 128 else (38, 38, 38)
    for i, what in enumerate(("Follow", "Message")):  # rounded buttons
        x0 = 40 + i * 510
        d.rounded_rectangle((x0, ty, x0 + 490, ty + 80), radius=20, fill=_APP_COLOURS[0] if i == 0 else button)
        d.text((x0 + 245 - d.textlength(what, font=small) / 2, ty + 20), what, font=small, fill="white" if i == 0 else fg)
    ty += 130
    d.line((0, ty + 60, 1080, ty + 60), fill=muted, width=2)  # tab bar
    ty += 64
    _tile_grid(canvas, fillers, ty, nav, 3, int(rng.integers(2, 6)), bg, None, rng)
    return canvas


def _grid(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
    """A profile's photo grid on a 1080x2340 screen: square centre crops three or four to a row,
    1-6 px gaps of the background or a random colour, tiles touching the screen's sides; the
    photo in a random fully visible tile, a small profile strip above the grid."""
    canvas, d, bg, fg, muted, y, nav = _phone(rng)
    dia = 120
    d.ellipse((40, y + 20, 40 + dia, y + 20 + dia), fill=tuple(int(c) for c in rng.integers(40, 220, 3)))
    d.text((200, y + 45), " ".join(w.capitalize() for w in _words(rng, 2).split()), font=_font(46), fill=fg)
    d.text((200, y + 105), _words(rng, int(rng.integers(3, 6))), font=_font(34), fill=muted)
    top = y + dia + 60
    cols = int(rng.integers(3, 5))
    gap = int(rng.integers(1, 7))
    gap_colour = bg if rng.integers(2) else tuple(int(c) for c in rng.integers(0, 256, 3))
    _tile_grid(canvas, fillers, top, nav, cols, gap, gap_colour, img, rng)
    return canvas


def _forwarded(base: Alteration) -> Alteration:
    """The same screenshot, sent on by a messaging app: longest side 1280 px (saved at quality 85)."""

    def f(img: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image]) -> Image.Image:
        shot = base(img, rng, fillers)
        k = 1280 / max(shot.size)
        return shot.resize((round(shot.width * k), round(shot.height * k)), Image.Resampling.BICUBIC) if k < 1 else shot

    return f


ALTERATIONS: dict[str, Alteration] = {
    "original": _identity,
    "resize_0.5": _resize(0.5),
    "resize_0.25": _resize(0.25),
    "resize_1.5": _resize(1.5),
    "jpeg_q30": _identity,
    "jpeg_q70": _identity,
    "crop_90": _crop(0.9),
    "crop_70": _crop(0.7),
    "crop_50": _crop(0.5),
    "stretch_w1.3": _stretch,
    "rotate_5": _rotate5,
    "rotate_90": _rotate90,
    "flip_h": _flip,
    "grey": _grey,
    "blur_r2": _blur,
    "bright_contrast": _bright_contrast,
    "text": _text,
    "border": _border,
    "screenshot": _screenshot,
    "collage": _collage,
    "sticker": _sticker,
    "meme": _meme,
    "profile": _profile,
    "grid": _grid,
    "profile_fwd": _forwarded(_profile),
    "grid_fwd": _forwarded(_grid),
}

# Quality of the saved copy; every other alteration is saved as JPEG q95 at its natural size.
SAVE_QUALITY = {"jpeg_q30": 30, "jpeg_q70": 70, "profile_fwd": 85, "grid_fwd": 85}

# How many filler photos (distractors) each composition needs; screens cycle them if given fewer.
FILLERS = {"collage": 3, "profile": 18, "grid": 27, "profile_fwd": 18, "grid_fwd": 27}
NEEDS_FILLERS = frozenset(FILLERS)

# A forwarded screenshot is the same screenshot as its source: both draw from the source's seed.
RNG_NAME = {"profile_fwd": "profile", "grid_fwd": "grid"}


def rng_name(name: str) -> str:
    """The alteration name whose seed ``name`` draws from (itself, or the screenshot it forwards)."""
    return RNG_NAME.get(name, name)


def apply(name: str, image: Image.Image, rng: np.random.Generator, fillers: Sequence[Image.Image] = ()) -> Image.Image:
    """Apply the alteration ``name`` to an RGB image (the JPEG ones return it unchanged: see :func:`encode`)."""
    if name not in ALTERATIONS:
        msg = f"unknown alteration {name!r}: expected one of {', '.join(ALTERATIONS)}"
        raise ValueError(msg)
    return ALTERATIONS[name](image, rng, fillers)


def encode(name: str, image: Image.Image) -> bytes:
    """The bytes of the saved copy: JPEG at the alteration's quality (95 unless it is a JPEG alteration)."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=SAVE_QUALITY.get(name, 95))
    return buf.getvalue()


def contact_sheet(image: Image.Image, fillers: Sequence[Image.Image], *, seed: int = 0, photo_id: str = "example", cell: int = 300) -> Image.Image:
    """One example of every alteration, each decoded from its saved JPEG, labelled, on one sheet."""
    names = list(ALTERATIONS)
    cols = 5
    rows = math.ceil(len(names) / cols)
    label_h = 24
    sheet = Image.new("RGB", (cols * cell, rows * (cell + label_h)), (200, 200, 200))
    d = ImageDraw.Draw(sheet)
    font = _font(16)
    for i, name in enumerate(names):
        out = apply(name, image, rng_for(photo_id, rng_name(name), seed), fillers if name in NEEDS_FILLERS else ())
        with Image.open(io.BytesIO(encode(name, out))) as dec:
            shown = dec.convert("RGB")
        size = shown.size
        shown.thumbnail((cell - 8, cell - 8))
        x, y = (i % cols) * cell, (i // cols) * (cell + label_h)
        sheet.paste(shown, (x + (cell - shown.width) // 2, y + (cell - shown.height) // 2))
        d.text((x + 4, y + cell + 2), f"{name} {size[0]}x{size[1]}", font=font, fill=(0, 0, 0))
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quality.alterations", description="Write a contact sheet of every alteration of one photo.")
    p.add_argument("--show", required=True, type=Path, help="the photo to alter")
    p.add_argument("--out", required=True, type=Path, help="folder for contact_sheet.png")
    p.add_argument("--fillers", nargs="*", type=Path, help="3 photos for the collage (default: the next photos in the same folder)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    fill_paths = args.fillers
    if not fill_paths:
        exts = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
        fill_paths = [q for q in sorted(args.show.parent.iterdir()) if q.suffix.lower() in exts and q != args.show][: max(FILLERS.values())]
    fillers = [load_rgb(q) for q in fill_paths]
    while len(fillers) < 3:  # a lone photo: grey tiles stand in for the other collage photos
        fillers.append(Image.new("RGB", (64, 64), (128, 128, 128)))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "contact_sheet.png"
    contact_sheet(load_rgb(args.show), fillers, seed=args.seed, photo_id=args.show.name).save(target)
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
