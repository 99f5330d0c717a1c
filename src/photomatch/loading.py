"""Image loading: any source (path, bytes, file object, PIL image, numpy array) -> RGB pixels.

What this module guarantees, for every source:

* the result is a decoded RGB image (``open_image``) or a C-contiguous ``uint8`` (H, W, 3) array
  (``load_rgb``); animated files give their first frame, ``iter_frames`` gives every frame;
* the EXIF orientation is applied (``exif_transpose=False`` turns it off, for exact comparison
  with references that decode without it);
* transparency is composited over white; palette, 1-bit, L, CMYK (including Adobe's inverted
  CMYK JPEGs, as Pillow decodes them), YCbCr, LAB and HSV go through Pillow's own conversion;
  16-bit modes (``I;16*`` and ``I``) keep their 8 high bits (``v >> 8``, not clipping); float
  mode ``F`` is scaled by 255 when its largest finite value is <= 1, else clipped to [0, 255]
  (NaN gives 0), then rounded;
* a declared size above ``max_pixels`` raises :class:`ImageTooLargeError` from the header, before
  any pixel memory is spent; every other failure raises :class:`DecodeError` (a ``ValueError``)
  naming the source and the cause. No raw ``OSError``/``SyntaxError``/Pillow error escapes.

``draft_min_side`` asks the JPEG decoder for a 1/2, 1/4 or 1/8 scale decode (``Image.draft``)
that keeps both sides >= ``draft_min_side``: the fast path for hashing big photos. ``None`` (the
default) is the exact full decode the references use. ``PDQ_DRAFT_MIN_SIDE`` and
``PHASH_DRAFT_MIN_SIDE`` are the values measured by ``benchmarks/draft_drift.py`` to keep the
hash drift small (see that script for the figures). ``open_luma`` is the hashing fast path's
decoder: a JPEG comes back as its luma plane (mode ``L``, no chroma decoding), anything else as
``open_image`` gives it.

The module is thread-safe: it keeps no state besides a one-time registration of the
pillow-heif opener (HEIC/HEIF); AVIF is decoded by Pillow itself (Pillow >= 11.2 built with
libavif). HEIF rotations/mirrors (irot/imir) are always applied by libheif, which then reports
no EXIF orientation: ``exif_transpose=False`` cannot undo them.

Pillow's global ``Image.MAX_IMAGE_PIXELS`` is left alone: files are identified through
Pillow's plugin registry without its open-time bomb check, and our own ``max_pixels`` limit is
the one that applies (see ``_identify``). A few decoders check Pillow's limit again while
decoding (GIF frames larger than the screen, TIFF, MPO frames after the first, ICO/ICNS): above
twice ``Image.MAX_IMAGE_PIXELS`` (179 MP by default), or above it when warnings are errors, those
raise ImageTooLargeError even under a larger ``max_pixels``; between the two, under default
warning filters, Pillow's DecompressionBombWarning is printed and the image loads.
Pillow's other warnings (e.g. "Corrupt EXIF data") follow the caller's warning filters too: as
errors, they become a DecodeError naming the cause.

>>> import numpy as np
>>> rgb = load_rgb(np.zeros((2, 3), dtype=np.uint8))
>>> rgb.shape, rgb.dtype.name
((2, 3, 3), 'uint8')
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import struct
import threading
from collections.abc import Iterator
from typing import IO, Any, Union

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from .errors import DecodeError, ImageTooLargeError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PDQ_DRAFT_MIN_SIDE",
    "PHASH_DRAFT_MIN_SIDE",
    "ImageSource",
    "iter_frames",
    "load_rgb",
    "open_image",
    "open_luma",
    "source_name",
]

#: Key of ``Image.info`` holding how much a draft decode shrank the picture (file pixels per
#: decoded pixel; 1.0 for a full decode).
DECODE_SCALE = "photomatch_decode_scale"

#: Largest declared width*height accepted by default: a 200-megapixel phone photo fits,
#: a decompression bomb does not. Change it per call with ``max_pixels=`` (``None`` = no limit).
DEFAULT_MAX_PIXELS = 200_000_000

#: Recommended ``draft_min_side`` for PDQ: the smallest draft whose hash drift against the exact
#: full decode meets the targets (mean <= 3, p99 <= 8 bits), as ``benchmarks/draft_drift.py``
#: measures it (figures in ``benchmarks/README.md``).
PDQ_DRAFT_MIN_SIDE = 768
#: Recommended ``draft_min_side`` for pHash (same script; its 32x32 Lanczos input is robust).
PHASH_DRAFT_MIN_SIDE = 512

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Image.Image, np.ndarray]

_WHITE = (255, 255, 255)
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_ORIENTATION_TAG = 0x0112

# --------------------------------------------------------------------------------------------
# Plugin registration (the only global state, done once)

_plugins_lock = threading.Lock()
_plugins_ready = False
HEIF_AVAILABLE = False  # set by _ensure_plugins(): pillow-heif imported and registered


def _ensure_plugins() -> None:
    """Register the pillow-heif opener once; later calls cost one attribute read."""
    global _plugins_ready, HEIF_AVAILABLE
    if _plugins_ready:
        return
    with _plugins_lock:
        if _plugins_ready:
            return
        try:
            import pillow_heif
        except ImportError:  # an optional decoder: without it HEIC is "unsupported format"
            pass
        else:
            pillow_heif.register_heif_opener()
            HEIF_AVAILABLE = True
            # pillow-heif < 0.17 also decoded AVIF; newer ones leave AVIF to Pillow itself.
            register_avif = getattr(pillow_heif, "register_avif_opener", None)
            if register_avif is not None:
                Image.init()  # load every Pillow plugin, to see whether Pillow has AVIF itself
                if "AVIF" not in Image.OPEN:
                    register_avif()
        Image.preinit()
        _plugins_ready = True


# --------------------------------------------------------------------------------------------
# Names and errors


def source_name(source: object) -> str:
    """How errors name a source: the path, or ``<bytes>``, the file object's name, ``<PIL image>``, ``<array>``.

    >>> source_name("photos/a.jpg"), source_name(b"..."), source_name(io.BytesIO())
    ('photos/a.jpg', '<bytes>', '<file object>')
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(os.fspath(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(source, Image.Image):
        return "<PIL image>"
    if isinstance(source, np.ndarray):
        return "<array>"
    name = getattr(source, "name", None)
    if isinstance(name, (str, os.PathLike)):
        return os.fsdecode(os.fspath(name))
    return "<file object>"


def _describe(exc: BaseException) -> str:
    """A short cause for a decoder exception; the original text is kept in parentheses."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "truncated" in low:
        return f"truncated image data ({text})"
    if "broken data stream" in low:
        return f"truncated or corrupt image data ({text})"
    if "crc" in low or "checksum" in low:
        return f"corrupt image data, bad checksum ({text})"
    if isinstance(exc, SyntaxError):
        return f"corrupt image data ({text})"
    if isinstance(exc, EOFError):
        return f"truncated image data ({text})"
    return f"cannot decode image ({type(exc).__name__}: {text})"


@contextlib.contextmanager
def _decode_errors(name: str) -> Iterator[None]:
    """Turn whatever Pillow or a plugin raises on hostile input into a DecodeError naming ``name``."""
    try:
        yield
    except DecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Raised by checks inside some plugins (GIF frames, TIFF tiles, MPO frames) against
        # Pillow's own limit; the warning arrives here as an exception under filterwarnings=error.
        msg = f"image too large for Pillow's decompression-bomb limit ({e})"
        raise ImageTooLargeError(name, msg) from e
    except UnidentifiedImageError as e:
        raise DecodeError(name, "not an image or unsupported format") from e
    except MemoryError as e:
        raise DecodeError(name, "out of memory while decoding") from e
    except Exception as e:  # plugins raise many types on bad data (IndexError, struct.error, ...)
        raise DecodeError(name, _describe(e)) from e


def _check_options(max_pixels: int | None, draft_min_side: int | None) -> None:
    if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1):
        msg = f"max_pixels must be a positive int or None, not {max_pixels!r}"
        raise ValueError(msg)
    if draft_min_side is not None and (
        isinstance(draft_min_side, bool) or not isinstance(draft_min_side, int) or draft_min_side < 1
    ):
        msg = f"draft_min_side must be a positive int or None, not {draft_min_side!r}"
        raise ValueError(msg)


def _check_size(size: tuple[int, int], name: str, max_pixels: int | None) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise DecodeError(name, f"image has zero width or height ({width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        msg = (
            f"image too large: declares {width}x{height} = {width * height} pixels, "
            f"above the limit of {max_pixels} (max_pixels)"
        )
        raise ImageTooLargeError(name, msg)


# --------------------------------------------------------------------------------------------
# Opening files lazily


def _identify(fp: IO[bytes], filename: str, name: str) -> Image.Image:
    """Identify ``fp`` with Pillow's registered plugins, lazily (no pixel is decoded).

    This is ``Image.open`` minus its call to Pillow's global decompression-bomb check, which
    warns (an error under ``filterwarnings=error``) above ``Image.MAX_IMAGE_PIXELS`` (89 MP)
    and refuses above twice that, whatever limit the caller asked for. Changing that global
    would affect the whole process, and silencing the warning with ``warnings.catch_warnings``
    is not thread-safe; so we walk the same registry (``Image.ID`` / ``Image.OPEN``) in the
    same order and apply our own ``max_pixels`` just after.
    """
    fp.seek(0)
    prefix = fp.read(16)
    if not prefix:
        raise DecodeError(name, "empty file" if filename else "empty input")
    tried: set[str] = set()
    failures: list[tuple[str, Exception]] = []
    for loader in (Image.preinit, Image.init):  # common plugins first, then all of them
        loader()
        for fmt in list(Image.ID):
            if fmt in tried:
                continue
            tried.add(fmt)
            factory, accept = Image.OPEN[fmt]
            verdict = accept(prefix) if accept else True
            if not verdict or isinstance(verdict, str):  # a str says "known, but cannot open"
                continue
            fp.seek(0)
            try:
                return factory(fp, filename)
            except (SyntaxError, IndexError, TypeError, struct.error) as e:
                # Same exceptions Image.open treats as "not this format, try the next one".
                # Remember them only for plugins that checked a signature (IM, for one,
                # has no accept function and tries to parse anything).
                if accept:
                    failures.append((fmt, e))
    if failures:
        # A plugin recognised the signature but could not parse the header: a damaged file
        # of that format (e.g. a PNG whose IHDR checksum is wrong), not "not an image".
        fmt, exc = failures[0]
        raise DecodeError(name, f"{fmt} header rejected: {_describe(exc)}") from exc
    raise DecodeError(name, "not an image or unsupported format")


def _open_path(path: str, name: str) -> IO[bytes]:
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise DecodeError(name, "file not found") from e
    except PermissionError as e:
        raise DecodeError(name, "permission denied") from e
    except OSError as e:  # ELOOP, ENAMETOOLONG, EIO, ...
        if e.errno == errno.ELOOP:
            raise DecodeError(name, "symbolic link loop (too many levels of symbolic links)") from e
        raise DecodeError(name, f"cannot read file ({e.strerror or e})") from e
    if stat.S_ISDIR(st.st_mode):
        raise DecodeError(name, "is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO would block; a device has no end.
        raise DecodeError(name, "not a regular file (device, FIFO or socket)")
    try:
        return open(path, "rb")  # noqa: SIM115 -- closed by _opened()
    except PermissionError as e:
        raise DecodeError(name, "permission denied") from e
    except OSError as e:
        raise DecodeError(name, f"cannot read file ({e.strerror or e})") from e


@contextlib.contextmanager
def _opened(source: Any, name: str) -> Iterator[Image.Image]:
    """Yield ``source`` (path, bytes-like or binary file object) opened lazily by Pillow.

    A path is streamed from the file (never read whole into memory) and closed on exit; a
    caller's file object is left open, as Pillow does.
    """
    _ensure_plugins()
    if isinstance(source, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(source))
        fp = _open_path(path, name)
        try:
            with _decode_errors(name):
                yield _identify(fp, path, name)
        finally:
            fp.close()
        return
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:  # len of a memoryview counts items, but 0 is 0 either way
            raise DecodeError(name, "empty input")
        try:
            stream = io.BytesIO(source)
        except (TypeError, ValueError, BufferError):  # a non-contiguous memoryview
            stream = io.BytesIO(memoryview(source).tobytes())
        with _decode_errors(name):
            yield _identify(stream, "", name)
        return
    if callable(getattr(source, "read", None)):
        with _decode_errors(name):
            seekable = getattr(source, "seekable", None)
            fp: IO[bytes] = source
            if seekable is None or not seekable():
                # Pillow needs to seek; a pipe or socket has to be buffered (as Image.open does).
                fp = io.BytesIO(source.read())
            filename = name if not name.startswith("<") else ""
            yield _identify(fp, filename, name)
        return
    msg = (
        f"unsupported image source type {type(source).__name__}: expected a path, bytes, "
        "a binary file object, a PIL image or a numpy uint8 array"
    )
    raise TypeError(msg)


# --------------------------------------------------------------------------------------------
# Conversion to RGB


def _orientation(im: Image.Image) -> int:
    # A damaged EXIF block must not make a readable photo unreadable: treat it as "no rotation".
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


def _over_white(im: Image.Image) -> Image.Image:
    """Composite an image with alpha (any mode Pillow converts to RGBA) over white."""
    if im.mode == "La":  # premultiplied: colour*a/255 + 255*(1 - a/255) = colour + 255 - a
        arr = np.asarray(im).astype(np.int16)
        grey = (arr[..., 0] + 255 - arr[..., 1]).clip(0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    rgba = im if im.mode == "RGBA" else im.convert("RGBA")
    out = Image.new("RGB", rgba.size, _WHITE)
    out.paste(rgba, (0, 0), rgba)  # the RGBA image is its own mask: its alpha band
    return out


def _sixteen_bit_to_l(im: Image.Image) -> Image.Image:
    """I;16*/I -> L keeping the 8 high bits (Pillow's convert("L") clips at 255 instead)."""
    arr = np.asarray(im)
    grey = (arr.astype(np.int64) >> 8).clip(0, 255).astype(np.uint8)
    transparency = im.info.get("transparency")
    if isinstance(transparency, int):  # a 16-bit grey PNG with a tRNS key value
        grey[arr == transparency] = 255
    return Image.fromarray(grey, "L")


def _float_to_l(im: Image.Image) -> Image.Image:
    """F -> L: [0, 1] data (largest finite value <= 1) scaled by 255, else clipped to [0, 255]."""
    arr = np.asarray(im, dtype=np.float64)
    finite = np.isfinite(arr)
    peak = arr[finite].max() if finite.any() else 0.0
    if peak <= 1.0:
        arr = arr * 255.0
    arr = np.where(np.isnan(arr), 0.0, arr)
    return Image.fromarray(np.rint(arr.clip(0.0, 255.0)).astype(np.uint8), "L")


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB, transparency over white. May return ``im`` itself."""
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_l(im).convert("RGB")
    if mode == "F":
        return _float_to_l(im).convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in im.info:
        return _over_white(im)
    if mode == "RGB":
        return im
    return im.convert("RGB")


def _finish(im: Image.Image, *, exif_transpose: bool, owned: bool) -> Image.Image:
    """Orientation then RGB. ``owned=False``: never return ``im`` itself (the caller's, or a
    frame that the next seek will overwrite)."""
    if exif_transpose and _orientation(im) != 1:
        im = ImageOps.exif_transpose(im)
        owned = True
    out = _to_rgb(im)
    if out is im and not owned:
        out = im.copy()
    return out


def _from_array(arr: np.ndarray, name: str, max_pixels: int | None) -> Image.Image:
    if arr.dtype != np.uint8:
        msg = f"array dtype {arr.dtype} is not supported: pass uint8 pixels (H, W), (H, W, 3) or (H, W, 4)"
        raise DecodeError(name, msg)
    if arr.ndim == 2:
        mode = "L"
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        mode = "RGB" if arr.shape[2] == 3 else "RGBA"
    else:
        msg = f"array shape {arr.shape} is not supported: expected (H, W), (H, W, 3) or (H, W, 4)"
        raise DecodeError(name, msg)
    _check_size((arr.shape[1], arr.shape[0]), name, max_pixels)
    im = Image.fromarray(np.ascontiguousarray(arr), mode)
    out = _to_rgb(im)
    return out.copy() if out is im else out  # fromarray may share the caller's buffer


# --------------------------------------------------------------------------------------------
# Public API


def open_image(
    source: ImageSource,
    *,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft_min_side: int | None = None,
) -> Image.Image:
    """Decode the first frame of ``source`` into an RGB PIL image (loaded; files closed).

    ``source``: a path (str or os.PathLike), bytes / bytearray / memoryview of an encoded
    file, a binary file object (read from its start, left open), a PIL image (its current
    frame; never modified except for being loaded), or a uint8 numpy array (H, W), (H, W, 3)
    or (H, W, 4). ``exif_transpose``: apply the EXIF orientation. ``max_pixels``: refuse
    (ImageTooLargeError) a declared width*height above it, before decoding; ``None`` = no
    limit. ``draft_min_side``: let the JPEG decoder scale by 1/2, 1/4 or 1/8 while both sides
    stay >= this (ignored for other formats and for PIL/array sources); ``None`` = full decode.

    Raises DecodeError (a ValueError) naming the source and the cause.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGBA", (4, 2), (255, 0, 0, 0)).save(buf, "PNG")
    >>> im = open_image(buf.getvalue())
    >>> im.mode, im.size, im.getpixel((0, 0))
    ('RGB', (4, 2), (255, 255, 255))
    """
    _check_options(max_pixels, draft_min_side)
    name = source_name(source)
    if isinstance(source, np.ndarray):
        return _from_array(source, name, max_pixels)
    if isinstance(source, Image.Image):
        _check_size(source.size, name, max_pixels)
        with _decode_errors(name):
            source.load()
            return _finish(source, exif_transpose=exif_transpose, owned=False)
    with _opened(source, name) as im:
        _check_size(im.size, name, max_pixels)
        full_width = im.size[0]
        if draft_min_side is not None:
            # Largest of 1/8, 1/4, 1/2 keeping both sides >= draft_min_side (Pillow picks the
            # largest scale s with size // s >= requested on both axes); no-op for non-JPEG.
            im.draft("RGB", (draft_min_side, draft_min_side))
        im.load()
        out = _finish(im, exif_transpose=exif_transpose, owned=True)
        # How much the decoder shrank the picture, so boxes found in it map back to the file's pixels.
        out.info[DECODE_SCALE] = full_width / im.size[0]
        return out


def open_luma(
    source: ImageSource,
    *,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft_min_side: int | None = None,
) -> Image.Image:
    """Like :func:`open_image`, but a JPEG file comes back as its luma plane (mode ``L``).

    The fast path for PDQ: a YCbCr JPEG's Y channel is the JFIF luma 0.299 R + 0.587 G + 0.114 B,
    so asking the decoder for ``L`` skips the chroma IDCT, upsampling and colour conversion (about
    a third of the decode). A grey JPEG gives its one channel. The result differs from the luma
    of the decoded RGB only by the decoder's rounding. Every other source (other formats, CMYK
    JPEGs, PIL images, arrays) gives what :func:`open_image` gives: an RGB image. Callers branch
    on ``.mode`` (``"L"`` or ``"RGB"``). ``draft_min_side`` as in :func:`open_image`; ``None``
    decodes the luma at full size.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (40, 30), (200, 100, 50)).save(buf, "JPEG")
    >>> im = open_luma(buf.getvalue())
    >>> im.mode, im.size, abs(im.getpixel((0, 0)) - round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)) <= 2
    ('L', (40, 30), True)
    """
    _check_options(max_pixels, draft_min_side)
    if isinstance(source, (np.ndarray, Image.Image)):
        return open_image(source, exif_transpose=exif_transpose, max_pixels=max_pixels)
    name = source_name(source)
    with _opened(source, name) as im:
        _check_size(im.size, name, max_pixels)
        full_width = im.size[0]
        # Pillow's JPEG plugin switches the decoder to luma only for 3-channel (YCbCr or RGB)
        # files; a grey JPEG is "L" already; CMYK keeps its mode and takes the RGB path below.
        if im.format == "JPEG" and im.mode in ("RGB", "L"):
            size = None if draft_min_side is None else (draft_min_side, draft_min_side)
            im.draft("L", size)
        im.load()
        decoded_width = im.size[0]
        if im.mode == "L" and "transparency" not in im.info:
            out = ImageOps.exif_transpose(im) if exif_transpose and _orientation(im) != 1 else im
        else:
            out = _finish(im, exif_transpose=exif_transpose, owned=True)
        out.info[DECODE_SCALE] = full_width / decoded_width
        return out


def load_rgb(
    source: ImageSource,
    *,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft_min_side: int | None = None,
) -> np.ndarray:
    """Like :func:`open_image`, as a writable C-contiguous uint8 array of shape (H, W, 3).

    A C-contiguous uint8 (H, W, 3) array source is returned as is (not copied).

    >>> import numpy as np
    >>> load_rgb(np.full((2, 2, 4), 0, dtype=np.uint8))[0, 0].tolist()  # transparent -> white
    [255, 255, 255]
    """
    if (
        isinstance(source, np.ndarray)
        and source.dtype == np.uint8
        and source.ndim == 3
        and source.shape[2] == 3
        and source.flags.c_contiguous
    ):
        _check_options(max_pixels, draft_min_side)
        _check_size((source.shape[1], source.shape[0]), "<array>", max_pixels)
        return source
    im = open_image(source, exif_transpose=exif_transpose, max_pixels=max_pixels, draft_min_side=draft_min_side)
    return np.array(im, dtype=np.uint8, order="C")


def iter_frames(
    source: ImageSource,
    *,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft_min_side: int | None = None,
    max_frames: int | None = None,
) -> Iterator[Image.Image]:
    """Yield every frame of ``source`` as an independent RGB image (animated GIF/PNG/WebP, multi-page TIFF).

    Frames are composited by Pillow (disposal and blending) and streamed one at a time, so
    memory stays that of one frame whatever the frame count; ``max_frames`` stops early. A
    still image or an array yields one frame; a PIL image source is seeked through its frames.
    Options as in :func:`open_image` (the draft applies to single-frame JPEGs only); errors are
    raised when the bad frame is reached. A file opened from a path stays open until the
    iterator is exhausted or closed.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> frames = [Image.new("RGB", (3, 3), c) for c in ("red", "blue")]
    >>> frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    >>> [im.getpixel((0, 0)) for im in iter_frames(buf.getvalue())]
    [(255, 0, 0), (0, 0, 255)]
    """
    _check_options(max_pixels, draft_min_side)
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 0):
        msg = f"max_frames must be a non-negative int or None, not {max_frames!r}"
        raise ValueError(msg)
    return _iter_frames(source, exif_transpose, max_pixels, draft_min_side, max_frames)


def _iter_frames(
    source: ImageSource,
    exif_transpose: bool,
    max_pixels: int | None,
    draft_min_side: int | None,
    max_frames: int | None,
) -> Iterator[Image.Image]:
    name = source_name(source)
    if max_frames == 0:
        return
    if isinstance(source, np.ndarray):
        yield _from_array(source, name, max_pixels)
        return
    if isinstance(source, Image.Image):
        yield from _frames_of(source, name, exif_transpose, max_pixels, max_frames)
        return
    with _opened(source, name) as im:
        _check_size(im.size, name, max_pixels)
        if draft_min_side is not None and getattr(im, "n_frames", 1) == 1:
            im.draft("RGB", (draft_min_side, draft_min_side))
        yield from _frames_of(im, name, exif_transpose, max_pixels, max_frames)


def _frames_of(
    im: Image.Image, name: str, exif_transpose: bool, max_pixels: int | None, max_frames: int | None
) -> Iterator[Image.Image]:
    frames = ImageSequence.Iterator(im)
    count = 0
    while max_frames is None or count < max_frames:
        # Decode inside the error mapping, but yield outside it: an exception thrown into the
        # generator by the consumer must not be relabelled as a decoding error.
        with _decode_errors(name):
            try:
                frame = next(frames)
            except StopIteration:
                return
            _check_size(frame.size, name, max_pixels)  # a GIF frame may grow the canvas
            frame.load()
            out = _finish(frame, exif_transpose=exif_transpose, owned=False)
        count += 1
        yield out
