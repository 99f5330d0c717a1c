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
* work is bounded by what it costs, checked from the header before any pixel memory is spent:
  a declared size above ``max_pixels``, a decode holding more than ``max_bytes`` (decoded data
  at the decoder's depth, a progressive JPEG's coefficients and the RGB result, see
  ``DEFAULT_MAX_BYTES``) or a JPEG of more than ``MAX_JPEG_SCANS`` scans raises
  :class:`ImageTooLargeError` naming the source and the limit; conversions run in stripes at
  the final depth, so none holds a wider copy of the image; threads decoding at once share one
  budget (``_Reservations``);
* a path is opened only if it is a regular file, checked on the descriptor (``open_regular``):
  a FIFO, a device or a socket is refused without blocking; a file above ``MAX_FILE_BYTES`` is
  refused before it is read;
* every other failure raises :class:`DecodeError` (a ``ValueError``) naming the source and the
  cause. No raw ``OSError``/``SyntaxError``/Pillow error escapes.

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
import re
import struct
import threading
from collections.abc import Iterator
from typing import IO, Any, NamedTuple, Union

import numpy as np
from PIL import Image, ImageMode, ImageSequence, UnidentifiedImageError

from ._fileio import NotRegularFileError, open_regular
from .errors import DecodeError, ImageTooLargeError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MAX_FILE_BYTES",
    "MAX_JPEG_SCANS",
    "PDQ_DRAFT_MIN_SIDE",
    "PHASH_DRAFT_MIN_SIDE",
    "ImageSource",
    "Pixels",
    "iter_frames",
    "jpeg_scan_count",
    "load_pixels",
    "load_rgb",
    "luma",
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

#: Largest working set of one decode accepted by default, in bytes: the decoded pixels at the
#: decoder's own depth (Pillow keeps RGB in 4 bytes a pixel, 16-bit grey in 2, float in 4), the
#: whole-image coefficient buffers of a progressive JPEG (2 bytes a coefficient, whatever the
#: draft scale), the uint8 RGB result (3 bytes a pixel) and the hashing stages' scratch per row
#: and column (256 bytes each). Checked after the header (and the
#: JPEG draft) is read, before any pixel is decoded; change it per call with ``max_bytes=``.
#: 768 MiB keeps every accepted image under the documented ceilings (README, Robustness):
#: e.g. an RGB PNG up to 115 MP, a 16-bit grey PNG up to 161 MP, a float TIFF up to 115 MP.
DEFAULT_MAX_BYTES = 768 * 2**20

#: Largest number of scans (SOS markers) a JPEG may have. Every scan makes the decoder walk the
#: whole image's coefficients again, so a "scan bomb" of thousands of tiny scans costs seconds
#: per megabyte; encoders write 1 (baseline) to about 12 (progressive) scans, and libjpeg-turbo's
#: own fuzzing harnesses stop at 500. Counted from the markers before decoding.
MAX_JPEG_SCANS = 100

#: Largest input file read, in bytes (an image within the decode budget is far smaller).
MAX_FILE_BYTES = 1 << 30

#: Rows converted at a time: conversions run in stripes of about this many bytes, at the final
#: depth, so none of them holds a second copy of a big image at a wider type.
_STRIPE_BYTES = 4 << 20

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
_GREY_MODES = frozenset({"L", "1", "F"}) | _SIXTEEN_BIT_MODES  # one channel: luma is the value itself
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


def _check_options(max_pixels: int | None, draft_min_side: int | None, max_bytes: int | None = None) -> None:
    if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1):
        msg = f"max_pixels must be a positive int or None, not {max_pixels!r}"
        raise ValueError(msg)
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1):
        msg = f"max_bytes must be a positive int or None, not {max_bytes!r}"
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
    """Open an input file: a regular file only, checked on the descriptor (never blocks on a FIFO)."""
    try:
        return open_regular(path, max_bytes=MAX_FILE_BYTES)
    except NotRegularFileError as e:
        if e.errno == errno.EISDIR:
            raise DecodeError(name, "is a directory, not an image file") from e
        if e.errno == errno.EFBIG:
            raise ImageTooLargeError(name, f"file {e.strerror} (MAX_FILE_BYTES)") from e
        raise DecodeError(name, f"not a regular file: {e.strerror} (device, FIFO or socket)") from e
    except FileNotFoundError as e:
        raise DecodeError(name, "file not found") from e
    except PermissionError as e:
        raise DecodeError(name, "permission denied") from e
    except OSError as e:  # ELOOP, ENAMETOOLONG, EIO, ...
        if e.errno == errno.ELOOP:
            raise DecodeError(name, "symbolic link loop (too many levels of symbolic links)") from e
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
# What a decode costs: refused from the header, and one budget shared by the decoding threads


