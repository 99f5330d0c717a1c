"""Test clips made with PyAV: deterministic pictures, any codec/container, nothing downloaded."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from fractions import Fraction

import av
import numpy as np


@functools.lru_cache(maxsize=256)
def smooth(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A smooth, textured RGB picture (PDQ quality 100 and stable, unlike noise); seeds differ
    by 100+ bits of PDQ. Cached: the array is read-only."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, 3))
    for c in range(3):
        acc = np.full((h, w), 128.0)
        for _ in range(4):
            fx, fy = rng.uniform(1, 12, 2)
            px, py = rng.uniform(0, 6, 2)
            acc += rng.uniform(20, 50) * np.sin(2 * np.pi * x / w * fx + px) * np.cos(2 * np.pi * y / h * fy + py)
        out[..., c] = acc
    img = np.clip(out, 0, 255).astype(np.uint8)
    img.flags.writeable = False
    return img


def write_clip(frames: Iterable[np.ndarray], *, fps: float = 10, codec: str = "libx264", fmt: str = "mp4",
               path: str | None = None, rotation: int | None = None, options: dict[str, str] | None = None,
               pix_fmt: str | None = None) -> bytes:
    """Encode RGB frames; returns the file's bytes (and writes ``path`` when given)."""
    buf = io.BytesIO()
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        s.width, s.height = w, h
        s.pix_fmt = pix_fmt or ("yuvj420p" if codec == "mjpeg" else "yuv420p")
        if options:
            s.options = options
        if rotation is not None:
            s.set_display_rotation(rotation)
        for img in _chain(first, frames):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
        c.mux(s.encode())
    data = buf.getvalue()
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest


def slideshow(pictures: list[np.ndarray], *, seconds: float = 2.0, fade: float = 0.5, fps: float = 10,
              size: tuple[int, int] = (128, 96)) -> Iterable[np.ndarray]:
    """Each picture letterboxed into ``size`` (w, h) for ``seconds``, cross-fading into the next."""
    w, h = size
    boards = [_fit(p, w, h) for p in pictures]
    n_hold = round(seconds * fps)
    n_fade = round(fade * fps)
    for i, board in enumerate(boards):
        for _ in range(n_hold):
            yield board
        if i + 1 < len(boards):
            for k in range(1, n_fade + 1):
                a = k / (n_fade + 1)
                yield ((1 - a) * board + a * boards[i + 1]).astype(np.uint8)


def _fit(p: np.ndarray, w: int, h: int) -> np.ndarray:
    from PIL import Image

    ph, pw = p.shape[:2]
    s = min(w / pw, h / ph)
    nw, nh = max(1, round(pw * s)), max(1, round(ph * s))
    small = np.asarray(Image.fromarray(p).resize((nw, nh), Image.BILINEAR))
    board = np.zeros((h, w, 3), np.uint8)
    y0, x0 = (h - nh) // 2, (w - nw) // 2
    board[y0 : y0 + nh, x0 : x0 + nw] = small
    return board


def frames_of(fn: Callable[[int], np.ndarray], n: int) -> Iterable[np.ndarray]:
    return (fn(i) for i in range(n))


def make_video_scan(folder) -> tuple[str, str]:
    """A store (a photo with features, a reported video) and a folder of queries: a slideshow
    showing the photo, a trimmed re-encoded copy of the reported video, a clip with one corrupt
    frame (a note, and ``skipped_frames``) and the photo itself. Returns (store, query folder)."""
    from photomatch import Matcher

    photos = [smooth(i, 192, 256) for i in range(4)]
    scenes = [smooth(10 + i // 10, 192, 256) for i in range(60)]
    queries = folder / "queries"
    queries.mkdir()
    reported = folder / "reported.mp4"
    write_clip(scenes, fps=10, path=str(reported))
    write_clip(slideshow(photos, seconds=2, fade=0.5, fps=10, size=(320, 240)), fps=10, path=str(queries / "show.mp4"))
    write_clip(scenes[20:55], fps=10, fmt="matroska", path=str(queries / "trimmed.mkv"), options={"crf": "30"})
    data = bytearray(write_clip([photos[1]] * 20 + [photos[3]] * 10, fps=10, codec="mjpeg", fmt="avi",
                                options={"b": "4000000"}))
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[starts[10] + 150 : starts[10] + 600] = b"\xff\xd9" * 225  # frame 10's JPEG cut short
    (queries / "corrupt.avi").write_bytes(bytes(data))
    from PIL import Image

    Image.fromarray(photos[1]).save(queries / "photo.png")
    store = folder / "reports.db"
    with Matcher(store) as m:
        m.add([photos[1]], label="photo 1", features=True)
        m.add([str(reported)], label="video")
    return str(store), str(queries)