def _pixel_bytes(mode: str) -> int:
    """Bytes Pillow keeps per pixel in ``mode`` (multi-band 8-bit modes are padded to 4)."""
    try:
        m = ImageMode.getmode(mode)
    except KeyError:  # a mode Pillow decodes but does not describe: assume the widest common one
        return 4
    item = np.dtype(m.typestr).itemsize
    return 4 if len(m.bands) > 1 and item == 1 else max(1, len(m.bands) * item)


#: Scratch the hashing stages need per row and per column of an image, in bytes: PDQ's
#: streaming kernel keeps about 42 floats a column (``pm_pdq_scratch_floats``), and a Lanczos
#: resize to 32 px (pHash) 6 doubles per 32 source pixels on each axis. Counted in the budget, so
#: that a 1 x 100,000,000 image is refused from its header rather than by the allocator.
_SCRATCH_PER_SIDE = 256


def _decode_cost_of(size: tuple[int, int], stored_bytes: int) -> int:
    """Bytes a decode to ``size`` at ``stored_bytes`` a pixel holds, with the RGB result and the
    hashing stages' per-side scratch (see ``DEFAULT_MAX_BYTES``)."""
    w, h = size
    return w * h * (stored_bytes + 3) + _SCRATCH_PER_SIDE * (w + h)


def _decode_cost(im: Image.Image, full_size: tuple[int, int], scans: int) -> int:
    """Bytes one decode of ``im`` holds at its peak: see ``DEFAULT_MAX_BYTES``."""
    cost = _decode_cost_of(im.size, _pixel_bytes(im.mode))
    layers = getattr(im, "layer", None)  # a JPEG's components: (id, h sampling, v sampling, table)
    if scans > 1 and layers:
        # Progressive (and multi-scan) JPEGs keep every coefficient of the full-size image.
        hmax = max(max(c[1] for c in layers), 1)
        vmax = max(max(c[2] for c in layers), 1)
        fw, fh = full_size
        cost += sum(-(-fw * c[1] // hmax) * -(-fh * c[2] // vmax) * 2 for c in layers)
    return cost


def _check_cost(cost: int, im: Image.Image, name: str, max_bytes: int | None, scans: int) -> None:
    if max_bytes is not None and cost > max_bytes:
        what = f"{im.size[0]}x{im.size[1]} {im.mode}" + (f" in {scans} scans" if scans > 1 else "")
        msg = f"image too large: decoding {what} needs {cost} bytes, above the limit of {max_bytes} (max_bytes)"
        raise ImageTooLargeError(name, msg)


class _Reservations:
    """Bytes held by the decodes running in this process.

    A decode waits while others hold more than ``DEFAULT_MAX_BYTES`` between them, so N worker
    threads decoding big images take about one budget of memory, not N; small images never wait
    for each other. One decode alone always runs (it has passed its own ``max_bytes``).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._held == 0 or self._held + nbytes <= self.capacity)
            self._held += nbytes
        try:
            yield
        finally:
            with self._cond:
                self._held -= nbytes
                self._cond.notify_all()


_RESERVED = _Reservations(DEFAULT_MAX_BYTES)

# A marker inside entropy-coded data: 0xFF followed by neither a stuffed 0x00, a restart
# marker (0xD0-0xD7) nor a fill byte.
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _skip_entropy_data(fp: IO[bytes]) -> None:
    """Move ``fp`` from the start of a scan's entropy-coded data to the marker that ends it."""
    while True:
        pos = fp.tell()
        chunk = fp.read(1 << 20)
        if not chunk:
            return
        while chunk.endswith(b"\xff"):  # a marker split between two reads
            more = fp.read(1)
            if not more:
                break
            chunk += more
        m = _MARKER.search(chunk)
        if m is not None:
            fp.seek(pos + m.start())
            return


def jpeg_scan_count(fp: IO[bytes], *, stop_after: int | None = None) -> int:
    """Number of scans (SOS markers) of the first image of a JPEG stream, from its markers.

    Walks the segments by their lengths and skips each scan's entropy-coded data by searching
    for the marker that ends it: one read of the file, no decoding. Counting stops once past
    ``stop_after``. ``fp`` must be seekable; its position is restored.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (32, 32)).save(buf, "JPEG")
    >>> jpeg_scan_count(buf)
    1
    """
    start = fp.tell()
    try:
        fp.seek(0)
        if fp.read(2) != b"\xff\xd8":
            return 0
        scans = 0
        while stop_after is None or scans <= stop_after:
            byte = fp.read(1)
            if not byte:
                break
            if byte != b"\xff":  # stray bytes between segments: libjpeg skips them too
                continue
            code = fp.read(1)
            while code == b"\xff":  # fill bytes
                code = fp.read(1)
            if not code or code[0] == 0xD9:  # end of file or EOI
                break
            if code[0] in (0x00, 0x01) or 0xD0 <= code[0] <= 0xD8:  # markers without a length
                continue
            length = fp.read(2)
            if len(length) < 2:
                break
            fp.seek(int.from_bytes(length, "big") - 2, os.SEEK_CUR)
            if code[0] == 0xDA:
                scans += 1
                _skip_entropy_data(fp)
        return scans
    finally:
        fp.seek(start)


def _check_scans(im: Image.Image, name: str) -> int:
    """A JPEG's scan count (1 for other formats); ImageTooLargeError above MAX_JPEG_SCANS."""
    fp = getattr(im, "fp", None)
    if im.format not in ("JPEG", "MPO") or fp is None:
        return 1
    scans = jpeg_scan_count(fp, stop_after=MAX_JPEG_SCANS)
    if scans > MAX_JPEG_SCANS:
        msg = (f"image too large: the JPEG has more than {MAX_JPEG_SCANS} scans (MAX_JPEG_SCANS); "
               "each scan costs a pass over the whole image (a scan bomb)")
        raise ImageTooLargeError(name, msg)
    return scans


# --------------------------------------------------------------------------------------------
# Conversion to uint8 pixels, in stripes at the final depth


def _orientation(im: Image.Image) -> int:
    # A damaged EXIF block must not make a readable photo unreadable: treat it as "no rotation".
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


# EXIF orientation -> the numpy view that undoes it (as ImageOps.exif_transpose does).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def _over_white(im: Image.Image) -> np.ndarray:
    """Composite an image with alpha (any mode Pillow converts to RGBA) over white."""
    if im.mode == "La":  # premultiplied: colour*a/255 + 255*(1 - a/255) = colour + 255 - a
        arr = np.asarray(im).astype(np.int16)
        return (arr[..., 0] + 255 - arr[..., 1]).clip(0, 255).astype(np.uint8)
    rgba = im if im.mode == "RGBA" else im.convert("RGBA")
    out = Image.new("RGB", rgba.size, _WHITE)
    out.paste(rgba, (0, 0), rgba)  # the RGBA image is its own mask: its alpha band
    return np.asarray(out)


def _float_peak(im: Image.Image, rows: int) -> float:
    """Largest finite value of an F image, read in stripes."""
    peak = -np.inf
    w, h = im.size
    for y0 in range(0, h, rows):
        a = np.asarray(im.crop((0, y0, w, min(h, y0 + rows))))
        peak = max(peak, float(np.max(a, where=np.isfinite(a), initial=-np.inf)))
    return peak if np.isfinite(peak) else 0.0


def _stripe_converter(im: Image.Image, rows: int) -> Any:
    """A function: a stripe of ``im`` (a PIL image) -> uint8 (h, W) grey or (h, W, 3) RGB.

    16-bit modes (I;16*, I) keep their 8 high bits (v >> 8, not clipping), F is scaled by 255
    when its largest finite value is <= 1 and clipped otherwise (NaN gives 0), transparency is
    composited over white, every other mode goes through Pillow's conversion to RGB.
    """
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        key = im.info.get("transparency")  # a 16-bit grey PNG's tRNS key value

        def sixteen(part: Image.Image) -> np.ndarray:
            a = np.asarray(part)
            high = a >> 8  # in the stripe's own type: no int64 copy
            grey = (high if a.dtype.kind == "u" else high.clip(0, 255)).astype(np.uint8)
            if isinstance(key, int):
                grey[a == key] = 255
            return grey

        return sixteen
    if mode == "F":
        scale = 255.0 if _float_peak(im, rows) <= 1.0 else 1.0

        def floats(part: Image.Image) -> np.ndarray:
            a = np.array(part, dtype=np.float64)  # a stripe at float64 (exact rounding), changed in place
            if scale != 1.0:
                a *= scale
            np.copyto(a, 0.0, where=np.isnan(a))
            np.clip(a, 0.0, 255.0, out=a)  # +-inf too
            return np.rint(a, out=a).astype(np.uint8)

        return floats
    if mode in _ALPHA_MODES or "transparency" in im.info:
        return _over_white
    if mode in ("RGB", "L"):
        return np.asarray
    if mode == "1":
        return lambda part: np.asarray(part.convert("L"))
    return lambda part: np.asarray(part.convert("RGB"))


def _to_pixels(im: Image.Image, *, grey: bool, exif_transpose: bool) -> np.ndarray:
    """Pixels of a loaded image as a new C-contiguous uint8 array: (H, W) when ``grey`` and the
    image has one channel (L, 1, 16-bit, float) and no transparency, else (H, W, 3) RGB; EXIF
    orientation applied."""
    orientation = _orientation(im) if exif_transpose else 1
    w, h = im.size
    grey = grey and im.mode in _GREY_MODES and "transparency" not in im.info
    out = np.empty((h, w) if grey else (h, w, 3), np.uint8)
    rows = max(1, _STRIPE_BYTES // max(1, w * max(4, _pixel_bytes(im.mode))))
    convert = _stripe_converter(im, rows)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        part = convert(im if (y0, y1) == (0, h) else im.crop((0, y0, w, y1)))
        out[y0:y1] = part if grey or part.ndim == 3 else part[..., None]
    if orientation != 1:
        out = np.ascontiguousarray(_ORIENT[orientation](out))
    return out


def luma(rgb: np.ndarray) -> np.ndarray:
    """Pillow's ``convert("L")`` of a uint8 (H, W, 3) array (ITU-R 601-2 luma), in stripes.

    >>> import numpy as np
    >>> luma(np.full((1, 2, 3), (200, 100, 50), np.uint8)).tolist()
    [[124, 124]]
    """
    h, w = rgb.shape[:2]
    out = np.empty((h, w), np.uint8)
    rows = max(1, _STRIPE_BYTES // max(1, 3 * w))
    for y0 in range(0, h, rows):
        stripe = np.ascontiguousarray(rgb[y0 : y0 + rows])
        out[y0 : y0 + rows] = np.asarray(Image.fromarray(stripe, "RGB").convert("L"))
    return out


def _from_array(arr: np.ndarray, name: str, max_pixels: int | None) -> np.ndarray:
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
    if mode == "RGB":
        return np.ascontiguousarray(arr)
    return _to_pixels(Image.fromarray(np.ascontiguousarray(arr), mode), grey=False, exif_transpose=False)


# --------------------------------------------------------------------------------------------
# Public API


class Pixels(NamedTuple):
    """Decoded pixels and how much the decoder shrank them (file pixels per decoded pixel)."""

    array: np.ndarray
    scale: float


def load_pixels(
    source: ImageSource,
    *,
    luma: bool = False,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    draft_min_side: int | None = None,
) -> Pixels:
    """Decode the first frame of ``source`` into uint8 pixels, within the budgets.

    The common body of every loader: ``open_image``, ``open_luma``, ``load_rgb`` and the
    hashing and matching paths. ``array`` is (H, W, 3) RGB, or with ``luma=True`` the (H, W)
    luma plane of a JPEG (decoded without chroma) or of a one-channel file (grey, 16-bit, float:
    converted as for RGB); every other source stays RGB. ``max_bytes`` bounds what the decode holds (``DEFAULT_MAX_BYTES``), ``max_pixels``
    the declared size; both are checked from the header, as is the JPEG scan count
    (``MAX_JPEG_SCANS``), and what exceeds them raises ImageTooLargeError naming the source
    and the limit. Other options as in :func:`open_image`.

    >>> import numpy as np
    >>> load_pixels(np.zeros((2, 3), np.uint8)).array.shape
    (2, 3, 3)
    """
    _check_options(max_pixels, draft_min_side, max_bytes)
    name = source_name(source)
    if isinstance(source, np.ndarray):
        return Pixels(_from_array(source, name, max_pixels), 1.0)
    if isinstance(source, Image.Image):
        _check_size(source.size, name, max_pixels)
        with _decode_errors(name):
            source.load()
            return Pixels(_to_pixels(source, grey=False, exif_transpose=exif_transpose), 1.0)
    with _opened(source, name) as im:
        _check_size(im.size, name, max_pixels)
        full_width = im.size[0]
        full_size = im.size
        with _decode_errors(name):
            scans = _check_scans(im, name)
            # Largest of 1/8, 1/4, 1/2 keeping both sides >= draft_min_side (Pillow picks the
            # largest scale s with size // s >= requested on both axes); no-op for non-JPEG.
            # Pillow's JPEG plugin switches the decoder to luma only for 3-channel (YCbCr or
            # RGB) files; a grey JPEG is "L" already; CMYK keeps its mode.
            size = None if draft_min_side is None else (draft_min_side, draft_min_side)
            if luma and im.format == "JPEG" and im.mode in ("RGB", "L"):
                im.draft("L", size)
            elif size is not None:
                im.draft("RGB", size)
            cost = _decode_cost(im, full_size, scans)
            _check_cost(cost, im, name, max_bytes, scans)
            with _RESERVED.hold(cost):
                im.load()
                pixels = _to_pixels(im, grey=luma, exif_transpose=exif_transpose)
        return Pixels(pixels, full_width / im.size[0])


def _as_image(p: Pixels) -> Image.Image:
    out = Image.fromarray(p.array, "L" if p.array.ndim == 2 else "RGB")
    # How much the decoder shrank the picture, so boxes found in it map back to the file's pixels.
    out.info[DECODE_SCALE] = p.scale
    return out


def open_image(
    source: ImageSource,
    *,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    draft_min_side: int | None = None,
) -> Image.Image:
    """Decode the first frame of ``source`` into an RGB PIL image (loaded; files closed).

    ``source``: a path (str or os.PathLike), bytes / bytearray / memoryview of an encoded
    file, a binary file object (read from its start, left open), a PIL image (its current
    frame; never modified except for being loaded), or a uint8 numpy array (H, W), (H, W, 3)
    or (H, W, 4). ``exif_transpose``: apply the EXIF orientation. ``max_pixels``: refuse
    (ImageTooLargeError) a declared width*height above it, before decoding; ``max_bytes``: refuse
    a decode that would hold more (see ``DEFAULT_MAX_BYTES``); ``None`` = no limit.
    ``draft_min_side``: let the JPEG decoder scale by 1/2, 1/4 or 1/8 while both sides
    stay >= this (ignored for other formats and for PIL/array sources); ``None`` = full decode.

    Raises DecodeError (a ValueError) naming the source and the cause.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGBA", (4, 2), (255, 0, 0, 0)).save(buf, "PNG")
    >>> im = open_image(buf.getvalue())
    >>> im.mode, im.size, im.getpixel((0, 0))
    ('RGB', (4, 2), (255, 255, 255))
    """
    return _as_image(load_pixels(source, exif_transpose=exif_transpose, max_pixels=max_pixels,
                                 max_bytes=max_bytes, draft_min_side=draft_min_side))


def open_luma(
    source: ImageSource,
    *,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    draft_min_side: int | None = None,
) -> Image.Image:
    """Like :func:`open_image`, but a JPEG file comes back as its luma plane (mode ``L``).

    The fast path for PDQ: a YCbCr JPEG's Y channel is the JFIF luma 0.299 R + 0.587 G + 0.114 B,
    so asking the decoder for ``L`` skips the chroma IDCT, upsampling and colour conversion (about
    a third of the decode). A grey JPEG gives its one channel, and so does a one-channel file (grey, 16-bit, float) of
    another format. The result differs from the luma of the decoded RGB only by the decoder's
    rounding. Every other source (other formats, CMYK JPEGs, PIL images, arrays) gives what
    :func:`open_image` gives: an RGB image. Callers branch on ``.mode`` (``"L"`` or ``"RGB"``).
    ``draft_min_side`` as in :func:`open_image`; ``None`` decodes the luma at full size.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (40, 30), (200, 100, 50)).save(buf, "JPEG")
    >>> im = open_luma(buf.getvalue())
    >>> im.mode, im.size, abs(im.getpixel((0, 0)) - round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)) <= 2
    ('L', (40, 30), True)
    """
    return _as_image(load_pixels(source, luma=True, exif_transpose=exif_transpose, max_pixels=max_pixels,
                                 max_bytes=max_bytes, draft_min_side=draft_min_side))


def load_rgb(
    source: ImageSource,
    *,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    draft_min_side: int | None = None,
) -> np.ndarray:
    """Like :func:`open_image`, as a writable C-contiguous uint8 array of shape (H, W, 3).

    A C-contiguous uint8 (H, W, 3) array source is returned as is (not copied).

    >>> import numpy as np
    >>> load_rgb(np.full((2, 2, 4), 0, dtype=np.uint8))[0, 0].tolist()  # transparent -> white
    [255, 255, 255]
    """
    return load_pixels(source, exif_transpose=exif_transpose, max_pixels=max_pixels, max_bytes=max_bytes,
                       draft_min_side=draft_min_side).array


def iter_frames(
    source: ImageSource,
    *,
    exif_transpose: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    draft_min_side: int | None = None,
    max_frames: int | None = None,
) -> Iterator[Image.Image]:
    """Yield every frame of ``source`` as an independent RGB image (animated GIF/PNG/WebP, multi-page TIFF).

    Frames are composited by Pillow (disposal and blending) and streamed one at a time, so
    memory stays that of one frame whatever the frame count; ``max_frames`` stops early. A
    still image or an array yields one frame; a PIL image source is seeked through its frames.
    Options as in :func:`open_image` (the draft applies to single-frame JPEGs only; the budgets
    to each frame); errors are raised when the bad frame is reached. A file opened from a path
    stays open until the iterator is exhausted or closed.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> frames = [Image.new("RGB", (3, 3), c) for c in ("red", "blue")]
    >>> frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    >>> [im.getpixel((0, 0)) for im in iter_frames(buf.getvalue())]
    [(255, 0, 0), (0, 0, 255)]
    """
    _check_options(max_pixels, draft_min_side, max_bytes)
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 0):
        msg = f"max_frames must be a non-negative int or None, not {max_frames!r}"
        raise ValueError(msg)
    return _iter_frames(source, exif_transpose, max_pixels, max_bytes, draft_min_side, max_frames)


def _iter_frames(
    source: ImageSource,
    exif_transpose: bool,
    max_pixels: int | None,
    max_bytes: int | None,
    draft_min_side: int | None,
    max_frames: int | None,
) -> Iterator[Image.Image]:
    name = source_name(source)
    if max_frames == 0:
        return
    if isinstance(source, np.ndarray):
        yield Image.fromarray(_from_array(source, name, max_pixels), "RGB")
        return
    if isinstance(source, Image.Image):
        yield from _frames_of(source, name, exif_transpose, max_pixels, None, 1, max_frames)
        return
    with _opened(source, name) as im:
        _check_size(im.size, name, max_pixels)
        with _decode_errors(name):
            scans = _check_scans(im, name)
            if draft_min_side is not None and getattr(im, "n_frames", 1) == 1:
                im.draft("RGB", (draft_min_side, draft_min_side))
        yield from _frames_of(im, name, exif_transpose, max_pixels, max_bytes, scans, max_frames)


def _frames_of(
    im: Image.Image, name: str, exif_transpose: bool, max_pixels: int | None, max_bytes: int | None,
    scans: int, max_frames: int | None,
) -> Iterator[Image.Image]:
    frames = ImageSequence.Iterator(im)
    full_size = im.size
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
            cost = _decode_cost(frame, full_size, scans)
            _check_cost(cost, frame, name, max_bytes, scans)
            with _RESERVED.hold(cost):
                frame.load()
                out = Image.fromarray(_to_pixels(frame, grey=False, exif_transpose=exif_transpose), "RGB")
        count += 1
        yield out
